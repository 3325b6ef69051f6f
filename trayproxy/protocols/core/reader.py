"""One reader for upstream answers: Gemini frames in, neutral events out.

`FrameReader.read(frame)` unwraps a (possibly `{"response": ...}`-wrapped) GenerateContentResponse,
keeps the latest usage, model version and finish reason, and returns its parts as `Event`s:

- `thought`: a thought part (`text` may be empty; `signature` is the raw signature, if any);
- `call`: a function call (`call_id` None when the upstream gave none; `args` always a dict);
- `text`: any other part (`text` None for non-text parts such as inlineData or executableCode,
  whose raw `part` a protocol renders its own way; `signature` when the part carries one);
- `finish`: a candidate's finishReason (`text` is the reason).

`verdict` says whether an answer ended well; `CallSigner` attributes signatures to function calls
the way the upstream places them (on the call, on the thought before it, or on a signature-only
part right after an unsigned call). Protocol stream machines build on these, nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from trayproxy.json_types import JSON
from trayproxy.protocols.gemini import Usage, unwrap

__all__ = ["Event", "FrameReader", "CallSigner", "REFUSAL", "failure"]


#: Finish reasons that mean the upstream refused or filtered (a legitimate, if unwelcome, end).
REFUSAL = frozenset(
    {
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
        "LANGUAGE",
    }
)
_GOOD = frozenset({"STOP", "FINISH_REASON_UNSPECIFIED", "MAX_TOKENS"}) | REFUSAL


@dataclass(slots=True)
class Event:
    kind: str  # "thought" | "call" | "text" | "finish"
    choice: int = 0
    text: str | None = None
    signature: str | None = None
    call_id: str | None = None
    name: str = ""
    args: JSON = field(default_factory=dict)
    part: JSON = field(default_factory=dict)


def _signature(part: JSON) -> str | None:
    sig = part.get("thoughtSignature") or part.get("thought_signature")
    return sig if isinstance(sig, str) and sig else None


def _event(part: JSON, choice: int) -> Event:
    text = part.get("text")
    if len(part) == 1 and type(text) is str:  # the common part: only text
        return Event("text", choice, text, part=part)
    sig = _signature(part)
    text = text if isinstance(text, str) else None
    if part.get("thought") is True:
        return Event("thought", choice, text or "", sig, part=part)
    fc = part.get("functionCall")
    if isinstance(fc, dict):
        args = fc.get("args")
        if args is None:
            args = {}
        if not isinstance(args, dict):
            args = {"value": args}
        cid = fc.get("id") if isinstance(fc.get("id"), str) and fc.get("id") else None
        name: str = fc["name"] if isinstance(fc.get("name"), str) else ""
        return Event("call", choice, None, sig, cid, name, args, part)
    return Event("text", choice, text, sig, part=part)


class FrameReader:
    """Reads upstream frames; `all_candidates` for protocols that show several choices."""

    __slots__ = ("all_candidates", "usage", "finish", "model_version")

    def __init__(self, *, all_candidates: bool = False) -> None:
        self.all_candidates = all_candidates
        self.usage: Usage | None = None
        self.finish: str | None = None
        self.model_version: str | None = None

    def read(self, frame: Any) -> list[Event]:
        resp = frame if type(frame) is dict and "response" not in frame else unwrap(frame)
        meta = resp.get("usageMetadata")
        if meta is not None and isinstance(meta, dict):
            self.usage = Usage.from_metadata(meta)
        mv = resp.get("modelVersion")
        if mv and isinstance(mv, str):
            self.model_version = mv
        cands = resp.get("candidates")
        if not isinstance(cands, list) or not cands:
            fb = resp.get("promptFeedback")
            block = fb.get("blockReason") if isinstance(fb, dict) else None
            if isinstance(block, str) and block:  # the prompt itself was refused
                self.finish = "SAFETY" if block == "BLOCK_REASON_UNSPECIFIED" else block
                return [Event("finish", 0, self.finish)]
            return []
        events: list[Event] = []
        all_candidates = self.all_candidates
        for pos, cand in enumerate(cands if all_candidates else cands[:1]):
            if not isinstance(cand, dict):
                continue
            if all_candidates:
                idx = cand.get("index")
                choice = idx if isinstance(idx, int) and idx >= 0 else pos
            else:
                choice = pos
            content = cand.get("content")
            parts = content.get("parts") if isinstance(content, dict) else None
            if isinstance(parts, list):
                for part in parts:
                    if isinstance(part, dict):
                        events.append(_event(part, choice))
            fr = cand.get("finishReason")
            if fr and isinstance(fr, str):
                self.finish = fr
                events.append(Event("finish", choice, fr))
        return events


def failure(finish: str | None, *, visible: bool) -> str | None:
    """Why an answer must not pass for a success (a bad finish reason, or nothing visible without a
    refusal or a token limit to explain it); None when it is fine."""
    if finish == "MAX_TOKENS" or finish in REFUSAL:
        return None
    if finish is not None and finish not in _GOOD:
        return f"The model's answer failed upstream (finish reason {finish}). Please retry."
    if not visible:
        if finish is None:
            return "The upstream stream ended without an answer. Please retry."
        return "The model returned an empty answer. Please retry."
    return None


class CallSigner:
    """Which signature belongs to which function call (one per choice)."""

    __slots__ = ("pending", "unsigned")

    def __init__(self) -> None:
        self.pending: str | None = None  # signature of a thought, not yet given to a call
        self.unsigned: str | None = None  # the last call that came without a signature

    def thought(self, sig: str | None) -> None:
        if sig:
            self.pending = sig

    def call(self, call_id: str, sig: str | None) -> str | None:
        """The signature of this call (its own, else the thought's before it), if any."""
        signature = sig or self.pending
        self.pending = None
        self.unsigned = None if signature else call_id
        return signature

    def trailing(self, ev: Event) -> str | None:
        """The call a signature-only part right after an unsigned call belongs to."""
        if ev.signature and self.unsigned and not ev.text:
            cid, self.unsigned = self.unsigned, None
            return cid
        return None


class EventMachine:
    """What every protocol stream machine shares: frames go through one `FrameReader`, each event
    to `_on_event` (by default: `_thought`, `_function_call`, `_plain`); `usage`, `signatures`, `produced_output` and `upstream_finish` are what the
    pipeline reads. Subclasses render the events in their protocol."""

    all_candidates = False

    def __init__(self) -> None:
        self.reader = FrameReader(all_candidates=self.all_candidates)
        self.usage: Usage | None = None
        self.signatures: dict[str, str] = {}
        self.produced_output = False
        self.upstream_finish: str | None = None
        self._closed = False
        self._failed: str | None = None

    def feed(self, resp: JSON) -> list[bytes]:
        out: list[bytes] = []
        if self._closed:
            return out
        events = self.reader.read(resp)
        self.usage = self.reader.usage
        self._on_frame()
        for ev in events:
            self._on_event(ev, out)
        self.upstream_finish = self.reader.finish
        return out

    def _on_frame(self) -> None:
        """Called once per frame, before its events (the reader has read it)."""

    def _on_event(self, ev: Event, out: list[bytes]) -> None:
        if ev.kind == "thought":
            self._thought(out, ev)
        elif ev.kind == "call":
            self._function_call(out, ev)
        elif ev.kind == "text":
            self._plain(out, ev)

    def _thought(self, out: list[bytes], ev: Event) -> None:
        """A thought part (override)."""

    def _function_call(self, out: list[bytes], ev: Event) -> None:
        """A function call (override)."""

    def _plain(self, out: list[bytes], ev: Event) -> None:
        """Any other part (override)."""
