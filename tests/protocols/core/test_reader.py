"""core.reader: frames -> events, the end-of-answer verdict, which signature belongs to which call."""

from __future__ import annotations

from trayproxy.protocols.core.reader import CallSigner, Event, FrameReader, failure


def frame(*parts: dict, finish: str | None = None, **extra: object) -> dict:
    cand: dict = {"content": {"role": "model", "parts": list(parts)}}
    if finish:
        cand["finishReason"] = finish
    return {"response": {"candidates": [cand], **extra}}


def test_parts_become_events_and_the_frame_facts_are_kept() -> None:
    r = FrameReader()
    events = r.read(frame(
        {"text": "hmm", "thought": True, "thoughtSignature": "S1"},
        {"functionCall": {"name": "Read", "args": None, "id": "c1"}},
        {"functionCall": {"name": "Odd", "args": [1, 2]}},
        {"text": "done"},
        {"inlineData": {"mimeType": "image/png", "data": "QQ=="}},
        finish="STOP", modelVersion="gemini-3-flash-002",
        usageMetadata={"promptTokenCount": 3, "candidatesTokenCount": 4},
    ))
    assert [(e.kind, e.text, e.signature, e.call_id, e.name, e.args) for e in events] == [
        ("thought", "hmm", "S1", None, "", {}),
        ("call", None, None, "c1", "Read", {}),
        ("call", None, None, None, "Odd", {"value": [1, 2]}),
        ("text", "done", None, None, "", {}),
        ("text", None, None, None, "", {}),
        ("finish", "STOP", None, None, "", {}),
    ]
    assert events[4].part == {"inlineData": {"mimeType": "image/png", "data": "QQ=="}}
    assert r.finish == "STOP" and r.model_version == "gemini-3-flash-002"
    assert r.usage is not None and (r.usage.prompt, r.usage.output, r.usage.total) == (3, 4, 7)


def test_candidates_and_blocked_prompts() -> None:
    two = {"candidates": [{"index": 1, "content": {"parts": [{"text": "b"}]}},
                          {"index": 0, "content": {"parts": [{"text": "a"}]}}]}
    assert [(e.choice, e.text) for e in FrameReader(all_candidates=True).read(two)] == [(1, "b"), (0, "a")]
    assert [(e.choice, e.text) for e in FrameReader().read(two)] == [(0, "b")]
    r = FrameReader()
    assert [(e.kind, e.text) for e in r.read({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}})] == [
        ("finish", "PROHIBITED_CONTENT")]
    assert r.finish == "PROHIBITED_CONTENT"


def test_failure_verdicts() -> None:
    assert failure("STOP", visible=True) is None
    assert failure("MAX_TOKENS", visible=False) is None and failure("SAFETY", visible=False) is None
    assert "MALFORMED_FUNCTION_CALL" in (failure("MALFORMED_FUNCTION_CALL", visible=True) or "")
    assert failure("STOP", visible=False) == "The model returned an empty answer. Please retry."
    assert failure(None, visible=False) == "The upstream stream ended without an answer. Please retry."


def test_call_signer() -> None:
    s = CallSigner()
    s.thought("T")
    assert s.call("c1", None) == "T"  # the thought's signature goes to the next call, once
    assert s.call("c2", None) is None
    assert s.trailing(Event("text", signature="LATE")) == "c2"  # a signature-only part after it
    assert s.trailing(Event("text", signature="X")) is None
    assert s.call("c3", "OWN") == "OWN"
    assert s.trailing(Event("text", text="words", signature="Y")) is None
