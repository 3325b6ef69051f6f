"""ControlServer: token, Host/Origin guards and the JSON API over a real Controller."""

from __future__ import annotations

import http.client
import json
from typing import Any

import pytest

from tests.ui.helpers import add_account, free_port
from trayproxy.ui.control import COOKIE, TOKEN_HEADER


def request(srv: Any, method: str, path: str, body: Any = None, *, token: bool = True,
            headers: dict[str, str] | None = None) -> tuple[int, Any, http.client.HTTPResponse]:
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    hdrs = {"Host": f"127.0.0.1:{srv.port}"}
    if token:
        hdrs[TOKEN_HEADER] = srv.token
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    hdrs.update(headers or {})
    conn.request(method, path, body=data, headers=hdrs)
    resp = conn.getresponse()
    raw = resp.read()
    conn.close()
    try:
        payload: Any = json.loads(raw)
    except ValueError:
        payload = raw.decode("utf-8", "replace")
    return resp.status, payload, resp


def test_binds_loopback_ephemeral(control: Any) -> None:
    assert control.url.startswith(f"http://127.0.0.1:{control.port}/?token=")
    assert len(control.token) >= 24


def test_api_requires_token(control: Any) -> None:
    status, body, _ = request(control, "GET", "/api/state", token=False)
    assert status == 401 and "token" in body["error"]
    status, _, _ = request(control, "GET", "/api/state", token=False, headers={TOKEN_HEADER: "nope"})
    assert status == 401
    status, body, _ = request(control, "GET", f"/api/state?token={control.token}", token=False)
    assert status == 200 and "status" in body


def test_cookie_alone_does_not_open_the_api(control: Any) -> None:
    status, _, _ = request(control, "GET", "/api/state", token=False, headers={"Cookie": f"{COOKIE}={control.token}"})
    assert status == 401


@pytest.mark.parametrize("host", ["evil.example:80", "attacker.test", "192.168.1.5:{port}", "127.0.0.1:1"])
def test_foreign_host_refused(control: Any, host: str) -> None:
    status, _, _ = request(control, "GET", "/api/state", headers={"Host": host.format(port=control.port)})
    assert status == 403


def test_foreign_origin_refused(control: Any) -> None:
    status, body, _ = request(control, "POST", "/api/stop", {}, headers={"Origin": "http://evil.example"})
    assert status == 403 and "Cross-origin" in body["error"]
    status, _, _ = request(control, "POST", "/api/stop", {}, headers={"Origin": f"http://127.0.0.1:{control.port}"})
    assert status == 200


def test_index_needs_token_then_sets_cookie(control: Any) -> None:
    status, body, _ = request(control, "GET", "/", token=False)
    assert status == 401 and "tray" in body
    status, _, resp = request(control, "GET", f"/?token={control.token}", token=False)
    assert status == 302 and resp.getheader("Location") == "/"
    cookie = resp.getheader("Set-Cookie") or ""
    assert f"{COOKIE}={control.token}" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    status, html, resp = request(control, "GET", "/", token=False, headers={"Cookie": f"{COOKIE}={control.token}"})
    assert status == 200 and control.token in html and "{{TOKEN}}" not in html
    assert "default-src 'self'" in (resp.getheader("Content-Security-Policy") or "")
    for name in ("app.css", "app.js", "monitor.js", "settings.js"):
        status, _, _ = request(control, "GET", "/" + name, token=False)
        assert status == 200
    status, _, _ = request(control, "GET", "/monitor.css", token=False)
    assert status == 404


def test_state_shape(control: Any, controller: Any) -> None:
    add_account(controller)
    status, s, _ = request(control, "GET", "/api/state")
    assert status == 200
    port = controller.config.port
    assert s["status"]["running"] is False and s["status"]["active_accounts"] == 1
    assert s["config"] == {
        "port": port, "allow_lan_access": False, "auth_mode": "auto", "auto_start": False,
        "effective_auth_mode": "off", "overrides": [],
        "monitor": {"enabled": True, "retention_days": 30, "store_bodies": False},
        "zai": {"enabled": False, "base_url": "https://api.z.ai/api/anthropic",
                "effective_base_url": "https://api.z.ai/api/anthropic", "dispatch_mode": "off",
                "models": {"opus": "glm-4.7", "sonnet": "glm-4.7", "haiku": "glm-4.5-air"}, "key_set": False},
    }
    assert s["api_key"] == controller.api_key()
    assert s["urls"]["openai"] == f"http://127.0.0.1:{port}/v1"
    assert {sn["id"] for sn in s["snippets"]} >= {"claude-code", "openai", "anthropic", "gemini"}
    assert all(controller.api_key() in sn["text"] for sn in s["snippets"])
    (acc,) = s["accounts"]
    assert acc["email"] == "a@example.com" and acc["tier"] == "standard-tier"
    assert set(acc["models"]) == {"claude-sonnet-4-6", "gemini-2.5-flash", "gemini-3-pro-high"}
    assert s["login"] == {"state": "idle"}


