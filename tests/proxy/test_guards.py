"""The whole auth matrix, the Origin / Host guards, CORS, error shapes and route hints, on the
proxy's app in the test's loop (raw bytes go to its test server's port from a worker thread)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import raw_exchange
from tests.proxy.app_stack import AppStack, app_stack

MODES = ("off", "strict", "all_except_health", "auto")


def header_forms(key: str) -> dict[str, tuple[dict[str, str], str]]:
    return {
        "bearer": ({"Authorization": f"Bearer {key}"}, ""),
        "bearer_lower": ({"Authorization": f"bearer {key}"}, ""),
        "bare": ({"Authorization": key}, ""),
        "x-api-key": ({"x-api-key": key}, ""),
        "x-goog-api-key": ({"x-goog-api-key": key}, ""),
        "query": ({}, f"?key={key}"),
    }


@asynccontextmanager
async def guarded(tmp_path: Path, **settings: Any) -> AsyncIterator[AppStack]:
    """The proxy's app with one account (no upstream call is made) and these settings."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    async with app_stack(tmp_path, **settings) as s:
        s.add_account("a@example.com")
        yield s


@pytest.fixture(params=[False, True], ids=["local", "lan"])
def lan(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture()
async def servers(tmp_path: Path, lan: bool) -> AsyncIterator[dict[str, AppStack]]:
    """One app per auth mode, LAN access off or on."""
    async with AsyncExitStack() as stack:
        yield {mode: await stack.enter_async_context(guarded(tmp_path / mode, auth_mode=mode, allow_lan_access=lan))
               for mode in MODES}


async def request(s: AppStack, method: str, path: str, *, headers: dict[str, str] | None = None,
                  body: Any = None, host: str | None = None) -> tuple[int, dict[str, str], bytes]:
    h = dict(headers or {})
    if host is not None:
        h["Host"] = host
    return await s.request(method, path, body, h)


def _required(mode: str, lan: bool, health: bool) -> bool:
    eff = mode if mode != "auto" else "all_except_health"
    return eff == "strict" or (eff == "all_except_health" and not health)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("route", ["/healthz", "/health", "/v1/models", "/v1beta/models"])
async def test_auth_matrix(tmp_path: Path, lan: bool, mode: str, route: str) -> None:
    async with guarded(tmp_path, auth_mode=mode, allow_lan_access=lan) as ctl:
        key = ctl.api_key()
        required = _required(mode, lan, route in ("/healthz", "/health"))
        gemini_route = route.startswith("/v1beta")
        for form, (hdrs, query) in header_forms(key).items():
            if form == "query" and not gemini_route:
                # ?key= is only honoured on Gemini routes (the Google SDKs' way)
                status, _, _ = await request(ctl, "GET", route + query)
                assert status == (401 if required else 200), (mode, route, form)
                continue
            status, _, body = await request(ctl, "GET", route + query, headers=hdrs)
            assert status == 200, (mode, route, form, body)
        # no key / wrong key
        for hdrs in ({}, {"Authorization": "Bearer sk-wrong-wrong-wrong"}, {"x-api-key": key + "x"}):
            status, headers, body = await request(ctl, "GET", route, headers=hdrs)
            assert status == (401 if required else 200), (mode, route, hdrs)
            if status == 401:
                err = json.loads(body)
                msg = err["error"]["message"]
                assert "Authorization: Bearer" in msg and "x-api-key" in msg
                assert key not in msg
                if gemini_route:
                    assert err["error"]["status"] == "UNAUTHENTICATED" and err["error"]["code"] == 401


async def test_401_speaks_the_callers_protocol(servers: dict[str, AppStack]) -> None:
    strict = servers["strict"]
    s, _, b = await request(strict, "POST", "/v1/messages", body={"model": "claude-sonnet-4-5"})
    assert s == 401 and json.loads(b) == {"type": "error", "error": {"type": "authentication_error", "message": json.loads(b)["error"]["message"]}}
    s, _, b = await request(strict, "POST", "/v1/chat/completions", body={})
    assert s == 401 and json.loads(b)["error"]["type"] == "authentication_error"
    s, _, b = await request(strict, "POST", "/v1beta/models/gemini-3-flash:generateContent", body={})
    assert s == 401 and json.loads(b)["error"]["status"] == "UNAUTHENTICATED"


async def test_origin_guard_when_no_key_required(servers: dict[str, AppStack]) -> None:
    off = servers["off"]
    s, _, b = await request(off, "GET", "/v1/models", headers={"Origin": "https://evil.example"})
    assert s == 403 and "evil.example" in json.loads(b)["error"]["message"]
    s, h, _ = await request(off, "GET", "/v1/models", headers={"Origin": "http://localhost:3000"})
    assert s == 200 and h["access-control-allow-origin"] == "http://localhost:3000"
    # with a required key, any origin may call (the key protects it)
    strict = servers["strict"]
    s, _, _ = await request(strict, "GET", "/v1/models", headers={"Origin": "https://app.example",
                                                                  "x-api-key": strict.api_key()})
    assert s == 200


async def test_host_guard_blocks_dns_rebinding(servers: dict[str, AppStack], lan: bool) -> None:
    for ctl in servers.values():
        port = ctl.port
        s, _, b = await request(ctl, "GET", "/healthz", host=f"attacker.example:{port}")
        if lan:
            assert s in (200, 401)
        else:
            assert s == 403 and "localhost" in json.loads(b)["error"]["message"]
        for ok_host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", "localhost"):
            s, _, _ = await request(ctl, "GET", "/healthz", host=ok_host)
            assert s in (200, 401)


async def test_preflight_is_answered(servers: dict[str, AppStack]) -> None:
    s, h, _ = await request(servers["strict"], "OPTIONS", "/v1/chat/completions", headers={
        "Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert s == 204
    assert h["access-control-allow-origin"] == "http://localhost:5173"
    assert "authorization" in h["access-control-allow-headers"]


async def test_health_root_probe_and_unknown_routes(servers: dict[str, AppStack]) -> None:
    off = servers["off"]
    s, _, b = await request(off, "GET", "/healthz")
    assert s == 200 and json.loads(b)["status"] == "ok" and "version" in json.loads(b)
    s, _, _ = await request(off, "HEAD", "/")
    assert s == 200
    s, _, b = await request(off, "POST", "/v2/chat/completions", body={})
    err = json.loads(b)["error"]
    assert s == 404 and "/v1" in err["message"] and "POST /v2/chat/completions" in err["message"]
    s, _, b = await request(off, "POST", "/v1/messages/nope", headers={"anthropic-version": "2023-06-01"}, body={})
    assert s == 404 and json.loads(b)["type"] == "error"


async def test_oversized_body_is_413_in_protocol_shape(tmp_path: Path) -> None:
    async with guarded(tmp_path, max_body_mb=1) as ctl:
        big = b'{"model":"x","messages":"' + b"a" * (1024 * 1024 + 10) + b'"}'
        s, _, b = await request(ctl, "POST", "/v1/messages", body=big)
        assert s == 413
        assert json.loads(b)["error"]["type"] == "request_too_large"
        s, _, b = await request(ctl, "POST", "/v1/chat/completions", body=big)
        assert s == 413 and "1 MiB" in json.loads(b)["error"]["message"]


async def test_refused_requests_are_counted_per_kind_and_origin_not_one_row_each(tmp_path: Path) -> None:
    """Regression (attack run): a web page made 7,400 monitor rows a second with refused requests."""
    async with guarded(tmp_path / "off", auth_mode="off", monitor=True) as ctl:
        for i in range(300):
            origin = "http://evil.example" if i % 3 else "http://other.example"
            assert (await request(ctl, "POST", "/v1/chat/completions", headers={"Origin": origin}, body={}))[0] == 403
        for _ in range(20):
            assert (await request(ctl, "GET", "/v1/models", host="attacker.test"))[0] == 403
        ctl.monitor.flush()
        assert ctl.monitor.recent(limit=1000) == []
        counts = {(r["kind"], r["origin"]): r["count"] for r in ctl.monitor.refused()}
        assert counts == {("origin", "http://evil.example"): 200, ("origin", "http://other.example"): 100,
                          ("host", "attacker.test"): 20}
    async with guarded(tmp_path / "strict", auth_mode="strict", monitor=True) as ctl:
        for _ in range(50):
            assert (await request(ctl, "GET", "/v1/models"))[0] == 401
        ctl.monitor.flush()
        assert ctl.monitor.recent(limit=1000) == []
        auth = [(r["origin"], r["status"], r["count"]) for r in ctl.monitor.refused() if r["kind"] == "auth"]
        assert auth == [("-", 401, 50)]


@pytest.mark.parametrize("mode", ["off", "strict"])
async def test_non_utf8_origin_is_a_clean_403(tmp_path: Path, mode: str) -> None:
    """Regression: an Origin with bytes that are not UTF-8 gave a 500 (the message quoted it)."""
    async with guarded(tmp_path, auth_mode=mode) as ctl:
        port = ctl.port
        head = (f"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n"
                f"Authorization: Bearer {ctl.api_key()}\r\n").encode() + b"Origin: http://\xff.example\r\n\r\n"
        answer = await asyncio.to_thread(raw_exchange, port, head)
        assert answer.startswith(b"HTTP/1.1 403") and b"not a valid origin" in answer
        assert b"Access-Control-Allow-Origin" not in answer


async def test_non_utf8_header_bytes_keep_the_monitor_row(tmp_path: Path) -> None:
    """Regression (attack run): a User-Agent with bytes that are not UTF-8 dropped the row."""
    async with guarded(tmp_path, auth_mode="off", monitor=True) as ctl:
        port = ctl.port
        head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                "Content-Length: 9\r\nConnection: close\r\n").encode() + b"User-Agent: caf\xe9 \xff\r\n\r\n{not json"
        answer = await asyncio.to_thread(raw_exchange, port, head)
        assert answer.startswith(b"HTTP/1.1 400")
        ctl.monitor.flush()
        (row,) = ctl.monitor.recent(limit=10)
        assert row["status"] == 400 and row["user_agent"] == "caf\ufffd \ufffd"
        assert ctl.monitor.dropped == 0


async def test_auto_mode_asks_other_local_users_and_pages_for_the_key(tmp_path: Path) -> None:
    """Regression (issue #27): in `auto` with LAN access off no key was asked for, so every other
    local user (loopback TCP is open to all of them) and every page served on any loopback port
    (a dev server previewing a hostile repo, another user's server) had full use of the
    accounts. THREAT_MODEL counts both as untrusted: `auto` now asks for the key on every route
    but the health check, as `connect` and the copied snippets already send it."""
    async with guarded(tmp_path, auth_mode="auto") as ctl:
        key = ctl.api_key()
        for headers in ({}, {"Origin": "http://127.0.0.1:3000"}, {"Origin": "http://localhost:5173"}):
            status, _, body = await request(ctl, "GET", "/v1/models", headers=headers)
            assert status == 401, (headers, body)
            assert b"trayproxy key show" in body
        status, _, _ = await request(ctl, "GET", "/v1/models", headers={"Authorization": f"Bearer {key}"})
        assert status == 200
        status, headers, _ = await request(ctl, "GET", "/v1/models", headers={
            "Authorization": f"Bearer {key}", "Origin": "http://localhost:5173"})
        assert status == 200 and headers.get("access-control-allow-origin") == "http://localhost:5173"
        status, _, _ = await request(ctl, "GET", "/healthz")
        assert status == 200
