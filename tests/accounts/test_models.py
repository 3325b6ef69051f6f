"""Resolution of client model names against one account's catalog: every step and family rule."""

from __future__ import annotations

import pytest

from trayproxy.accounts.models import (
    DEFAULT_CATALOG,
    VALID_MODEL_RE,
    mapping_entry,
    name_from_display,
    newest_of_family,
    resolve,
    valid_pattern,
)

# A late-2026 catalog (the ids peers saw), and Google's forwarding rules for retired ids.
SERVED = [
    "gemini-3.8-flash-high", "gemini-3.8-flash-low", "gemini-3.5-flash-lite", "gemini-3-flash-agent",
    "gemini-pro-agent", "gemini-3.1-pro-low", "gemini-3.1-flash-image", "gemini-3.1-flash-lite",
    "claude-sonnet-4-6", "claude-sonnet-4-6-thinking", "claude-opus-4-6-thinking", "gpt-oss-120b-medium",
]
FORWARD = {"gemini-3.1-pro-high": "gemini-pro-agent", "gemini-3-pro-high": "gemini-3.1-pro-high",
           "gemini-2.5-flash": "gemini-3.8-flash-high"}


def target(name: str, served: list[str] | None = SERVED, **kw: object) -> str | None:
    r = resolve(name, served, deprecated=kw.pop("deprecated", FORWARD), **kw)  # type: ignore[arg-type]
    return r.target if r else None


def how(name: str, served: list[str] | None = SERVED, **kw: object) -> str | None:
    r = resolve(name, served, deprecated=kw.pop("deprecated", FORWARD), **kw)  # type: ignore[arg-type]
    return r.how if r else None


def test_a_served_name_is_itself() -> None:
    for name in SERVED:
        assert target(name) == name and how(name) == "exact"
    assert target("models/gemini-3.8-flash-low") == "gemini-3.8-flash-low"


def test_google_forwarding_rules_are_followed_over_several_hops() -> None:
    assert target("gemini-3.1-pro-high") == "gemini-pro-agent"
    assert how("gemini-3.1-pro-high") == "forwarded"
    r = resolve("gemini-3-pro-high", SERVED, deprecated=FORWARD)
    assert r is not None and r.target == "gemini-pro-agent"
    assert "gemini-3-pro-high -> gemini-3.1-pro-high -> gemini-pro-agent" in r.why


def test_a_forwarding_rule_to_an_unserved_id_falls_back_to_that_ids_family() -> None:
    served = [m for m in SERVED if m not in ("gemini-3.8-flash-high", "gemini-3-flash-agent")]
    r = resolve("gemini-2.5-flash", served, deprecated=FORWARD)
    assert r is not None and r.target == "gemini-3.8-flash-low" and r.how == "family"
    assert "does not serve" in r.why


def test_forwarding_loops_end() -> None:
    assert target("a-x", deprecated={"a-x": "b-x", "b-x": "a-x"}) is None


@pytest.mark.parametrize("name, expected", [
    ("gemini-3-flash", "gemini-3.8-flash-high"),  # an old version -> the newest flash
    ("gemini-3.8-flash", "gemini-3.8-flash-high"),  # a version Gemini CLI invents
    ("gemini-3-flash-preview", "gemini-3.8-flash-high"),
    ("gemini-3-flash-low", "gemini-3.8-flash-low"),  # the effort suffix is kept
    ("gemini-2.5-flash-lite", "gemini-3.5-flash-lite"),  # lite stays lite, newest version
    ("gemini-3-pro-preview", "gemini-pro-agent"),  # unversioned agent id counts as newest
    ("gemini-3-pro-low", "gemini-3.1-pro-low"),
    ("gemini-2.5-pro", "gemini-pro-agent"),
    ("gemini-3-pro-image", "gemini-3.1-flash-image"),  # image by family, never a text model
])
def test_gemini_family_rules(name: str, expected: str) -> None:
    assert target(name) == expected and how(name) == "family"


@pytest.mark.parametrize("name, expected", [
    ("claude-opus-4-8", "claude-opus-4-6-thinking"),  # Claude Code's newest opus
    ("claude-opus-4-5-20251101", "claude-opus-4-6-thinking"),  # dated
    ("claude-sonnet-4-5", "claude-sonnet-4-6"),
    ("claude-sonnet-4-5-20250929", "claude-sonnet-4-6"),
    ("claude-3-7-sonnet-20250219", "claude-sonnet-4-6"),
    ("claude-sonnet-4-5-thinking", "claude-sonnet-4-6-thinking"),  # -thinking kept where it exists
    ("claude-haiku-4-5-20251001", "gemini-3.8-flash-high"),  # small names -> a fast model
    ("claude-3-5-haiku-20241022", "gemini-3.8-flash-high"),
])
def test_claude_family_rules(name: str, expected: str) -> None:
    assert target(name) == expected