def test_port_change_start_stop(control: Any, controller: Any) -> None:
    add_account(controller)
    new_port = free_port()
    status, s, _ = request(control, "POST", "/api/config", {"key": "port", "value": new_port})
    assert status == 200 and s["config"]["port"] == new_port
    status, s, _ = request(control, "POST", "/api/start", {})
    assert status == 200 and s["status"]["running"] and s["status"]["port"] == new_port
    status, body, _ = request(control, "POST", "/api/config", {"key": "port", "value": free_port()})
    assert status == 400 and "Stop the proxy" in body["error"]
    status, s, _ = request(control, "POST", "/api/stop", {})
    assert status == 200 and not s["status"]["running"]


def test_start_errors_are_reported(control: Any, controller: Any) -> None:
    status, body, _ = request(control, "POST", "/api/start", {})
    assert status == 400 and "No available account" in body["error"]
    _, s, _ = request(control, "GET", "/api/state")
    assert "No available account" in s["status"]["error"]


def test_config_validation_and_whitelist(control: Any) -> None:
    status, body, _ = request(control, "POST", "/api/config", {"key": "port", "value": 70000})
    assert status == 400 and "between 1 and 65535" in body["error"]
    status, body, _ = request(control, "POST", "/api/config", {"key": "oauth.client_secret", "value": "x"})
    assert status == 400
    status, s, _ = request(control, "POST", "/api/config", {"key": "allow_lan_access", "value": True})
    assert status == 200 and s["config"]["allow_lan_access"] is True
    assert s["config"]["effective_auth_mode"] == "all_except_health"
    status, s, _ = request(control, "POST", "/api/config", {"key": "auth_mode", "value": "off"})
    assert status == 200 and s["config"]["effective_auth_mode"] == "off"
    status, s, _ = request(control, "POST", "/api/config", {"key": "auto_start", "value": True})
    assert status == 200 and s["config"]["auto_start"] is True
    status, body, _ = request(control, "POST", "/api/config", "not an object")
    assert status == 400


def test_api_key_edit_and_regenerate(control: Any, controller: Any) -> None:
    status, body, _ = request(control, "POST", "/api/key", {"key": "short"})
    assert status == 400 and "sk-" in body["error"]
    status, body, _ = request(control, "POST", "/api/key", {"key": "pk-1234567890"})
    assert status == 400
    status, s, _ = request(control, "POST", "/api/key", {"key": "sk-my-own-key"})
    assert status == 200 and s["api_key"] == "sk-my-own-key" == controller.api_key()
    status, s, _ = request(control, "POST", "/api/key/regenerate", {})
    assert status == 200 and s["api_key"] != "sk-my-own-key" and s["api_key"].startswith("sk-")


def test_remove_account(control: Any, controller: Any) -> None:
    acc = add_account(controller)
    status, s, _ = request(control, "POST", "/api/accounts/remove", {"id": acc.id})
    assert status == 200 and s["accounts"] == []
    status, body, _ = request(control, "POST", "/api/accounts/remove", {"id": acc.id})
    assert status == 400 and "No account" in body["error"]


def test_refresh_token_needs_text(control: Any) -> None:
    status, body, _ = request(control, "POST", "/api/accounts/token", {"refresh_token": "  "})
    assert status == 400 and "refresh token" in body["error"]


def test_copy_and_show(control: Any, clipboard: Any) -> None:
    status, _, _ = request(control, "POST", "/api/copy", {"text": "hello"})
    assert status == 200 and clipboard.texts == ["hello"]
    status, _, _ = request(control, "POST", "/api/show", {})
    assert status == 200 and control.shown == [True]


def test_login_begin_reports_url(control: Any, controller: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    async def fake_login(open_url: Any, timeout: float = 300.0) -> Any:
        open_url("https://accounts.example/auth?x=1")
        import asyncio

        await asyncio.sleep(0.05)
        return add_account(controller, "new@example.com")

    monkeypatch.setattr(controller, "a_login", fake_login)
    status, s, _ = request(control, "POST", "/api/accounts/login", {})
    assert status == 200
    assert s["login"]["state"] == "waiting" and s["login"]["url"] == "https://accounts.example/auth?x=1"
    assert control.opened == ["https://accounts.example/auth?x=1"]
    import time

    for _ in range(100):
        _, s, _ = request(control, "GET", "/api/state")
        if s["login"]["state"] == "done":
            break
        time.sleep(0.02)
    assert s["login"] == {"state": "done", "email": "new@example.com"}
    assert [a["email"] for a in s["accounts"]] == ["new@example.com"]


def test_login_error_is_reported(control: Any, controller: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from trayproxy.accounts.service import AccountError

    async def failing_login(open_url: Any, timeout: float = 300.0) -> Any:
        raise AccountError("Google said no")

    monkeypatch.setattr(controller, "a_login", failing_login)
    status, s, _ = request(control, "POST", "/api/accounts/login", {})
    assert status == 200 and s["login"] == {"state": "error", "message": "Google said no"}
