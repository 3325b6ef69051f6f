"""The last step before the Cloud Code envelope, for every protocol: the request type and id an
upstream model wants, and the signature-recovery rewrite.

Request types (upstream-as-it-is §5): `image_gen` for image models (no tools, no
systemInstruction, requestId `image_gen/<ms>/<uuid>/12`), `web_search` for search-grounded
requests (a `googleSearch` tool), `agent` for everything else (requestId `agent/<uuid>`).

Signature recovery: a thought signature from another model, account or session makes the upstream
answer 400 ("Invalid `signature` in `thinking` block", "Corrupted thought signature.", a function
call missing its signature); the error triage (accounts/triage.py) recognises that answer, and `without_thinking` is the
request to retry once with: no earlier thinking, no signatures but the documented bypass value on
function calls.
"""

from __future__ import annotations

from trayproxy.json_types import JSON
from trayproxy.protocols.core.turns import Turn, contents, loop_turn_starts_with_thought, merge
from trayproxy.protocols.gemini import BYPASS_SIGNATURE, is_claude

__all__ = ["request_type_for", "for_request_type", "request_id", "without_thinking"]



def is_image_model(model: str) -> bool:
    return "image" in model.lower()


def request_type_for(model: str, request: JSON) -> str:
    if is_image_model(model):
        return "image_gen"
    tools = request.get("tools")
    if isinstance(tools, list) and any(isinstance(t, dict) and "googleSearch" in t for t in tools):
        return "web_search"
    return "agent"


def for_request_type(request: JSON, request_type: str) -> JSON:
    """The request as that type must be sent: image generation takes no tools and no system
    instruction (and does not think aloud)."""
    if request_type != "image_gen":
        return request
    out = {k: v for k, v in request.items() if k not in ("tools", "toolConfig", "systemInstruction")}
    gc = out.get("generationConfig")
    if isinstance(gc, dict) and "thinkingConfig" in gc:
        out["generationConfig"] = {k: v for k, v in gc.items() if k != "thinkingConfig"}
    return out


def request_id(request_type: str, now_ms: int, uid: str) -> str:
    if request_type == "image_gen":
        return f"image_gen/{now_ms}/{uid}/12"
    return f"{request_type}/{uid}"


def _unsigned(part: JSON) -> JSON | None:
    if part.get("thought") is True:
        return None
    if "functionCall" in part:
        return {**part, "thoughtSignature": BYPASS_SIGNATURE} if "thoughtSignature" in part else part
    return {k: v for k, v in part.items() if k != "thoughtSignature"}


def without_thinking(request: JSON, model: str) -> JSON:
    """`request` with the thinking of its earlier turns removed (pure; the input is not changed).

    Thought parts go; a signature on a function call becomes `BYPASS_SIGNATURE`, any other
    signature goes. A model turn left empty goes too (its neighbours merge). Claude with thinking on
    demands that a tool loop's last model turn start with a signed thought, which is gone now, so in
    a tool loop Claude answers this once without thinking (its thinkingConfig is removed)."""
    turns: list[Turn] = []
    for turn in request.get("contents") or []:
        if not isinstance(turn, dict):
            continue
        parts = [p for p in turn.get("parts") or [] if isinstance(p, dict)]
        if turn.get("role") == "model":
            parts = [q for q in (_unsigned(p) for p in parts) if q]
        turns.append(Turn(str(turn.get("role", "user")), parts))
    turns = merge(turns)
    out = {**request, "contents": contents(turns)}
    gc = out.get("generationConfig")
    if is_claude(model) and isinstance(gc, dict) and "thinkingConfig" in gc and not loop_turn_starts_with_thought(turns):
        out["generationConfig"] = {k: v for k, v in gc.items() if k != "thinkingConfig"}
    return out
