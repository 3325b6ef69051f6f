"""Reading fetchAvailableModels into an account's catalog, keeping it across restarts, and the
pool choosing only accounts whose catalog serves the resolved id."""

from __future__ import annotations

from pathlib import Path

from tests.accounts.test_pool import make_pool
from tests.conftest import MemoryKeyring
from trayproxy.accounts.catalog import apply_catalog, parse_catalog, pool_models, resolve_pool, search_models
from trayproxy.accounts.pool import Unavailable
from trayproxy.accounts.store import Account, AccountStore, ModelQuota
from trayproxy.secrets import SecretStore

ANSWER = {
    "models": {
        "gemini-3.8-flash-high": {"displayName": "Gemini 3.8 Flash (High)", "model": "MODEL_X",
                                  "apiProvider": "API_PROVIDER_GOOGLE_GEMINI", "maxTokens": 1048576,
                                  "maxOutputTokens": 65536, "thinkingBudget": 24576,
                                  "quotaInfo": {"remainingFraction": 0.75, "resetTime": "2026-12-01T10:00:00Z"}},
        "claude-opus-4-6-thinking": {"displayName": "Claude Opus 4.6 (Thinking)", "maxTokens": "200000",
                                     "maxOutputTokens": 64000, "apiProvider": "API_PROVIDER_ANTHROPIC_VERTEX",
                                     "quotaInfo": {"resetTime": "2026-12-01T10:00:00Z"}},  # zero is omitted
        "gpt-oss-120b-medium": {"displayName": "GPT-OSS 120B (Medium)"},  # no quota info at all
        "chat_20706": {"displayName": "internal"},  # not a model a client can name
        "broken": "not an object",
    },
    "deprecatedModelIds": {"gemini-3.1-pro-high": {"newModelId": "gemini-pro-agent"},
                           "gemini-2.5-flash": {"newModelId": "gemini-3.8-flash-high"},
                           "odd": {"newModelId": 5}, "self": {"newModelId": "self"}},
    "defaultAgentModelId": "gemini-3.8-flash-high",
    "agentModelSorts": [{"displayName": "Recommended", "groups": [
        {"modelIds": ["claude-opus-4-6-thinking", "gemini-3.8-flash-high"]}, {"modelIds": ["gemini-3.8-flash-high",
                                                                                          "gpt-oss-120b-medium"]}]}],
}


def test_parse_reads_ids_limits_quota_forwarding_default_and_order() -> None:
    cat = parse_catalog(ANSWER)
    assert set(cat.models) == {"gemini-3.8-flash-high", "claude-opus-4-6-thinking", "gpt-oss-120b-medium"}
    flash = cat.models["gemini-3.8-flash-high"]
    assert flash.display_name == "Gemini 3.8 Flash (High)" and flash.provider == "API_PROVIDER_GOOGLE_GEMINI"
    assert flash.max_tokens == 1048576 and flash.max_output_tokens == 65536 and flash.remaining == 0.75
    assert flash.reset_time is not None
    opus = cat.models["claude-opus-4-6-thinking"]
    assert opus.remaining is None and opus.max_tokens == 200000  # no fraction: unknown (§7), int64 as a string
    assert cat.models["gpt-oss-120b-medium"].remaining is None
    assert cat.deprecated == {"gemini-3.1-pro-high": "gemini-pro-agent", "gemini-2.5-flash": "gemini-3.8-flash-high"}
    assert cat.default_model == "gemini-3.8-flash-high"
    assert cat.order == ["claude-opus-4-6-thinking", "gemini-3.8-flash-high", "gpt-oss-120b-medium"]
    assert parse_catalog(None).models == {} and parse_catalog({"models": []}).models == {}


def test_the_catalog_is_saved_with_the_account_and_read_back(tmp_path: Path) -> None:
    secrets = SecretStore(tmp_path / "s.json", backend=MemoryKeyring())
    store = AccountStore(tmp_path / "accounts.json", secrets)
    acc = Account(id="a", email="a@example.com", project="p")
    apply_catalog(acc, parse_catalog(ANSWER), now=123.0)
    store.put(acc)
    back = AccountStore(tmp_path / "accounts.json", secrets).get("a")
    assert back is not None and back.quota_updated == 123.0
    assert back.models == acc.models and back.deprecated_models == acc.deprecated_models
    assert back.default_model == "gemini-3.8-flash-high" and back.model_order == acc.model_order
    # an old record without the new fields still loads
    (tmp_path / "old.json").write_text('{"version": 1, "accounts": [{"id": "x", "email": "x@e", '
                                       '"models": {"gemini-3-flash": {"remaining": 0.5}}}]}')
    old = AccountStore(tmp_path / "old.json", secrets).get("x")
    assert old is not None and old.models["gemini-3-flash"].remaining == 0.5 and old.deprecated_models == {}