@pytest.mark.parametrize("name, expected", [
    ("gpt-4o-mini", "gemini-3.8-flash-high"),
    ("gpt-5-mini", "gemini-3.8-flash-high"),
    ("o4-mini", "gemini-3.8-flash-high"),
    ("gpt-4o", "gemini-3.8-flash-high"),
    ("gpt-5", "gemini-pro-agent"),
    ("gpt-5.1-codex", "gemini-pro-agent"),
    ("gpt-5.2-codex-max", "gemini-pro-agent"),
    ("o3", "gemini-pro-agent"),
    ("gpt-4.1", "gemini-pro-agent"),
    ("gpt-5-codex-low", "gemini-3.1-pro-low"),  # effort suffix kept
    ("gpt-oss-120b-medium", "gpt-oss-120b-medium"),
    ("gpt-oss-120b", "gpt-oss-120b-medium"),
])
def test_openai_names_by_size(name: str, expected: str) -> None:
    assert target(name) == expected


def test_families_follow_what_the_account_serves_not_a_list() -> None:
    free = ["gemini-3.5-flash-lite", "gemini-3.1-pro-low"]
    assert target("gemini-3-flash", free) == "gemini-3.5-flash-lite"  # no flash: lite is the fast model
    assert target("claude-haiku-4-5", free) == "gemini-3.5-flash-lite"
    assert target("gpt-5.1-codex", free) == "gemini-3.1-pro-low"
    r = resolve("claude-opus-4-8", free)
    assert r is not None and r.target == "gemini-3.1-pro-low" and r.rank == 2  # another family: ranked last
    assert target("claude-opus-4-8", ["claude-sonnet-4-6", "gemini-pro-agent"]) == "claude-sonnet-4-6"
    assert target("gemini-3-pro-image", free) is None  # no image model: not placed on a text model
    assert target("gpt-oss-120b", free) is None


def test_names_no_rule_places_are_not_resolved() -> None:
    for name in ("llama3", "deepseek-chat", "mistral-large", "gemini-embedding-001"):
        assert target(name) is None


def test_newer_versions_win_and_the_upstreams_order_breaks_ties() -> None:
    served = ["gemini-3.7-flash-high", "gemini-3.8-flash-high", "gemini-3.10-flash-high"]
    assert target("gemini-flash", served) == "gemini-3.10-flash-high"
    tie = ["gemini-3.8-flash-agent", "gemini-3.8-flash"]
    assert target("gemini-3-flash", tie, order=["gemini-3.8-flash-agent"]) == "gemini-3.8-flash-agent"
    assert target("gemini-3-flash", tie, order=["gemini-3.8-flash"]) == "gemini-3.8-flash"


def test_mapping_exact_then_most_specific_wildcard() -> None:
    mapping = {"gpt-4o": "gemini-3.8-flash-low", "gpt-*": "gemini-3.5-flash-lite", "gpt-4*": "gemini-3.1-pro-low",
               "*": "claude-sonnet-4-6"}
    assert mapping_entry("gpt-4o", mapping) == ("gpt-4o", "gemini-3.8-flash-low")
    assert target("gpt-4o", mapping=mapping) == "gemini-3.8-flash-low"
    assert target("gpt-4.1-mini", mapping=mapping) == "gemini-3.1-pro-low"
    assert target("gpt-3.5", mapping=mapping) == "gemini-3.5-flash-lite"
    assert target("claude-opus-4", mapping=mapping) == "claude-sonnet-4-6"
    assert how("gpt-4o", mapping=mapping) == "mapping"


def test_a_mapping_target_is_placed_like_any_name() -> None:
    r = resolve("fast", SERVED, deprecated=FORWARD, mapping={"fast": "gemini-3-pro-high"})
    assert r is not None and r.target == "gemini-pro-agent" and r.how == "mapping"
    assert "model_mapping 'fast' -> gemini-3-pro-high" in r.why and "Google forwards" in r.why
    # a target this account cannot place makes the account ineligible for the name
    assert resolve("fast", SERVED, mapping={"fast": "my-finetune"}) is None


def test_an_unread_catalog_resolves_against_the_defaults() -> None:
    r = resolve("claude-haiku-4-5", None)
    assert r is not None and r.target in DEFAULT_CATALOG and r.how == "family default"
    assert "not been read" in r.why


def test_model_names_and_patterns_that_could_traverse_urls_are_invalid() -> None:
    for bad in ("../../v1/files", "x?key=1", "x#frag", "a b", "", "%2F"):
        assert not VALID_MODEL_RE.match(bad) or ".." in bad
        assert not valid_pattern(bad)
    assert valid_pattern("gpt-*") and valid_pattern("*") and valid_pattern("claude-*-thinking")


