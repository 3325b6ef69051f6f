"""What one upstream model takes, applied to the inner request every protocol built (pure): the
last rewrite before the Cloud Code envelope, after the account's output cap.

1. Thinking: models that take levels (the tiered Flash ids, `gemini-3.x-flash-tiered`) get
   `thinkingConfig.thinkingLevel` LOW / MEDIUM / HIGH and never a budget; every other model gets
   `thinkingBudget` and never a level. Google refuses both fields together (400), a level on a
   model without levels (gemini-3.1-pro too), and `-high` / `-low` ids where only the tiered id
   exists (upstream-as-it-is §7). The level is, first found: the one the model name asked for
   (`gemini-3.8-flash-high` resolved to the tiered id: the plan's `level`), the client's own
   `thinkingLevel` (a Gemini client), else the budget the converter derived from OpenAI's
   `reasoning_effort` / Responses' `reasoning.effort`, Anthropic's thinking budget or a Gemini
   client's `thinkingBudget`, mapped by size (`level_for_budget`). No level at all leaves the
   model's adaptive default (medium). A level sent to a model that takes a budget becomes the
   budget of that size (`budget_for_level`).
2. Claude: when tools are declared, function calling runs in `VALIDATED` mode (what the peers
   send for Claude: the calls are checked against the schemas); a client's ANY or NONE stays.

A new dict when anything changes; the input is never touched.
"""

from __future__ import annotations

from typing import Any

from trayproxy.json_types import JSON
from trayproxy.protocols.gemini import is_claude

__all__ = ["LEVELS", "takes_level", "level_for_effort", "level_for_budget", "budget_for_level", "for_model"]

LEVELS = ("LOW", "MEDIUM", "HIGH")
_EFFORT_LEVELS = {"none": "LOW", "minimal": "LOW", "low": "LOW", "medium": "MEDIUM", "high": "HIGH",
                  "xhigh": "HIGH", "max": "HIGH"}
#: Budgets up to these sizes map to LOW and MEDIUM (OpenAI's low 1024 and Anthropic's low 2048 are
#: LOW, medium 8192 is MEDIUM, high 24576 and more are HIGH).
_LOW_UP_TO = 4096
_MEDIUM_UP_TO = 16384
_LEVEL_BUDGETS = {"LOW": 1024, "MEDIUM": 8192, "HIGH": 24576}
_TC_KEYS = ("thinkingConfig", "thinking_config")
_LEVEL_KEYS = ("thinkingLevel", "thinking_level")
_BUDGET_KEYS = ("thinkingBudget", "thinking_budget")


def takes_level(model: str) -> bool:
    """Whether `model` chooses its effort by thinkingLevel (the tiered Flash ids)."""
    return model.lower().endswith("-tiered")


def level_for_effort(effort: str | None) -> str | None:
    """An effort word (a name's suffix, `reasoning_effort`, Anthropic's effort) as a level."""
    return _EFFORT_LEVELS.get(effort.lower()) if isinstance(effort, str) else None


def level_for_budget(budget: int) -> str:
    if budget <= _LOW_UP_TO:
        return "LOW"
    return "MEDIUM" if budget <= _MEDIUM_UP_TO else "HIGH"


def budget_for_level(level: str) -> int:
    return _LEVEL_BUDGETS.get(level.upper(), _LEVEL_BUDGETS["MEDIUM"])


def _get(d: dict[str, Any], keys: tuple[str, ...]) -> Any:
    return next((d[k] for k in keys if k in d), None)


def _level_of(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    v = value.upper()
    if v.startswith("THINKING_LEVEL_"):
        v = v[len("THINKING_LEVEL_"):]
    return v if v in LEVELS else "LOW" if v == "MINIMAL" else None


def _thinking(tc: dict[str, Any], model: str, level: str | None, cap: Any) -> dict[str, Any]:
    asked_level = _level_of(_get(tc, _LEVEL_KEYS))
    budget = _get(tc, _BUDGET_KEYS)
    budget = budget if isinstance(budget, int) and not isinstance(budget, bool) else None
    out = {("includeThoughts" if k == "include_thoughts" else k): v for k, v in tc.items()
           if k not in _LEVEL_KEYS + _BUDGET_KEYS}
    if takes_level(model):
        chosen = level or asked_level or (level_for_budget(budget) if budget is not None and budget >= 0 else None)
        if chosen is not None:
            out["thinkingLevel"] = chosen
        return out
    if budget is not None:
        out["thinkingBudget"] = budget
    elif asked_level is not None:
        b = budget_for_level(asked_level)
        if isinstance(cap, int) and not isinstance(cap, bool) and b >= cap:
            b = cap // 2
        out["thinkingBudget"] = b
    return out


def _validated(request: JSON) -> JSON | None:
    """Claude's toolConfig with VALIDATED calling, when tools are declared and the client chose
    no stricter mode; None when nothing changes."""
    tools = request.get("tools")
    if not isinstance(tools, list) or not any(isinstance(t, dict) and t.get("functionDeclarations")
                                              for t in tools):
        return None
    tc = request.get("toolConfig")
    tc = tc if isinstance(tc, dict) else {}
    fcc = tc.get("functionCallingConfig")
    fcc = fcc if isinstance(fcc, dict) else {}
    if fcc.get("mode", "AUTO") not in ("AUTO", "MODE_UNSPECIFIED"):
        return None
    return {**tc, "functionCallingConfig": {**fcc, "mode": "VALIDATED"}}


def for_model(request: JSON, model: str, level: str | None = None) -> JSON:
    """`request` as `model` takes it (see the module comment); `level`: the level the model name
    asked for (LOW / MEDIUM / HIGH), which wins over what the client's options say."""
    out = request
    gc = request.get("generationConfig")
    tc_key = next((k for k in _TC_KEYS if isinstance(gc, dict) and k in gc), None)
    tiered = takes_level(model)
    if tc_key == "thinkingConfig" and not tiered and isinstance(gc, dict) and isinstance(gc[tc_key], dict) \
            and not any(k in gc[tc_key] for k in _LEVEL_KEYS + ("include_thoughts", "thinking_budget")):
        pass  # already as a budget model takes it (what every converter writes): nothing to do
    elif isinstance(gc, dict) and tc_key is not None and isinstance(gc[tc_key], dict):
        fixed = _thinking(gc[tc_key], model, level if tiered else None, gc.get("maxOutputTokens"))
        if fixed != gc[tc_key] or tc_key != "thinkingConfig":
            gc = {k: v for k, v in gc.items() if k != tc_key}
            gc["thinkingConfig"] = fixed
            out = {**out, "generationConfig": gc}
    elif level is not None and tiered and not (isinstance(gc, dict) and tc_key is not None):
        base = gc if isinstance(gc, dict) else {}
        out = {**out, "generationConfig": {**base, "thinkingConfig": {"thinkingLevel": level}}}
    if is_claude(model):
        tool_config = _validated(out)
        if tool_config is not None:
            out = {**out, "toolConfig": tool_config}
    return out
