"""core.turns: merging, call/response pairing and repair, thought stripping, the loop rule, which
signatures may be replayed."""

from __future__ import annotations

from trayproxy.protocols.core.turns import (
    MISSING_TOOL_RESULT,
    Turn,
    loop_turn_starts_with_thought,
    merge,
    pair_tool_turns,
    reasoning_key,
    replayable,
    strip_thoughts,
)
from trayproxy.protocols.gemini import BYPASS_SIGNATURE


def call(name: str, cid: str | None) -> dict:
    fc: dict = {"name": name, "args": {}}
    if cid:
        fc["id"] = cid
    return {"functionCall": fc}


def resp(name: str, cid: str | None, text: str = "ok", media: list | None = None, key: str = "result") -> dict:
    return {"functionResponse": {"name": name, "response": {key: text}, "id": cid}, "_media": media or []}


def test_merge_drops_empty_turns_and_joins_same_roles() -> None:
    got = merge([Turn("user", [{"text": "a"}]), Turn("model", []), Turn("user", [{"text": "b"}]),
                 Turn("model", [{"text": "c"}])])
    assert got == [Turn("user", [{"text": "a"}, {"text": "b"}]), Turn("model", [{"text": "c"}])]


def test_pairing_orders_answers_fills_missing_and_notes_strays() -> None:
    img = {"inlineData": {"mimeType": "image/png", "data": "QQ=="}}
    turns = [
        Turn("user", [{"text": "go"}]),
        Turn("model", [call("Read", "t1"), call("Bash", "t2"), call("Grep", "t3")]),
        Turn("user", [{"text": "also"}, resp("", "t2", "two", [img]), resp("Read", "t1", "one"),
                      resp("X", "t9", "stray", key="error"), resp("Bash", "t2", "again")]),
    ]
    got = pair_tool_turns(turns)
    assert got[2].parts == [
        {"functionResponse": {"name": "Read", "response": {"result": "one"}, "id": "t1"}},
        {"functionResponse": {"name": "Bash", "response": {"result": "two"}, "id": "t2"}},  # name from the call
        {"functionResponse": {"name": "Grep", "response": {"error": MISSING_TOOL_RESULT}, "id": "t3"}},
        img,  # media of the answered results, right after the responses
        {"text": "also"},
        {"text": "[Error from tool call X]\nstray"},
        {"text": "[Result of tool call Bash]\nagain"},  # a second answer to one call is a note
    ]


def test_pairing_matches_legacy_calls_by_name_and_a_first_turn_answer_is_a_note() -> None:
    got = pair_tool_turns([
        Turn("user", [resp("", None, "orphan")]),
        Turn("model", [call("lookup", None)]),
        Turn("user", [resp("lookup", None, "found")]),
    ])
    assert got[0].parts == [{"text": "[Result of tool call unknown]\norphan"}]
    assert got[2].parts == [{"functionResponse": {"name": "lookup", "response": {"result": "found"}}}]


def test_strip_thoughts_merges_what_is_left() -> None:
    got = strip_thoughts([Turn("user", [{"text": "a"}]), Turn("model", [{"text": "t", "thought": True}]),
                          Turn("user", [{"text": "b"}])])
    assert got == [Turn("user", [{"text": "a"}, {"text": "b"}])]


def test_loop_rule() -> None:
    signed = {"text": "t", "thought": True, "thoughtSignature": "S"}
    loop = [Turn("user", [{"text": "go"}]), Turn("model", [call("R", "1")]), Turn("user", [resp("R", "1")])]
    assert loop_turn_starts_with_thought(loop) is False
    assert loop_turn_starts_with_thought([loop[0], Turn("model", [signed, call("R", "1")]), loop[2]]) is True
    assert loop_turn_starts_with_thought([loop[0], Turn("model", [{"text": "hi"}]), Turn("user", [{"text": "x"}])])


def test_replayable_by_family_and_origin() -> None:
    assert replayable("tp1.claude.RAW", "claude", remembered=False) == "RAW"
    assert replayable("tp1.gemini3.RAW", "claude", remembered=True) is None  # another family's
    assert replayable("RAW", "claude", remembered=False) is None  # a client's untagged value
    assert replayable("RAW", "claude", remembered=True) == "RAW"  # trayproxy's own memory
    assert replayable(BYPASS_SIGNATURE, "gemini3", remembered=True) is None
    assert replayable("", "gemini3", remembered=True) is None and replayable(None, "x", remembered=True) is None
    assert reasoning_key("a") == reasoning_key("a") != reasoning_key("b")