def test_a_family_rule_avoids_ids_that_cannot_answer_now_but_an_asked_id_stays() -> None:
    resting = frozenset({"gemini-3.8-flash-high"})
    r = resolve("gemini-3.9-flash", SERVED, resting=resting)
    assert r is not None and r.target == "gemini-3.8-flash-low" and r.how == "family" and not r.pinned
    r = resolve("gemini-2.5-flash", SERVED, deprecated=FORWARD, resting=resting)  # forwarded to a resting id
    assert r is not None and r.target == "gemini-3.8-flash-low" and "cannot answer" in r.why
    r = resolve("gemini-3.8-flash-high", SERVED, resting=resting)  # asked by id: it stays, pinned
    assert r is not None and r.target == "gemini-3.8-flash-high" and r.pinned
    everything = frozenset(m for m in SERVED if "flash" in m)
    r = resolve("gemini-3.9-flash", SERVED, resting=everything)  # all resting: the best one still
    assert r is not None and r.target == "gemini-3.8-flash-high"


def test_a_resting_id_is_not_swapped_for_its_thinking_twin() -> None:
    r = resolve("claude-sonnet-4-5", SERVED, resting=frozenset({"claude-sonnet-4-6"}))
    assert r is not None and r.target == "claude-sonnet-4-6"  # it waits; thinking is another behaviour


# -- tiered Flash ids (upstream-as-it-is §7) -------------------------------------------------------
SEPT = ["gemini-3.8-flash-tiered", "gemini-3.7-flash-tiered", "gemini-3.6-flash-high", "gemini-3.5-flash-lite",
        "gemini-3-flash", "gemini-pro-agent", "gemini-3.1-pro-low", "claude-sonnet-4-6"]


@pytest.mark.parametrize("name,target,level", [
    ("gemini-3.8-flash-high", "gemini-3.8-flash-tiered", "HIGH"),
    ("gemini-3.8-flash-low", "gemini-3.8-flash-tiered", "LOW"),
    ("gemini-3.8-flash-medium", "gemini-3.8-flash-tiered", "MEDIUM"),
    ("gemini-3.7-flash-high", "gemini-3.7-flash-tiered", "HIGH"),  # its own tiered id, not the newest
    ("gemini-3.8-flash-tiered", "gemini-3.8-flash-tiered", None),  # the id itself: its adaptive default
    ("gemini-3.8-flash", "gemini-3.8-flash-tiered", None),
    ("gemini-3.6-flash-high", "gemini-3.6-flash-high", None),  # listed as it is: exact
    ("gemini-3.9-flash-high", "gemini-3.8-flash-tiered", "HIGH"),  # not served: the newest flash, level kept
    ("gpt-5-mini", "gemini-3.8-flash-tiered", None),
])
def test_tiered_ids_take_the_effort_as_a_level(name: str, target: str, level: str | None) -> None:
    r = resolve(name, SEPT)
    assert r is not None and (r.target, r.level) == (target, level), r


def test_a_suffixed_name_is_not_sent_to_an_older_flash_that_has_the_suffix() -> None:
    r = resolve("gemini-3.8-flash-high", SEPT)
    assert r is not None and r.target == "gemini-3.8-flash-tiered" and r.pinned and "tiered" in r.why
    without = [m for m in SEPT if "3.8" not in m]  # no 3.8 at all: the newest flash, still by level
    r2 = resolve("gemini-3.8-flash-high", without)
    assert r2 is not None and r2.target == "gemini-3.7-flash-tiered" and r2.level == "HIGH"


def test_a_mapping_target_with_a_suffix_gives_its_level() -> None:
    r = resolve("gpt-4o", SEPT, mapping={"gpt-4o": "gemini-3.8-flash-low"})
    assert r is not None and r.target == "gemini-3.8-flash-tiered" and r.level == "LOW" and r.how == "mapping"


def test_the_built_in_defaults_hold_no_retired_ids() -> None:
    retired = {"gemini-2.5-flash", "gemini-3-pro-high", "gemini-3-pro-low", "gemini-3.1-pro-high",
               "claude-sonnet-4-6-thinking", "gemini-3-pro-image", "gemini-3.8-flash-high", "gemini-3.8-flash-low"}
    assert not retired & set(DEFAULT_CATALOG)
    r = resolve("gemini-3.8-flash-high", None)
    assert r is not None and r.target == "gemini-3.8-flash-tiered" and r.level == "HIGH" and r.how == "exact default"


def test_display_names_become_placeable_names() -> None:
    assert name_from_display("Gemini 3.7 Flash") == "gemini-3.7-flash"
    assert name_from_display("Claude Sonnet 4.6") == "claude-sonnet-4-6"
    assert newest_of_family("gemini-3.8-flash-tiered", ["gemini-3.7-flash-tiered", "gemini-3-flash"])
    assert not newest_of_family("gemini-3.5-flash-low", ["gemini-3.7-flash-tiered"])
