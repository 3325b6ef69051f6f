"""The Models tab's control API (control/models_routes.py): resolution table, mapping editor,
test a name."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.fakes.catalog import CATALOG_2026, DEPRECATED_2026, FREE_TIER_2026


def add_catalog_account(ctl: Any, email: str, ids: list[str] | tuple[str, ...], tier: str) -> Any:
    from trayproxy.accounts.store import Account, ModelQuota

    acc = Account.new(email, now=time.time())
    acc.project, acc.tier, acc.quota_updated = "proj-" + email.split("@")[0], tier, time.time()
    acc.models = {m: ModelQuota(remaining=0.6, reset_time=time.time() + 3600, display_name=CATALOG_2026[m].display_name,
                                max_output_tokens=CATALOG_2026[m].max_output_tokens, max_tokens=CATALOG_2026[m].max_tokens)
                  for m in ids}
    acc.deprecated_models = dict(DEPRECATED_2026)
    ctl.store.put(acc, refresh_token="rt-" + email)
    ctl.reload()
    return acc


@pytest.fixture
def two_accounts(controller: Any) -> None:
    add_catalog_account(controller, "ultra@example.com", list(CATALOG_2026), "g1-ultra-tier")
    add_catalog_account(controller, "free@example.com", FREE_TIER_2026, "free-tier")


def call(control: Any, path: str, body: Any = None) -> tuple[int, Any]:
    req = urllib.request.Request(f"http://127.0.0.1:{control.port}/api/{path}",
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"X-Trayproxy-Token": control.token, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_models_api_table_test_and_mapping_edits(control: Any, controller: Any, two_accounts: None) -> None:
    status, data = call(control, "models")
    assert status == 200 and data["mapping"] == [] and data["warnings"] == []
    assert {m["id"] for m in data["served"]} == set(CATALOG_2026)
    lite = next(m for m in data["served"] if m["id"] == "gemini-3.5-flash-lite")
    assert sorted(lite["accounts"]) == ["free@example.com", "ultra@example.com"]
    row = next(r for r in data["names"] if r["name"] == "claude-opus-4-8")
    assert {p["email"]: p["target"] for p in row["accounts"]} == {
        "ultra@example.com": "claude-opus-4-6-thinking", "free@example.com": "gemini-3.1-pro-low"}

    status, t = call(control, "models/test", {"name": "models/gemini-3.1-pro-high"})
    assert status == 200 and t["row"]["served"]
    assert {p["how"] for p in t["row"]["accounts"]} == {"forwarded", "family"}
    assert call(control, "models/test", {"name": "../etc"})[0] == 400

    # add, refuse a duplicate and bad input, edit (rename), then remove
    status, data = call(control, "models/mapping", {"pattern": "gpt-*", "target": "gemini-3-pro-high"})
    assert status == 200 and data["mapping"] == [{"pattern": "gpt-*", "target": "gemini-3-pro-high"}]
    assert controller.config.model_mapping == {"gpt-*": "gemini-3-pro-high"}
    assert any("no account serves gemini-3-pro-high" in w for w in data["warnings"])
    codex = next(r for r in data["names"] if r["name"] == "gpt-5.1-codex")
    assert {p["how"] for p in codex["accounts"]} == {"mapping"}
    assert call(control, "models/mapping", {"pattern": "gpt-*", "target": "x"})[0] == 400
    status, err = call(control, "models/mapping", {"pattern": "gpt-?", "target": "gemini-pro-agent"})
    assert status == 400 and "not a model name or pattern" in err["error"]
    status, err = call(control, "models/mapping", {"pattern": "fast", "target": "gemini-*"})
    assert status == 400 and "not a model id" in err["error"]
    status, data = call(control, "models/mapping", {"pattern": "gpt-5*", "target": "gemini-pro-agent", "previous": "gpt-*"})
    assert status == 200 and controller.config.model_mapping == {"gpt-5*": "gemini-pro-agent"} and data["warnings"] == []
    status, data = call(control, "models/mapping", {"remove": "gpt-5*"})
    assert status == 200 and controller.config.model_mapping == {} and data["mapping"] == []
    assert call(control, "models/mapping", {"remove": "gpt-5*"})[0] == 404
