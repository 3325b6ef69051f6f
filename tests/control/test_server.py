"""ControlServer: token, Host/Origin guards and the JSON API over a real Controller."""

from __future__ import annotations

import http.client
import json
from typing import Any

import pytest

from tests.control.helpers import add_account, feed_monitor, free_port, new_account
from tests.helpers import raw_exchange
from trayproxy.control.server import COOKIE, TOKEN_HEADER


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


def test_index_carries_the_token_only_when_opened_by_the_app(control: Any) -> None:
    # no token: the page shell, with no token in it (session.js looks in sessionStorage)
    status, html, resp = request(control, "GET", "/", token=False)
    assert status == 200 and control.token not in html and "{{TOKEN}}" not in html
    assert '<script src="/session.js"></script>' in html
    status, body, _ = request(control, "GET", "/?token=wrong", token=False)
    assert status == 401 and "tray" in body
    status, html, resp = request(control, "GET", f"/?token={control.token}", token=False)
    assert status == 200 and control.token in html
    assert "default-src 'self'" in (resp.getheader("Content-Security-Policy") or "")
    for name in ("app.css", "app.js", "monitor.js", "settings.js", "session.js"):
        status, _, _ = request(control, "GET", "/" + name, token=False)
        assert status == 200
    status, _, _ = request(control, "GET", "/monitor.css", token=False)
    assert status == 404


def test_no_control_token_in_any_cookie(control: Any) -> None:
    """Regression (attack run): browsers send 127.0.0.1's cookies to every port, so a cookie that
    held the token handed control to any other local web server. No response sets a cookie, and
    a cookie holding the token opens neither the page's token nor the API."""
    for method, path in (("GET", f"/?token={control.token}"), ("GET", "/"), ("GET", "/api/state")):
        _, _, resp = request(control, method, path, token=path == "/api/state")
        assert resp.getheader("Set-Cookie") is None
    stolen = {"Cookie": f"{COOKIE}={control.token}"}
    status, html, _ = request(control, "GET", "/", token=False, headers=stolen)
    assert status == 200 and control.token not in html
    status, _, _ = request(control, "GET", "/api/state", token=False, headers=stolen)
    assert status == 401


def test_browser_launcher_posts_the_token(control: Any) -> None:
    """The browser fallback's launcher file (Origin null) posts the token in a form body."""
    form = {"Content-Type": "application/x-www-form-urlencoded", "Origin": "null"}
    conn = http.client.HTTPConnection("127.0.0.1", control.port, timeout=30)
    conn.request("POST", "/", body=f"token={control.token}",
                 headers={"Host": f"127.0.0.1:{control.port}", **form})
    resp = conn.getresponse()
    html = resp.read().decode()
    assert resp.status == 200 and control.token in html and resp.getheader("Set-Cookie") is None
    conn.request("POST", "/", body="token=guess", headers={"Host": f"127.0.0.1:{control.port}", **form})
    resp = conn.getresponse()
    assert resp.status == 401 and control.token not in resp.read().decode()
    # Origin null opens nothing else
    conn.request("POST", "/api/stop", body="{}", headers={"Host": f"127.0.0.1:{control.port}", "Origin": "null",
                                                          TOKEN_HEADER: control.token})
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 403
    conn.close()


