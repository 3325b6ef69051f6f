from __future__ import annotations

from trayproxy.accounts.models import VALID_MODEL_RE, resolve_model


def test_builtin_and_family_rules() -> None:
    assert resolve_model("claude-3-5-sonnet-20241022") == "claude-sonnet-4-6"
    assert resolve_model("claude-opus-4") == "claude-opus-4-6-thinking"
    assert resolve_model("claude-opus-4-7-20270101") == "claude-opus-4-6-thinking"
    assert resolve_model("claude-haiku-4-5-20251001") == "gemini-2.5-flash"
    assert resolve_model("gemini-3-pro") == "gemini-3-pro-preview"
    assert resolve_model("gemini-2.5-flash-mini-test") == "gemini-2.5-flash-mini-test"
    assert resolve_model("unknown-model") == "unknown-model"
    assert resolve_model("models/gemini-3-flash") == "gemini-3-flash"


def test_custom_mapping_exact_then_most_specific_wildcard() -> None:
    custom = {"gpt-4o": "gemini-3-flash", "gpt-*": "gemini-2.5-flash", "gpt-4*": "gemini-3-pro-high", "*": "x"}
    assert resolve_model("gpt-4o", custom) == "gemini-3-flash"
    assert resolve_model("gpt-4.1-mini", custom) == "gemini-3-pro-high"
    assert resolve_model("gpt-3.5", custom) == "gemini-2.5-flash"
    assert resolve_model("claude-opus-4", custom) == "x"


def test_model_names_that_could_traverse_urls_are_invalid() -> None:
    for bad in ("../../v1/files", "x?key=1", "x#frag", "a b", "", "%2F"):
        assert not VALID_MODEL_RE.match(bad) or ".." in bad
