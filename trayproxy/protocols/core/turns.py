"""Neutral turns -> Gemini `contents`: merging, tool-call/response pairing and repair, which
thought signatures may be replayed to which model family, and removing thoughts.

A turn is `Turn(role, parts)` with role "user" or "model" and Gemini parts. A protocol's own
mapping produces turns whose function responses may carry a `_media` list (media a tool
returned, placed right after the responses); `pair_tool_turns` removes that key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from trayproxy.json_types import JSON
from trayproxy.protocols.gemini import BYPASS_SIGNATURE, decode_signature

__all__ = [
    "Turn",
    "merge",
    "pair_tool_turns",
    "Pairing",
    "strip_thoughts",
    "loop_turn_starts_with_thought",
    "replayable",
    "reasoning_key",
    "contents",
    "MISSING_TOOL_RESULT",
]


MISSING_TOOL_RESULT = "No result was provided for this tool call (it was interrupted or skipped)."


@dataclass(slots=True)
class Turn:
    role: str  # "user" | "model"
    parts: list[JSON] = field(default_factory=list)


def contents(turns: Iterable[Turn]) -> list[JSON]:
    return [{"role": t.role, "parts": t.parts} for t in turns]


def merge(turns: Iterable[Turn]) -> list[Turn]:
    """Drop empty turns and join consecutive turns of the same role (Gemini wants them alternating)."""
    out: list[Turn] = []
    for t in turns:
        if not t.parts:
            continue
        if out and out[-1].role == t.role:
            out[-1].parts.extend(t.parts)
        else:
            out.append(Turn(t.role, list(t.parts)))
    return out


def _key(fc: JSON) -> str:
    cid = fc.get("id")
    return cid if isinstance(cid, str) and cid else f"legacy:{fc.get('name')}"


def pair_tool_turns(turns: Iterable[Turn]) -> list[Turn]:
    """Make every user turn answer exactly the previous model turn's calls (the turns are merged
    first, as `merge` does).

    Responses go first, in call order; a call with no response gets an error response; a response
    to no call of the previous turn becomes a text note. Media from tool results follows the
    responses. Calls and responses match by id (`legacy:<name>` for id-less legacy calls)."""
    pairing = Pairing()
    for t in turns:
        pairing.add(t)
    return pairing.finish()


class Pairing:
    """`pair_tool_turns` a turn at a time: a conversation's turns are fed in order and `finish`
    gives the paired turns. Between turns its state is a few numbers and lists that only grow,
    so a conversation's known beginning need not be paired again
    (core.prefix_memo: the length of `out`, the open run's role, its parts list and length).
    The input turns and their parts lists are never changed."""

    __slots__ = ("out", "role", "parts", "copied")

    def __init__(self) -> None:
        self.out: list[Turn] = []  # paired turns of the runs that are complete
        # the open run (consecutive turns of one role, merged): its parts list is copied only
        # when something is added to it, and then only grows
        self.role: str | None = None
        self.parts: list[JSON] = []
        self.copied = False

    def add(self, t: Turn) -> None:
        if not t.parts:
            return
        if t.role == self.role:
            if not self.copied:
                self.parts, self.copied = list(self.parts), True
            self.parts.extend(t.parts)
            return
        if self.role is not None:
            self._close()
        self.role, self.parts, self.copied = t.role, t.parts, False

    @classmethod
    def resume(cls, out: list[Turn], n_out: int, role: str | None, parts: list[JSON]) -> Pairing:
        """A pairing in a state seen before: `len(out)` was `n_out` (the list only grows), the
        open run had `role` and `parts` (a copy, the pairing's own from now on)."""
        p = cls()
        p.out = out[:n_out]
        p.role, p.parts, p.copied = role, parts, True
        return p

    def finish(self) -> list[Turn]:
        """The paired turns (the open run closed)."""
        if self.role is not None:
            self._close()
            self.role, self.parts, self.copied = None, [], False
        return self.out

    def _close(self) -> None:
        role, parts, out = self.role, self.parts, self.out
        if role == "model":
            out.append(Turn("model", parts if self.copied else list(parts)))
            return
        prev = out[-1] if out and out[-1].role == "model" else None
        calls = [p["functionCall"] for p in prev.parts if "functionCall" in p] if prev else []
        wanted = {_key(c) for c in calls}
        answered: dict[str, JSON] = {}
        media: list[JSON] = []
        others: list[JSON] = []
        for p in parts:
            fr = p.get("functionResponse")
            if fr is None:
                others.append(p)
                continue
            key = _key(fr)
            extra = p.get("_media")
            if key in wanted and key not in answered:
                kept = dict(fr)
                if "id" in kept and kept["id"] is None:
                    del kept["id"]
                answered[key] = kept
                if extra:
                    media.extend(extra)
            else:
                resp = fr.get("response") or {}
                label = fr.get("name") or fr.get("id") or "unknown"
                prefix = "Error from" if "error" in resp and "result" not in resp else "Result of"
                body = resp.get("result", resp.get("error", ""))
                others.append({"text": f"[{prefix} tool call {label}]\n{body}"})
                if extra:
                    others.extend(extra)
        responses: list[JSON] = []
        for c in calls:
            got = answered.get(_key(c)) if answered else None
            if got is not None:
                got["name"] = c["name"]
                responses.append({"functionResponse": got})
            else:
                missing: JSON = {"name": c["name"], "response": {"error": MISSING_TOOL_RESULT}}
                if c.get("id"):
                    missing["id"] = c["id"]
                responses.append({"functionResponse": missing})
        out.append(Turn("user", responses + media + others if media or others else responses))


def strip_thoughts(turns: list[Turn]) -> list[Turn]:
    """The turns without thought parts (a turn left empty disappears, its neighbours merge)."""
    return merge(Turn(t.role, [p for p in t.parts if not p.get("thought")]) for t in turns)


def loop_turn_starts_with_thought(turns: list[Turn]) -> bool:
    """Anthropic's rule with thinking on: when the conversation ends in a tool loop, the last
    model turn must start with a signed thought. True when the rule is met or does not apply."""
    if len(turns) < 2 or turns[-1].role != "user" or turns[-2].role != "model":
        return True
    last = turns[-2]
    if not any("functionCall" in p for p in last.parts):
        return True
    first = last.parts[0]
    return bool(first.get("thought") and first.get("thoughtSignature"))


def replayable(value: Any, family: str, *, remembered: bool) -> str | None:
    """The raw signature to send to an upstream of `family`, or None when it must not be sent.

    Tagged values (`tp1.<family>.<raw>`) go only to the family that issued them. Untagged ones are
    trusted only when they come from trayproxy's own memory (`remembered`): a client may hold a
    real Anthropic signature or anything else."""
    if not isinstance(value, str) or not value or value == BYPASS_SIGNATURE:
        return None
    fam, raw = decode_signature(value)
    if fam is None:
        return raw if remembered else None
    return raw if fam == family else None


def reasoning_key(text: str) -> str:
    """The signature-memory key under which the signature of a reasoning text is remembered."""
    return "reasoning:" + hashlib.sha256(text.encode()).hexdigest()[:32]
