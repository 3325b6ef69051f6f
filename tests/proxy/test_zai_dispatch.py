"""z.ai dispatch against a fake Anthropic-compatible server: every mode, byte-identical
streams, the proxy key never forwarded, z.ai errors in Anthropic's shape. The proxy's app and the
fake run in the test's loop; Start without a Google account and Claude Code use the running proxy."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from tests.fakes.anthropic_api import ZAI_KEY, FakeAnthropic, sse_body
from tests.fakes.runner import ServerThread
from tests.helpers import make_controller
from tests.proxy.app_stack import AppStack, app_stack
from trayproxy.controller import Controller
from trayproxy.proxy.zai_dispatch import use_zai
from trayproxy.secrets import ZAI_KEY as ZAI_SECRET


@pytest.fixture()
async def zai() -> AsyncIterator[tuple[FakeAnthropic, str]]:
    """The fake z.ai, served in the test's loop."""
    fake = FakeAnthropic()
    server = TestServer(fake.app())
    await server.start_server()
    try:
        yield fake, str(server.make_url("/api/anthropic"))
    finally:
        await server.close()


@pytest.fixture()
def zai_thread() -> Iterator[tuple[FakeAnthropic, str]]:
    """The fake z.ai on a thread of its own, for the running proxy."""
    fake = FakeAnthropic()
    with ServerThread(fake.app()) as base:
        yield fake, base + "/api/anthropic"


@asynccontextmanager
async def dispatching(tmp_path: Path, base_url: str, mode: str, *, accounts: int = 0,
                      **settings: Any) -> AsyncIterator[AppStack]:
    """The proxy's app with z.ai on in this dispatch mode, the z.ai key set, and `accounts` Google accounts."""
    async with app_stack(tmp_path, env={"TRAYPROXY_ZAI_BASE_URL": base_url}, zai_key=ZAI_KEY,
                         **{"zai.enabled": True, "zai.dispatch_mode": mode}, **settings) as s:
        for i in range(accounts):
            s.add_account(f"g{i}@example.com", f"proj-{i}")
        yield s


def controller(base_url: str, mode: str, *, accounts: int = 0, **kw) -> Controller:
    ctl = make_controller(env={"TRAYPROXY_ZAI_BASE_URL": base_url}, **kw)
    ctl.set_config("zai.enabled", True)
    ctl.set_config("zai.dispatch_mode", mode)
    ctl.set_zai_key(ZAI_KEY)
    return ctl


MSG = {"model": "claude-sonnet-4-5-20250929", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}


def test_exclusive_starts_with_no_google_account(zai_thread) -> None:
    _, base = zai_thread
    ctl = controller(base, "exclusive", auth_mode="strict")
    try:
        st = ctl.start()
        assert st.running and st.active_accounts == 0
    finally:
        ctl.close()


async def test_exclusive_with_no_google_account(zai, tmp_path: Path) -> None:
    fake, base = zai
    async with dispatching(tmp_path, base, "exclusive", auth_mode="strict") as s:
        assert s.pool.active_count() == 0
        key = s.api_key()
        st, h, b = await s.post("/v1/messages?beta=true", MSG, headers={"x-api-key": key, "anthropic-version": "2023-06-01"})
        assert st == 200, b
        assert json.loads(b)["content"][0]["text"] == "GLM says hi (glm-4.7)"
        assert h["x-trayproxy-model"] == "glm-4.7"
        sent = fake.requests[-1]
        # the proxy key never reaches z.ai; the z.ai key does
        assert key not in json.dumps(sent["headers"]) and sent["headers"]["x-api-key"] == ZAI_KEY
        # Authorization-style clients get Bearer
        st, _, _ = await s.post("/v1/messages", MSG, headers={"Authorization": f"Bearer {key}"})
        assert st == 200 and fake.requests[-1]["headers"]["Authorization"] == f"Bearer {ZAI_KEY}"
        assert key not in json.dumps(fake.requests[-1]["headers"])


async def test_stream_is_byte_identical_and_models_map_by_family(zai, tmp_path: Path) -> None:
    fake, base = zai
    async with dispatching(tmp_path, base, "exclusive") as s:
        st, h, b = await s.post("/v1/messages", {**MSG, "model": "claude-3-5-haiku-20241022", "stream": True})
        assert st == 200 and h["content-type"].startswith("text/event-stream")
        assert b == sse_body("glm-4.5-air", "GLM says hi (glm-4.5-air)")
        st, _, b = await s.post("/v1/messages/count_tokens", {**MSG, "model": "claude-opus-4-1"})
        assert st == 200 and json.loads(b) == {"input_tokens": 17}
        assert fake.requests[-1]["body"]["model"] == "glm-4.7"


async def test_errors_reach_the_client_in_anthropic_shape(zai, tmp_path: Path) -> None:
    fake, base = zai
    fake.fail_status = 529
    async with dispatching(tmp_path, base, "exclusive") as s:
        st, _, b = await s.post("/v1/messages", MSG)
        assert st == 529 and json.loads(b)["error"]["type"] == "overloaded_error"
        s.secrets.set(ZAI_SECRET, "wrong-key")
        fake.fail_status = None
        st, _, b = await s.post("/v1/messages", MSG)
        # z.ai refusing *our* z.ai key is not the client's auth problem: 502, saying what to fix
        err = json.loads(b)
        assert st == 502 and err["type"] == "error" and "z.ai refused the configured z.ai API key" in err["error"]["message"]


async def test_fallback_only_when_google_cannot_serve(zai, tmp_path: Path) -> None:
    fake, base = zai
    async with dispatching(tmp_path, base, "fallback", accounts=2) as s:
        # Google accounts available: not z.ai (the Google path is taken; we only check z.ai was not called)
        target = "claude-sonnet-4-6"
        assert use_zai(s.ctx, target) is False
        for a in s.store.all():
            s.pool.cool_down(a.id, target, 60, "quota")
        assert use_zai(s.ctx, target) is True
        st, _, b = await s.post("/v1/messages", MSG)
        assert st == 200 and "GLM" in json.loads(b)["content"][0]["text"]
        assert len(fake.requests) == 1


async def test_pooled_is_one_more_slot(zai, tmp_path: Path) -> None:
    _, base = zai
    async with dispatching(tmp_path, base, "pooled", accounts=2) as s:
        picks = [use_zai(s.ctx, "claude-sonnet-4-6") for _ in range(30)]
        assert picks.count(True) == 10


async def test_off_never_uses_zai_and_models_can_be_listed(zai, tmp_path: Path) -> None:
    _, base = zai
    async with dispatching(tmp_path, base, "off", accounts=1) as s:
        assert use_zai(s.ctx, "claude-sonnet-4-6") is False
        assert s.ctx.zai is not None
        assert await s.ctx.zai.list_models() == ["glm-4.7", "glm-4.5-air"]


@pytest.mark.npm
def test_claude_code_through_zai_exclusive(zai_thread, tmp_path) -> None:
    import os
    import subprocess

    from tests.clients import find_cli

    claude = find_cli("claude")
    fake, base = zai_thread
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