def test_pool_models_merges_accounts() -> None:
    a = Account(id="a", email="a@e", project="p", models={"m1": ModelQuota(display_name=None)})
    b = Account(id="b", email="b@e", project="p", models={"m1": ModelQuota(display_name="M One"), "m2": ModelQuota()})
    assert list(pool_models([a, b])) == ["m1", "m2"] and pool_models([a, b])["m1"].display_name == "M One"


def test_the_pool_picks_only_accounts_that_serve_their_resolved_id(tmp_path: Path) -> None:
    pool, accs, clock = make_pool(tmp_path, n=3)
    accs[0].models = {"gemini-3.8-flash-high": ModelQuota(remaining=1.0)}
    accs[1].models = {"gemini-3.8-flash-low": ModelQuota(remaining=1.0)}
    accs[2].models = {"claude-sonnet-4-6": ModelQuota(remaining=1.0)}
    for a in accs:
        a.quota_updated = clock.t
    res = resolve_pool(accs, "gemini-3-flash", {})
    assert {k: r.target for k, r in res.items()} == {"acc-0": "gemini-3.8-flash-high", "acc-1": "gemini-3.8-flash-low"}
    group = {"acc-0": "gemini-3.8-flash-high"}
    for _ in range(5):
        pick = pool.select("gemini-3.8-flash-high", models=group)
        assert not isinstance(pick, Unavailable) and pick.id == "acc-0"
        pool.release(pick.id)
    # the only account of the group rests: the pool says so rather than picking another one
    pool.cool_down("acc-0", "gemini-3.8-flash-high", 60, "test")
    none = pool.select("gemini-3.8-flash-high", models=group)
    assert isinstance(none, Unavailable) and none.retry_after is not None
    # each account is judged by its own id: acc-1's cooldown on another id does not matter
    pool.cool_down("acc-1", "gemini-3.8-flash-high", 60, "test")
    pick = pool.select("x", models={"acc-1": "gemini-3.8-flash-low"})
    assert not isinstance(pick, Unavailable) and pick.id == "acc-1"
    accs[1].models["gemini-3.8-flash-low"] = ModelQuota(remaining=0.0, reset_time=clock.t + 100)
    assert isinstance(pool.select("x", models={"acc-1": "gemini-3.8-flash-low"}), Unavailable)
    assert not pool.ready(accs[1], "gemini-3.8-flash-low") and pool.ready(accs[2], "claude-sonnet-4-6")


def test_remembered_resolutions_follow_catalog_and_mapping_changes() -> None:
    from trayproxy.accounts.catalog import resolve_for

    acc = Account(id="memo", email="m@e", project="p", quota_updated=1.0,
                  models={"gemini-3.8-flash-high": ModelQuota(), "gemini-3.8-flash-low": ModelQuota()})
    mapping: dict[str, str] = {}
    first = resolve_for(acc, "gemini-3-flash", mapping)
    assert first is not None and first.target == "gemini-3.8-flash-high"
    assert resolve_for(acc, "gemini-3-flash", mapping) is first  # remembered
    acc.models.pop("gemini-3.8-flash-high")  # the upstream said it does not know it
    r = resolve_for(acc, "gemini-3-flash", mapping)
    assert r is not None and r.target == "gemini-3.8-flash-low"
    new_mapping = {"gemini-3-flash": "gemini-3.8-flash-low"}  # a config change is a new dict
    r = resolve_for(acc, "gemini-3-flash", new_mapping)
    assert r is not None and r.how == "mapping"
    apply_catalog(acc, parse_catalog(ANSWER), now=2.0)
    r = resolve_for(acc, "gemini-3.1-pro-high", new_mapping)
    assert r is None  # forwards to gemini-pro-agent, which this catalog lacks, and no pro is served
    acc.models["gemini-pro-agent"] = ModelQuota()
    r = resolve_for(acc, "gemini-3.1-pro-high", new_mapping)
    assert r is not None and r.target == "gemini-pro-agent" and r.how == "forwarded"


def test_web_search_model_ids_are_kept_saved_and_read_back(tmp_path: Path) -> None:
    cat = parse_catalog({"models": {"gemini-3.1-flash-lite": {}, "gemini-pro-agent": {}},
                         "webSearchModelIds": [" gemini-3.1-flash-lite ", "gemini-3.1-flash-lite", 7, "unlisted-id"]})
    assert cat.web_search == ["gemini-3.1-flash-lite", "unlisted-id"]
    acc = Account.new("a@example.com", now=1.0)
    apply_catalog(acc, cat, now=2.0)
    assert search_models(acc) == ["gemini-3.1-flash-lite"]  # only what it serves
    secrets = SecretStore(tmp_path / "s.json", backend=MemoryKeyring())
    AccountStore(tmp_path / "accounts.json", secrets).put(acc)
    back = AccountStore(tmp_path / "accounts.json", secrets).get(acc.id)
    assert back is not None and back.web_search_models == ["gemini-3.1-flash-lite", "unlisted-id"]
