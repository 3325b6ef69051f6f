"""Refusals Google sends inside a 200, told apart from answers (pure).

Google answers some requests with an ordinary stream whose only text is a notice, a STOP and
little usage (upstream-as-it-is §7, research notes §3.5); relayed, the client shows it as the
model's answer. Two kinds:

- the client version: "This version of Antigravity is no longer supported. Please upgrade...",
  "Your current version of Antigravity is out of date...", "Gemini 3.1 Pro is not available on
  this version. Please upgrade to the latest version." -> `Refusal("version", ...)`;
- a retired model: "Gemini 3.5 Flash is no longer available. Please switch to Gemini 3.7 Flash in
  the latest version of Antigravity." -> `Refusal("retired", ..., replacement="Gemini 3.7 Flash")`.

`RefusalWatch` is fed the upstream's (unwrapped) responses in order and says whether the answer
may still be one (`holding`): only while its visible text so far could begin a notice (it starts
like "This version of Antigravity", "Your current version", or a model name followed soon by "is
no longer available" / "is not available on this version") and is short. A thought, a function
call, an image or a text that begins any other way ends the doubt at once, so ordinary answers
lose no time. At the end (`verdict`) the whole text is read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Refusal", "classify_refusal", "RefusalWatch"]

_MAX_NOTICE = 600  # characters; a longer text is an answer
_NAME_ROOM = 120  # a model-name notice says "is ... available" within this many characters
_LEADS = ("This version of Antigravity", "Your current version of Antigravity")
_NAMES = ("Gemini", "Claude", "GPT")
_NAME_NOTICE = re.compile(r"^(?:Gemini|Claude|GPT)[^\n]{0,80}? is (?:no longer available|not available on this version)")
_RETIRED = re.compile(r"^(?P<old>(?:Gemini|Claude|GPT)[^\n]{0,80}?) is no longer available\.?\s*Please switch to "
                      r"(?P<new>[^\n]{1,80}?)(?: in the latest version of Antigravity)?\s*[.!\u2026]*\s*$")
_PER_MODEL = re.compile(r"^(?P<old>(?:Gemini|Claude|GPT)[^\n]{0,80}?) is not available on this version\b")


@dataclass(frozen=True)
class Refusal:
    kind: Literal["version", "retired"]
    text: str  # Google's words
    model: str | None = None  # the model the text names ("Gemini 3.5 Flash"), if it names one
    replacement: str | None = None  # what to switch to ("Gemini 3.7 Flash")


def classify_refusal(text: str) -> Refusal | None:
    """What a whole answer's text is, if it is one of Google's notices rather than an answer."""
    t = " ".join(text.split())
    if not t or len(t) > _MAX_NOTICE:
        return None
    low = t.lower()
    if m := _RETIRED.match(t):
        return Refusal("retired", t, m.group("old").strip(), m.group("new").strip().rstrip(".\u2026"))
    if m := _PER_MODEL.match(t):
        return Refusal("version", t, m.group("old").strip())
    if "antigravity" in low and ("no longer supported" in low or "out of date" in low):
        return Refusal("version", t)
    return None


def _could_begin(t: str) -> bool:
    """Whether the text so far could still begin a notice."""
    for lead in _LEADS + _NAMES:
        if lead.startswith(t) or t.startswith(lead):
            break
    else:
        return False
    if any(t.startswith(lead) for lead in _LEADS):
        return True
    if any(t.startswith(n) for n in _NAMES) and len(t) >= _NAME_ROOM:
        return bool(_NAME_NOTICE.match(t))
    return True


class RefusalWatch:
    """Fed the upstream's responses; see the module comment."""

    def __init__(self) -> None:
        self.text = ""
        self.finish: str | None = None
        self._cleared = False

    @property
    def holding(self) -> bool:
        """The answer may still be a notice: nothing of it should reach the client yet."""
        return not self._cleared

    def feed(self, resp: dict[str, Any]) -> None:
        if self._cleared:
            return
        cands = resp.get("candidates")
        cand = cands[0] if isinstance(cands, list) and cands and isinstance(cands[0], dict) else {}
        content = cand.get("content")
        parts = content.get("parts") if isinstance(content, dict) else None
        for p in parts if isinstance(parts, list) else []:
            if not isinstance(p, dict):
                continue
            if p.get("thought") or any(k in p for k in ("functionCall", "inlineData", "fileData",
                                                        "executableCode", "codeExecutionResult")):
                self._cleared = True  # a notice has none of these
                return
            if isinstance(p.get("text"), str):
                self.text += p["text"]
        fr = cand.get("finishReason")
        if isinstance(fr, str) and fr:
            self.finish = fr
        if len(self.text) > _MAX_NOTICE or (self.text.strip() and not _could_begin(self.text.lstrip())):
            self._cleared = True

    def verdict(self) -> Refusal | None:
        """The refusal the whole answer was, if it was one (call when the stream has ended)."""
        if self._cleared or self.finish not in (None, "STOP"):
            return None
        return classify_refusal(self.text)
