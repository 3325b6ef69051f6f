"""protocols/core/model_rules.py: what one upstream model takes, after every protocol's converter.

Goldens in tests/protocols/golden/model_rules/*.json: a client body of one protocol (`anthropic`,
`openai_chat`, `responses`, `gemini`), the upstream model and the level its name asked for ->
the exact inner request sent (the converter's output with the model's rules applied).
`TRAYPROXY_REGEN_GOLDEN=1` rewrites `expected` (review the diff). Independent checks: the fake
upstream's own rules (written from the reference, tests/fakes) accept every golden's request, and
the properties below hold for any input.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fakes import FakeCloudCode, GoogleError
from trayproxy.protocols import anthropic, gemini_native, openai_chat, openai_responses
from trayproxy.protocols.core.model_rules import (
    budget_for_level,
    for_model,
    level_for_budget,
    level_for_effort,
    takes_level,
)

GOLDEN = Path(__file__).parent.parent / "golden" / "model_rules"
REGEN = os.environ.get("TRAYPROXY_REGEN_GOLDEN") == "1"
CASES = sorted(GOLDEN.glob("*.json"))


def _convert(case: dict[str, Any]) -> dict[str, Any]:
    body, model = orjson.loads(orjson.dumps(case["body"])), case["model"]
    proto = case["protocol"]
    if proto == "anthropic":
        req = anthropic.to_gemini(body, upstream_model=model, signatures={})
    elif proto == "openai_chat":
        req = openai_chat.to_gemini(body, upstream_model=model, signatures={})
    elif proto == "responses":
        req = openai_responses.to_gemini(body, upstream_model=model, signatures={}, history=None)
    else:
        req = gemini_native.to_upstream(body, model)
    return for_model(req, model, case.get("level"))


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_model_rules_golden(path: Path) -> None:
    case = orjson.loads(path.read_bytes())
    before = orjson.dumps(case["body"])
    actual = _convert(case)
    assert orjson.dumps(case["body"]) == before  # nothing the caller holds is changed
    if REGEN:
        case["expected"] = actual
        path.write_bytes(orjson.dumps(case, option=orjson.OPT_INDENT_2) + b"\n")
    assert "expected" in case, f"{path.name} has no expected output; regenerate and review it"
    assert actual == case["expected"]


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_the_fake_upstream_accepts_every_golden(path: Path) -> None:
    """Google (the fake's model of it) refuses both fields, a level on a model without levels and
    'minimal': none of the goldens' requests trips that."""
    case = orjson.loads(path.read_bytes())
    fake = FakeCloudCode()
    gc = case["expected"].get("generationConfig") or {}
    spec = fake.models.get(case["model"])
    try:
        level = fake._thinking_level(case["model"], spec, gc.get("thinkingConfig") or {})
    except GoogleError as e:  # pragma: no cover - the assertion says what
        raise AssertionError(f"{path.name}: the upstream would refuse it: {e.message}") from e
    if takes_level(case["model"]) and case.get("level"):
        assert level == case["level"]


def test_the_named_cases_say_what_the_issue_asks() -> None:
    by = {p.stem: orjson.loads(p.read_bytes())["expected"] for p in CASES}

    def tc(name: str) -> dict[str, Any]:
        return dict(by[name]["generationConfig"]["thinkingConfig"])

    assert tc("anthropic_budget_to_level")["thinkingLevel"] == "MEDIUM"
    assert tc("anthropic_large_budget_to_high")["thinkingLevel"] == "HIGH"
    assert tc("anthropic_adaptive_low_effort")["thinkingLevel"] == "LOW"
    assert tc("openai_chat_effort_high")["thinkingLevel"] == "HIGH"
    assert "thinkingLevel" not in tc("openai_chat_no_effort_adaptive")  # the model's adaptive default
    assert tc("openai_chat_effort_minimal")["thinkingLevel"] == "LOW"
    assert tc("openai_chat_name_level_wins")["thinkingLevel"] == "HIGH"  # the name beats reasoning_effort low
    assert "thinkingLevel" not in tc("openai_chat_budget_model_keeps_budget")
    assert tc("openai_chat_budget_model_keeps_budget")["thinkingBudget"] == 24576
    assert tc("responses_effort_low")["thinkingLevel"] == "LOW"
    assert tc("gemini_level_to_budget_model") == {"includeThoughts": True, "thinkingBudget": 4096}
    assert tc("gemini_both_fields_to_tiered") == {"thinkingLevel": "LOW"}
    assert tc("gemini_snake_case_budget_to_tiered") == {"includeThoughts": True, "thinkingLevel": "LOW"}
    assert tc("gemini_name_level_without_config") == {"thinkingLevel": "MEDIUM"}
    assert by["claude_tools_validated"]["toolConfig"]["functionCallingConfig"]["mode"] == "VALIDATED"
    assert by["claude_tool_choice_auto_validated"]["toolConfig"]["functionCallingConfig"]["mode"] == "VALIDATED"
    assert by["claude_tool_choice_any_kept"]["toolConfig"]["functionCallingConfig"]["mode"] == "ANY"
    assert "toolConfig" not in by["claude_without_tools_unchanged"]


def test_levels_budgets_and_efforts() -> None:
    assert takes_level("gemini-3.8-flash-tiered") and not takes_level("gemini-3.1-pro-low")
    assert not takes_level("gemini-3.8-flash-high") and not takes_level("claude-sonnet-4-6")
    assert [level_for_budget(b) for b in (0, 1024, 2048, 4096, 8192, 16000, 24576, 32768)] == [
        "LOW", "LOW", "LOW", "LOW", "MEDIUM", "MEDIUM", "HIGH", "HIGH"]
    assert [level_for_effort(e) for e in ("minimal", "low", "medium", "high", "xhigh", "max", None, "odd")] == [
        "LOW", "LOW", "MEDIUM", "HIGH", "HIGH", "HIGH", None, None]
    assert [budget_for_level(x) for x in ("LOW", "medium", "HIGH")] == [1024, 8192, 24576]


_TC = st.fixed_dictionaries({}, optional={
    "thinkingLevel": st.sampled_from(["LOW", "MEDIUM", "HIGH", "minimal", "low", "THINKING_LEVEL_HIGH", "odd"]),
    "thinkingBudget": st.integers(min_value=-1, max_value=40000),
    "includeThoughts": st.booleans(),
})


@settings(max_examples=200, deadline=None)
@given(tc=_TC, model=st.sampled_from(["gemini-3.8-flash-tiered", "gemini-3.1-pro-low", "gemini-3-flash",
                                      "claude-opus-4-6-thinking"]),
       level=st.sampled_from([None, "LOW", "MEDIUM", "HIGH"]))
def test_never_both_fields_and_a_level_only_where_levels_are_taken(tc: dict[str, Any], model: str,
                                                                   level: str | None) -> None:
    req = {"contents": [], "generationConfig": {"maxOutputTokens": 8192, "thinkingConfig": tc}}
    out = for_model(req, model, level)
    got = out["generationConfig"]["thinkingConfig"]
    assert not ("thinkingLevel" in got and "thinkingBudget" in got)
    if takes_level(model):
        assert "thinkingBudget" not in got
        assert got.get("thinkingLevel") in (None, "LOW", "MEDIUM", "HIGH")
        if level:
            assert got["thinkingLevel"] == level
    else:
        assert "thinkingLevel" not in got
        assert got.get("thinkingBudget", 0) < 8192 or got.get("thinkingBudget") == tc.get("thinkingBudget")
    assert req["generationConfig"]["thinkingConfig"] is tc  # the input is untouched
