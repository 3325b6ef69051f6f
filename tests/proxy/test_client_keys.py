"""Client keys on the request path: a key per client, its limits refused in the client's own
error shape with Retry-After, its model patterns, its expiry, its usage on the monitor row and
in /metrics; the owner's key unlimited. The proxy's app and the fake Cloud Code in the test's
loop (no Redis: the local limiter)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.fakes.cloudcode import FakeCloudCode
from tests.proxy.app_stack import AppStack, app_stack
from trayproxy.clientkeys.store import KeyStore

QUOTA = {"gemini-3-flash": 0.9, "claude-sonnet-4-6": 0.9}
CHAT = ("/v1/chat/completions", {"model": "gemini-3-flash", "messages": [{"role": "user", "content": "hi"}]})
MESSAGES = ("/v1/messages", {"model": "claude-sonnet-4-6", "max_tokens": 20,
                             "messages": [{"role": "user", "content": "hi"}]})
GEMINI = ("/v1beta/models/gemini-3-flash:generateContent", {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})


def fake() -> FakeCloudCode:
    f = FakeCloudCode()
    f.add_account("a@example.com", quota=QUOTA)
    return f


def keys(s: AppStack) -> KeyStore:
    assert s.ctx.keys is not None
    return s.ctx.keys


@pytest.mark.parametrize("auth_mode", ["strict", "off"])
async def test_a_key_at_its_rpm_gets_429_in_each_protocols_shape(tmp_path: Path, auth_mode: str) -> None:
    async with app_stack(tmp_path, fake=fake(), emails=("a@example.com",), monitor=True, client_keys=True,
                         auth_mode=auth_mode) as s:
        key, secret = keys(s).create("ci", rpm=3)
        shapes = []
        for path, body in (CHAT, MESSAGES, GEMINI):
            status, _, _ = await s.post(path, body, {"Authorization": f"Bearer {secret}"})
            assert status == 200
        for path, body in (CHAT, MESSAGES, GEMINI):
            status, headers, raw = await s.post(path, body, {"x-api-key": secret, "x-goog-api-key": secret})
            assert status == 429
            assert 1 <= int(headers["retry-after"]) <= 60
            shapes.append(json.loads(raw))
        assert shapes[0]["error"]["type"] == "rate_limit_error" and "3 requests per minute" in shapes[0]["error"]["message"]
        assert shapes[1]["type"] == "error" and shapes[1]["error"]["type"] == "rate_limit_error"
        assert shapes[2]["error"]["status"] == "RESOURCE_EXHAUSTED"
        # the owner's key is never limited
        owner = {"Authorization": f"Bearer {s.api_key()}"}
        for _ in range(5):
            assert (await s.post(*CHAT, owner))[0] == 200
        await s.close_server()
        s.monitor.flush()
        rows = s.monitor.recent(limit=100)
        mine = [r for r in rows if r["key_id"] == key.id]
        assert sorted(r["status"] for r in mine) == [200, 200, 200, 429, 429, 429]
        assert all(r["key_id"] is None for r in rows if r not in mine)
        by_key = {r["key"]: r for r in s.monitor.totals("key_id")}
        assert by_key[key.id]["requests"] == 6 and by_key[key.id]["input_tokens"] > 0


async def test_tokens_per_minute_count_the_answers_usage(tmp_path: Path) -> None:
    async with app_stack(tmp_path, fake=fake(), emails=("a@example.com",), client_keys=True,
                         auth_mode="strict") as s:
        _, secret = keys(s).create("small", tpm=1)
        h = {"Authorization": f"Bearer {secret}"}
        assert (await s.post(*CHAT, h))[0] == 200  # under the limit when it started
        status, headers, raw = await s.post(*CHAT, h)
        assert status == 429 and "tokens per minute" in json.loads(raw)["error"]["message"]


async def test_model_patterns_refuse_other_models_by_name(tmp_path: Path) -> None:
    async with app_stack(tmp_path, fake=fake(), emails=("a@example.com",), client_keys=True,
                         auth_mode="strict") as s:
        _, secret = keys(s).create("gemini-only", models=["gemini-*"])
        h = {"Authorization": f"Bearer {secret}"}
        assert (await s.post(*CHAT, h))[0] == 200
        status, _, raw = await s.post(*MESSAGES, {"x-api-key": secret})
        err = json.loads(raw)
        assert status == 403 and err["error"]["type"] == "permission_error"
        assert "may not use the model 'claude-sonnet-4-6'" in err["error"]["message"]
        # a name the config maps to an allowed id is allowed
        s.configure("model_mapping.my-model", "gemini-3-flash")
        assert (await s.post("/v1/chat/completions", {**CHAT[1], "model": "my-model"}, h))[0] == 200


async def test_revoked_and_expired_keys_are_refused(tmp_path: Path) -> None:
    async with app_stack(tmp_path, fake=fake(), emails=("a@example.com",), client_keys=True,
                         auth_mode="strict") as s:
        _, gone = keys(s).create("gone")
        _, old = keys(s).create("old", expires_at=time.time() + 3600)
        assert (await s.post(*CHAT, {"Authorization": f"Bearer {gone}"}))[0] == 200
        await keys(s).a_revoke("gone")
        status, _, raw = await s.post(*CHAT, {"Authorization": f"Bearer {gone}"})
        assert status == 401 and "API key is wrong" in json.loads(raw)["error"]["message"]
        k = keys(s).find("old")
        keys(s).apply([type(k)(**{**k.to_json(), "expires_at": time.time() - 1})])
        status, _, raw = await s.post(*CHAT, {"Authorization": f"Bearer {old}"})
        assert status == 401 and "expired on" in json.loads(raw)["error"]["message"]


async def test_metrics_count_requests_by_key_and_take_the_owners_key_only(tmp_path: Path) -> None:
    async with app_stack(tmp_path, fake=fake(), emails=("a@example.com",), client_keys=True,
                         auth_mode="all_except_health") as s:
        key, secret = keys(s).create("ci", rpm=1)
        assert (await s.post(*CHAT, {"Authorization": f"Bearer {secret}"}))[0] == 200
        assert (await s.post(*CHAT, {"Authorization": f"Bearer {secret}"}))[0] == 429
        assert (await s.get("/metrics"))[0] == 401
        _, other = keys(s).create("other")
        assert (await s.get("/metrics", {"Authorization": f"Bearer {other}"}))[0] == 403
        status, headers, raw = await s.get("/metrics", {"Authorization": f"Bearer {s.api_key()}"})
        text = raw.decode()
        assert status == 200 and headers["content-type"].startswith("text/plain")
        acc = s.store.all()[0].id[:8]
        assert (f'trayproxy_requests_total{{account="{acc}",key="{key.id}",model="gemini-3-flash",'
                f'route="/v1/chat/completions",status="200"}} 1.0') in text
        assert 'trayproxy_refused_total{reason="rpm"} 1.0' in text
        assert 'trayproxy_refused_total{reason="auth"} 1.0' in text
        assert "trayproxy_request_duration_seconds_bucket" in text and "trayproxy_added_latency_seconds_count 1.0" in text
        assert 'trayproxy_tokens_total{account="' in text and "trayproxy_in_flight" in text
        # /readyz answers without a key, like /healthz
        status, _, raw = await s.get("/readyz")
        assert status == 200 and json.loads(raw) == {"ready": True, "accounts_usable": 1, "shared": None}