def test_state_shape(control: Any, controller: Any) -> None:
    add_account(controller)
    status, s, _ = request(control, "GET", "/api/state")
    assert status == 200
    port = controller.config.port
    assert s["status"]["running"] is False and s["status"]["active_accounts"] == 1
    assert s["summary"]["line"] == "1 account ready" and s["accounts"][0]["words"]["badge"] == "Ready"
    assert "accounts" not in s["status"] and s["language"] == {"setting": "auto", "lang": "en"}
    assert s["config"] == {
        "language": "auto", "port": port, "allow_lan_access": False, "auth_mode": "auto", "auto_start": False,
        "effective_auth_mode": "all_except_health", "overrides": [],  # auto asks for the key (issue #27)
        "client_version": "", "use_ai_credits": False,
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
    later = free_port()
    status, s, _ = request(control, "POST", "/api/config", {"key": "port", "value": later})
    assert status == 200 and s["config"]["port"] == later and s["status"]["port"] == new_port
    assert f"port {later}" in (s["status"]["restart_note"] or "")
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
    assert body["error"].startswith("The port must be")  # the page's words, not the config key
    status, body, _ = request(control, "POST", "/api/config", {"key": "zai.base_url", "value": "ftp://x"})
    assert body["error"].startswith("The z.ai base URL must be a URL") and "zai." not in body["error"]
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
        acc = new_account("new@example.com")  # on the loop, as the real sign-in adds it
        await controller.store.a_put(acc, refresh_token="rt-new@example.com")
        return acc

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


# -- request log (Monitor tab) ---------------------------------------------------------------


@pytest.fixture
def fed(controller: Any) -> dict[str, Any]:
    """Two accounts and 30 varied requests in the log (index 0 newest)."""
    a = add_account(controller)
    b = add_account(controller, "second.account@example.com")
    recs = feed_monitor(controller, [a, b], 30)
    return {"a": a, "b": b, "recs": recs}


def test_monitor_list_newest_first_and_paging(control: Any, fed: dict[str, Any]) -> None:
    status, body, _ = request(control, "GET", "/api/monitor/requests")
    assert status == 200 and body["has_more"] is False
    rows = body["requests"]
    assert [r["id"] for r in rows] == [f"req-{i:03d}" for i in range(30)]
    first = rows[0]
    assert first["route"] == "/v1/messages"  # the query string never reaches the log
    assert first["upstream"] == "google" and first["account_id"] == fed["a"].id and first["stream"] is True
    assert "request_body" not in first  # bodies only in the detail
    _, page1, _ = request(control, "GET", "/api/monitor/requests?limit=10")
    assert len(page1["requests"]) == 10 and page1["has_more"] is True
    _, page2, _ = request(control, "GET", f"/api/monitor/requests?limit=10&before={page1['requests'][-1]['ts']}")
    assert [r["id"] for r in page2["requests"]] == [f"req-{i:03d}" for i in range(10, 20)]
    # the live poll: rows that started at `after` or later
    after = rows[4]["ts"]
    _, live, _ = request(control, "GET", f"/api/monitor/requests?after={after}")
    assert [r["id"] for r in live["requests"]] == [f"req-{i:03d}" for i in range(5)]
    _, capped, _ = request(control, "GET", "/api/monitor/requests?limit=100000")
    assert capped["limit"] == 500


def test_monitor_filters(control: Any, fed: dict[str, Any]) -> None:
    def ids(query: str) -> set[str]:
        status, body, _ = request(control, "GET", "/api/monitor/requests?" + query)
        assert status == 200, body
        return {r["id"] for r in body["requests"]}

    recs = fed["recs"]
    assert ids("status=error") == {r.id for r in recs if r.status >= 400} and len(ids("status=error")) == 12
    assert ids("status=ok") == {r.id for r in recs if r.status < 400}
    assert ids("status=429") == {r.id for r in recs if r.status == 429}
    assert ids("model=glm-4.7") == {r.id for r in recs if r.upstream_model == "glm-4.7"}
    assert ids("model=gpt-4o") == {r.id for r in recs if r.client_model == "gpt-4o"}  # client names too
    assert ids(f"account={fed['b'].id}") == {r.id for r in recs if r.account_id == fed["b"].id}
    assert ids("protocol=gemini") == {r.id for r in recs if r.protocol == "gemini"}
    assert ids(f"status=error&protocol=anthropic&account={fed['a'].id}") == {
        r.id for r in recs if r.status >= 400 and r.protocol == "anthropic" and r.account_id == fed["a"].id}
    for bad in ("status=bad", "before=yesterday", "limit=many"):
        status, body, _ = request(control, "GET", "/api/monitor/requests?" + bad)
        assert status == 400 and body["error"]


def test_monitor_detail_has_every_field_and_bodies_when_stored(control: Any, fed: dict[str, Any]) -> None:
    from trayproxy.monitor.record import COLUMNS

    status, r, _ = request(control, "GET", "/api/monitor/requests/req-003")
    assert status == 200 and set(COLUMNS) <= set(r)
    assert r["status"] == 429 and "rate limited" in r["error"] and r["user_agent"].startswith("claude-cli/")
    assert r["bodies_stored"] is True
    assert json.loads(r["request_body"])["messages"][0]["content"] == "Request number 3 <b>not bold</b>"
    assert json.loads(r["response_body"])["id"] == "msg_3"
    status, r, _ = request(control, "GET", "/api/monitor/requests/req-001")
    assert status == 200 and r["bodies_stored"] is False and r["request_body"] is None
    status, body, _ = request(control, "GET", "/api/monitor/requests/nope")
    assert status == 404 and "no longer" in body["error"]


def test_monitor_stats_hourly_and_totals(control: Any, fed: dict[str, Any]) -> None:
    status, s, _ = request(control, "GET", "/api/monitor/stats?hours=24")
    assert status == 200
    recs = fed["recs"]
    assert len(s["hourly"]) == 24
    assert sum(h["requests"] for h in s["hourly"]) == 30  # all within the last 19 hours
    assert sum(h["errors"] for h in s["hourly"]) == 12
    assert sum(h["input_tokens"] for h in s["hourly"]) == sum(r.input_tokens for r in recs)
    assert s["summary"]["requests"] == 30 and s["summary"]["output_tokens"] == sum(r.output_tokens for r in recs)
    by_account = {t["key"]: t for t in s["by_account"]}
    assert by_account[fed["a"].id]["requests"] == sum(1 for r in recs if r.account_id == fed["a"].id)
    # rows with no account told apart: z.ai answers, and requests never sent upstream (refused)
    assert by_account["zai"]["requests"] == sum(1 for r in recs if r.upstream == "zai")
    assert by_account[None]["requests"] == sum(1 for r in recs if r.account_id is None and r.upstream is None)
    by_model = {t["key"]: t for t in s["by_model"]}
    assert by_model["glm-4.7"]["input_tokens"] == sum(r.input_tokens for r in recs if r.upstream_model == "glm-4.7")
    assert {"gpt-4o", "gemini-2.5-flash", "glm-4.5-air"} <= set(s["models"])
    assert s["protocols"] == ["anthropic", "gemini", "openai"]
    assert {t["key"] for t in s["by_upstream"]} == {"google", "zai", None}


def test_monitor_export_csv_and_json(control: Any, fed: dict[str, Any]) -> None:
    import csv
    import io

    status, text, resp = request(control, "GET", "/api/monitor/export?format=csv")
    assert status == 200 and resp.getheader("Content-Type", "").startswith("text/csv")
    disposition = resp.getheader("Content-Disposition") or ""
    assert disposition.startswith('attachment; filename="trayproxy-requests-') and disposition.endswith('.csv"')
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 30 and rows[0]["id"] == "req-000" and "request_body" not in rows[0]
    status, data, resp = request(control, "GET", "/api/monitor/export?format=json&status=error")
    assert status == 200 and resp.getheader("Content-Type", "").startswith("application/json")
    assert len(data) == 12 and all(r["status"] >= 400 for r in data)
    status, body, _ = request(control, "GET", "/api/monitor/export?format=xml")
    assert status == 400 and "csv or json" in body["error"]


def test_monitor_export_saved_for_the_window(control: Any, fed: dict[str, Any], tmp_path: Any) -> None:
    control.downloads_dir = lambda: tmp_path / "Downloads"
    status, body, _ = request(control, "POST", "/api/monitor/export/save", {"format": "json", "protocol": "gemini"})
    assert status == 200
    first = body["path"]
    saved = json.loads(open(first, encoding="utf-8").read())
    assert {r["protocol"] for r in saved} == {"gemini"} and len(saved) == 3
    status, body, _ = request(control, "POST", "/api/monitor/export/save", {"format": "json", "protocol": "gemini"})
    assert status == 200 and body["path"] != first  # never overwrites
    (tmp_path / "blocked").write_text("a file, not a folder")
    control.downloads_dir = lambda: tmp_path / "blocked" / "Downloads"
    status, body, _ = request(control, "POST", "/api/monitor/export/save", {"format": "csv"})
    assert status == 400 and "Could not save" in body["error"]


def test_monitor_clear(control: Any, fed: dict[str, Any]) -> None:
    status, body, _ = request(control, "POST", "/api/monitor/clear", {})
    assert status == 200 and body == {"cleared": 30}
    _, body, _ = request(control, "GET", "/api/monitor/requests")
    assert body["requests"] == []
    _, s, _ = request(control, "GET", "/api/monitor/stats")
    assert s["summary"]["requests"] == 0 and s["by_account"] == [] and sum(h["requests"] for h in s["hourly"]) == 0


def test_monitor_settings_apply_live(control: Any, controller: Any) -> None:
    mon = controller.monitor
    status, s, _ = request(control, "POST", "/api/config", {"key": "monitor.retention_days", "value": 7})
    assert status == 200 and s["config"]["monitor"]["retention_days"] == 7 and mon.retention_days == 7
    status, s, _ = request(control, "POST", "/api/config", {"key": "monitor.store_bodies", "value": True})
    assert status == 200 and s["config"]["monitor"]["store_bodies"] is True and mon.store_bodies is True
    status, s, _ = request(control, "POST", "/api/config", {"key": "monitor.enabled", "value": False})
    assert status == 200 and s["config"]["monitor"]["enabled"] is False and mon.enabled is False
    status, body, _ = request(control, "POST", "/api/config", {"key": "monitor.retention_days", "value": 0})
    assert status == 400 and "between 1 and 3650" in body["error"] and mon.retention_days == 7
    status, body, _ = request(control, "POST", "/api/config", {"key": "monitor.max_rows", "value": 1000})
    assert status == 400 and "cannot change" in body["error"]


# -- z.ai ----------------------------------------------------------------------------------------


def test_zai_settings_round_trip_and_key_is_write_only(control: Any, controller: Any) -> None:
    from tests.fakes.anthropic_api import ZAI_KEY

    seen: list[str] = []

    def call(method: str, path: str, body: Any = None) -> tuple[int, Any]:
        status, payload, _ = request(control, method, path, body)
        seen.append(json.dumps(payload))
        return status, payload

    for key, value in (("zai.enabled", True), ("zai.base_url", "https://zai.example/api/anthropic/"),
                       ("zai.dispatch_mode", "fallback"),
                       ("zai.models", {"opus": "glm-5", "sonnet": "glm-4.7", "haiku": "glm-4.5-air"})):
        status, s = call("POST", "/api/config", {"key": key, "value": value})
        assert status == 200, s
    z = s["config"]["zai"]
    assert z["enabled"] is True and z["base_url"] == "https://zai.example/api/anthropic"  # normalised
    assert z["dispatch_mode"] == "fallback" and z["models"]["opus"] == "glm-5"
    assert controller.config.zai.dispatch_mode == "fallback" and "zai (fallback)" in s["status"]["upstreams"]

    for key, value, message in (("zai.dispatch_mode", "sometimes", "must be one of off, exclusive, pooled, fallback"),
                                ("zai.base_url", "ftp://x", "must be a URL"),
                                ("zai.models", {"opus": ""}, "non-empty"),
                                ("zai.enabled", "yes", "true or false")):
        status, body = call("POST", "/api/config", {"key": key, "value": value})
        assert status == 400 and message in body["error"], body

    assert s["config"]["zai"]["key_set"] is False
    status, s = call("POST", "/api/zai/key", {"key": f"  {ZAI_KEY}\n"})
    assert status == 200 and s["config"]["zai"]["key_set"] is True and controller.has_zai_key()
    status, body = call("POST", "/api/zai/key", {"key": "two words"})
    assert status == 400 and "spaces" in body["error"]
    status, body = call("POST", "/api/zai/key", {"key": "   "})
    assert status == 400
    status, s = call("GET", "/api/state")
    assert s["config"]["zai"]["key_set"] is True
    assert not any(ZAI_KEY in text for text in seen)  # the page never receives the key
    status, s = call("POST", "/api/zai/key/remove", {})
    assert status == 200 and s["config"]["zai"]["key_set"] is False and not controller.has_zai_key()


def test_zai_test_connection_against_a_fake_server(control: Any, controller: Any) -> None:
    from tests.fakes.anthropic_api import ZAI_KEY, FakeAnthropic
    from tests.fakes.runner import ServerThread

    fake = FakeAnthropic()
    with ServerThread(fake.app()) as url:
        request(control, "POST", "/api/config", {"key": "zai.base_url", "value": url + "/api/anthropic"})
        status, body, _ = request(control, "POST", "/api/zai/test", {})
        # in the page's words: no internal key name (zai.api_key / zai_api_key)
        assert status == 400 and "No z.ai API key is set" in body["error"] and "api_key" not in body["error"]
        request(control, "POST", "/api/zai/key", {"key": "zai-wrong-key"})
        status, body, _ = request(control, "POST", "/api/zai/test", {})
        assert status == 502 and "refused the API key (401" in body["error"] and "zai-wrong-key" not in body["error"]
        request(control, "POST", "/api/zai/key", {"key": ZAI_KEY})
        status, body, _ = request(control, "POST", "/api/zai/test", {})
        assert status == 200 and body == {"ok": True, "base_url": url + "/api/anthropic",
                                          "models": ["glm-4.7", "glm-4.5-air"]}
        assert fake.requests[-1]["path"] == "/api/anthropic/v1/models"
    status, body, _ = request(control, "POST", "/api/zai/test", {})  # server gone
    assert status == 502 and "could not be reached" in body["error"]


# -- start at login ------------------------------------------------------------------------------


def test_autostart_toggle(control: Any, login_home: Any) -> None:
    entry = login_home / "trayproxy.desktop"
    status, st, _ = request(control, "GET", "/api/autostart")
    assert status == 200 and st["enabled"] is False and st["path_or_key"] == str(entry) and st["command"]
    status, st, _ = request(control, "POST", "/api/autostart", {"enabled": True})
    assert status == 200 and st["enabled"] is True and entry.is_file()
    assert "Exec=" in entry.read_text()
    _, st, _ = request(control, "GET", "/api/autostart")
    assert st["enabled"] is True and st["stale"] is False
    status, st, _ = request(control, "POST", "/api/autostart", {"enabled": False})
    assert status == 200 and st["enabled"] is False and not entry.exists()
    status, body, _ = request(control, "POST", "/api/autostart", {"enabled": "yes"})
    assert status == 400 and "true or false" in body["error"]


def test_autostart_error_is_reported(control: Any, login_home: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = login_home.parent.parent / "not-a-dir"
    blocker.write_text("a file where the config folder should be")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(blocker))
    status, body, _ = request(control, "POST", "/api/autostart", {"enabled": True})
    assert status == 500 and body["error"].startswith(f"cannot write {blocker}/autostart/trayproxy.desktop")


@pytest.mark.parametrize("header", [b"X-Note: caf\xe9\r\n", b"User-Agent: \xff\xfe\r\n",
                                    b"X-Trayproxy-Token: \xff\xfe\r\n", b"Origin: http://\xff\r\n"])
def test_non_utf8_header_bytes_get_a_clean_400(control: Any, header: bytes,
                                               caplog: pytest.LogCaptureFixture) -> None:
    """Regression (attack run): header bytes that are not UTF-8 gave a 500 and a traceback."""
    token = b"" if header.startswith(b"X-Trayproxy-Token") else f"{TOKEN_HEADER}: {control.token}\r\n".encode()
    head = f"GET /api/state HTTP/1.1\r\nHost: 127.0.0.1:{control.port}\r\n".encode() + token + header
    head += b"Connection: close\r\n\r\n"
    answer = raw_exchange(control.port, head)
    assert answer.startswith(b"HTTP/1.1 400") and b"UTF-8" in answer
    assert "Traceback" not in caplog.text and "failed" not in caplog.text


@pytest.mark.parametrize("query", ["limit=nan", "limit=inf", "limit=-inf", "before=nan", "after=inf"])
def test_non_finite_numbers_are_400(control: Any, query: str) -> None:
    """Regression (attack run): limit=nan|inf gave a 500."""
    status, body, _ = request(control, "GET", f"/api/monitor/requests?{query}")
    assert status == 400 and "finite" in body["error"]


@pytest.mark.parametrize("hours", ["nan", "inf"])
def test_non_finite_hours_are_400(control: Any, hours: str) -> None:
    status, body, _ = request(control, "GET", f"/api/monitor/stats?hours={hours}")
    assert status == 400 and "finite" in body["error"]
def test_static_serves_only_the_listed_files(control: Any) -> None:
    for name in ("app.js", "overview.js", "monitor-chart.js", "settings.js", "app.css"):
        status, _, resp = request(control, "GET", "/" + name, token=False)
        assert status == 200, name
    for name in ("/nothing.js", "/index.css", "/control.js", "/..%2fcontrol.py"):
        status, _, _ = request(control, "GET", name, token=False)
        assert status == 404, name
