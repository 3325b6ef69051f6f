"""z.ai dispatch against a fake Anthropic-compatible server: every mode, byte-identical
streams, the proxy key never forwarded, z.ai errors in Anthropic's shape."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.fakes.anthropic_api import ZAI_KEY, FakeAnthropic, sse_body
from tests.fakes.runner import ServerThread
from tests.helpers import add_fake_account, make_controller, request
from trayproxy.controller import Controller


@pytest.fixture()
def zai() -> Iterator[tuple[FakeAnthropic, str]]:
    fake = FakeAnthropic()
    with ServerThread(fake.app()) as base:
        yield fake, base + "/api/anthropic"


def controller(base_url: str, mode: str, *, accounts: int = 0, **kw) -> Controller:
    ctl = make_controller(env={"TRAYPROXY_ZAI_BASE_URL": base_url}, **kw)
    ctl.set_config("zai.enabled", True)
    ctl.set_config("zai.dispatch_mode", mode)
    ctl.set_zai_key(ZAI_KEY)
    for i in range(accounts):
        add_fake_account(ctl, f"g{i}@example.com", f"proj-{i}")
    return ctl


MSG = {"model": "claude-sonnet-4-5-20250929", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}


def test_exclusive_with_no_google_account(zai) -> None:
    fake, base = zai
    ctl = controller(base, "exclusive", auth_mode="strict")
    try:
        st = ctl.start()
        assert st.running and st.active_accounts == 0
        key = ctl.api_key()
        s, h, b = request(st.port, "POST", "/v1/messages?beta=true", body=MSG,
                          headers={"x-api-key": key, "anthropic-version": "2023-06-01"})
        assert s == 200, b
        assert json.loads(b)["content"][0]["text"] == "GLM says hi (glm-4.7)"
        assert h["x-trayproxy-model"] == "glm-4.7"
        sent = fake.requests[-1]
        # the proxy key never reaches z.ai; the z.ai key does
        assert key not in json.dumps(sent["headers"]) and sent["headers"]["x-api-key"] == ZAI_KEY
        # Authorization-style clients get Bearer
        s, _, _ = request(st.port, "POST", "/v1/messages", body=MSG, headers={"Authorization": f"Bearer {key}"})
        assert s == 200 and fake.requests[-1]["headers"]["Authorization"] == f"Bearer {ZAI_KEY}"
        assert key not in json.dumps(fake.requests[-1]["headers"])
    finally:
        ctl.close()


def test_stream_is_byte_identical_and_models_map_by_family(zai) -> None:
    fake, base = zai
    ctl = controller(base, "exclusive")
    try:
        port = ctl.start().port
        s, h, b = request(port, "POST", "/v1/messages", body={**MSG, "model": "claude-3-5-haiku-20241022", "stream": True})
        assert s == 200 and h["content-type"].startswith("text/event-stream")
        assert b == sse_body("glm-4.5-air", "GLM says hi (glm-4.5-air)")
        s, _, b = request(port, "POST", "/v1/messages/count_tokens", body={**MSG, "model": "claude-opus-4-1"})
        assert s == 200 and json.loads(b) == {"input_tokens": 17}
        assert fake.requests[-1]["body"]["model"] == "glm-4.7"
    finally:
        ctl.close()


def test_errors_reach_the_client_in_anthropic_shape(zai) -> None:
    fake, base = zai
    fake.fail_status = 529
    ctl = controller(base, "exclusive")
    try:
        port = ctl.start().port
        s, _, b = request(port, "POST", "/v1/messages", body=MSG)
        assert s == 529 and json.loads(b)["error"]["type"] == "overloaded_error"
        ctl.set_zai_key("wrong-key")
        fake.fail_status = None
        s, _, b = request(port, "POST", "/v1/messages", body=MSG)
        # z.ai refusing *our* z.ai key is not the client's auth problem: 502, saying what to fix
        err = json.loads(b)
        assert s == 502 and err["type"] == "error" and "z.ai refused the configured z.ai API key" in err["error"]["message"]
    finally:
        ctl.close()


def test_fallback_only_when_google_cannot_serve(zai) -> None:
    fake, base = zai
    ctl = controller(base, "fallback", accounts=2)
    try:
        port = ctl.start().port
        # Google accounts available: not z.ai (the Google path is taken; we only check z.ai was not called)
        from trayproxy.proxy.zai_dispatch import use_zai

        target = "claude-sonnet-4-6"
        assert use_zai(ctl.ctx, target) is False
        for a in ctl.store.all():
            ctl.pool.cool_down(a.id, target, 60, "quota")
        assert use_zai(ctl.ctx, target) is True
        s, _, b = request(port, "POST", "/v1/messages", body=MSG)
        assert s == 200 and "GLM" in json.loads(b)["content"][0]["text"]
        assert len(fake.requests) == 1
    finally:
        ctl.close()


def test_pooled_is_one_more_slot(zai) -> None:
    _, base = zai
    ctl = controller(base, "pooled", accounts=2)
    try:
        from trayproxy.proxy.zai_dispatch import use_zai

        picks = [use_zai(ctl.ctx, "claude-sonnet-4-6") for _ in range(30)]
        assert picks.count(True) == 10
    finally:
        ctl.close()


def test_off_never_uses_zai_and_models_can_be_listed(zai) -> None:
    fake, base = zai
    ctl = controller(base, "off", accounts=1)
    try:
        from trayproxy.proxy.zai_dispatch import use_zai

        assert use_zai(ctl.ctx, "claude-sonnet-4-6") is False
        assert ctl.zai_models() == ["glm-4.7", "glm-4.5-air"]
    finally:
        ctl.close()


@pytest.mark.npm
def test_claude_code_through_zai_exclusive(zai, tmp_path) -> None:
    import os
    import subprocess

    from tests.clients import find_cli

    claude = find_cli("claude")
    fake, base = zai
    ctl = controller(base, "exclusive")
    try:
        st = ctl.start()
        home, work = tmp_path / "client-home", tmp_path / "work"
        home.mkdir()
        work.mkdir()
        env = {**os.environ, "HOME": str(home), "ANTHROPIC_BASE_URL": st.base_url, "ANTHROPIC_API_KEY": ctl.api_key(),
               "DISABLE_TELEMETRY": "1", "DISABLE_AUTOUPDATER": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}
        p = subprocess.run([claude, "-p", "Say hi", "--output-format", "json"], cwd=work, env=env,
                           capture_output=True, text=True, timeout=180)
        out = json.loads(p.stdout.strip().splitlines()[-1])
        assert p.returncode == 0 and not out.get("is_error"), (p.stdout[-1500:], p.stderr[-1500:])
        assert "GLM says hi" in out["result"]
        sent = [r for r in fake.requests if r["path"].endswith("/v1/messages")]
        assert sent and all(r["headers"].get("x-api-key") == ZAI_KEY for r in sent)
        assert all(ctl.api_key() not in json.dumps(r["headers"]) for r in sent)
        assert ctl.monitor is not None
        ctl.monitor.flush()
        assert {r["upstream"] for r in ctl.monitor.recent(limit=50) if r["route"] == "/v1/messages"} == {"zai"}
    finally:
        ctl.close()
