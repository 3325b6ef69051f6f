"""`trayproxy models` and the catalog lines of `trayproxy doctor`, from catalogs saved with the
accounts (as fetchAvailableModels left them)."""

from __future__ import annotations

import json
import time

import pytest

from tests.fakes.catalog import CATALOG_2026, DEPRECATED_2026, FREE_TIER_2026
from trayproxy.accounts.store import Account, AccountStore, ModelQuota
from trayproxy.cli import main
from trayproxy.config import Config, load_config, save_config
from trayproxy.paths import app_paths
from trayproxy.secrets import SecretStore


def _account(email: str, ids: tuple[str, ...] | list[str], tier: str) -> Account:
    acc = Account.new(email, now=time.time())
    acc.project, acc.tier, acc.quota_updated = f"proj-{email[0]}", tier, time.time()
    acc.models = {m: ModelQuota(remaining=0.5, display_name=CATALOG_2026[m].display_name,
                                max_output_tokens=CATALOG_2026[m].max_output_tokens,
                                max_tokens=CATALOG_2026[m].max_tokens) for m in ids}
    acc.deprecated_models = dict(DEPRECATED_2026)
    return acc


@pytest.fixture()
def home() -> None:
    paths = app_paths().ensure()
    store = AccountStore(paths.accounts_file, SecretStore(paths.secrets_file))
    store.put(_account("ultra@example.com", list(CATALOG_2026), "Google AI Ultra"), refresh_token="rt-u")
    store.put(_account("free@example.com", FREE_TIER_2026, "free-tier"), refresh_token="rt-f")
    cfg = load_config(paths.config_file).config if paths.config_file.exists() else Config()
    cfg.model_mapping = {"my-fast": "gemini-3.8-flash-low", "gpt-*": "gemini-3-pro-high", "ghost": "my-finetune"}
    save_config(paths.config_file, cfg)


def test_models_says_per_account_what_a_name_resolves_to_and_why(home: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "gemini-3-flash", "claude-opus-4-8", "gpt-5.1-codex", "gemini-3.1-pro-high"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    i = lines.index("gemini-3-flash")
    assert "ultra@example.com" in lines[i + 1] and "gemini-3.8-flash-high" in lines[i + 1] and "forwarded" in lines[i + 1]
    # Google forwards it to an id the free account lacks: that id's family there
    assert "free@example.com" in lines[i + 2] and "gemini-3.8-flash-low" in lines[i + 2] and "family" in lines[i + 2]
    j = lines.index("claude-opus-4-8")
    assert "claude-opus-4-6-thinking" in lines[j + 1]
    assert "gemini-3.1-pro-low" in lines[j + 2] and "serves no Claude Opus" in lines[j + 2]
    k = lines.index("gpt-5.1-codex")
    assert "mapping" in lines[k + 1] and "gemini-pro-agent" in lines[k + 1] and "'gpt-*'" in lines[k + 1]
    m = lines.index("gemini-3.1-pro-high")
    assert "forwarded" in lines[m + 1] and "Google forwards gemini-3.1-pro-high -> gemini-pro-agent" in lines[m + 1]
    assert "warning: model_mapping 'ghost' -> my-finetune" in out


def test_models_json_and_an_unplaceable_name_fails(home: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--json", "llama3", "my-fast"]) == 0
    data = json.loads(capsys.readouterr().out)
    llama, fast = data["names"]
    assert llama["served"] is False and all(p["target"] is None for p in llama["accounts"])
    assert {p["target"] for p in fast["accounts"]} == {"gemini-3.8-flash-low"}
    assert main(["models", "llama3"]) == 1
    assert "(404)" in capsys.readouterr().out


def test_models_served_lists_each_accounts_catalog(home: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--served"]) == 0
    out = capsys.readouterr().out
    assert "free@example.com (catalog read" in out and "Gemini 3.5 Flash Lite" in out
    assert "gemini-3-pro-high            retired, Google forwards it to gemini-3.1-pro-high" in out


def test_doctor_warns_about_mapping_targets_no_account_serves(home: None, capsys: pytest.CaptureFixture[str]) -> None:
    main(["doctor"])
    out = capsys.readouterr().out
    assert f"models:       {len(CATALOG_2026)} ids served by 2 usable account(s)" in out
    assert "mapping:      WARNING: 2 entries" in out
    assert "'gpt-*' -> gemini-3-pro-high: no account serves gemini-3-pro-high; it is resolved to gemini-3.1-pro-low, gemini-pro-agent instead" in out
    assert "'ghost' -> my-finetune: no account serves my-finetune and no rule places it" in out
    assert "'my-fast'" not in out
