"""ControlServer account actions: retry now, enable/disable, open Google's link (only the
account's own link, never a URL the page sends)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.control.test_server import request as raw_request
from tests.fakes.cloudcode import FakeCloudCode
from tests.helpers import make_controller

VERIFY_URL = "https://accounts.google.com/signin/continue?sarp=1&scc=1"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[FakeCloudCode, Any, Any, list[str]]]:
    from trayproxy.control.server import ControlServer

    fake = FakeCloudCode()
    fake.add_account("a@example.com", quota={"gemini-3-flash": 0.5})
    with fake:
        ctl = make_controller(env=fake.env())
        opened: list[str] = []
        srv = ControlServer(ctl, copy=lambda t: True, open_url=lambda url: opened.append(url) or True)
        ctl.engine.call(srv.start())
        try:
            ctl.add_refresh_token("rt-a@example.com")
            yield fake, ctl, srv, opened
        finally:
            ctl.engine.call(srv.stop())
            ctl.close()


def request(srv: Any, method: str, path: str, body: Any = None, *, token: bool = True) -> tuple[int, Any]:
    status, payload, _ = raw_request(srv, method, path, body, token=token)
    return status, payload


def row(state: dict[str, Any], email: str) -> dict[str, Any]:
    return next(a for a in state["accounts"] if a["email"] == email)


def test_open_link_only_the_accounts_own(world: Any) -> None:
    _, ctl, srv, opened = world
    acc = ctl.store.all()[0]
    s, body = request(srv, "POST", "/api/accounts/open", {"id": acc.id})
    assert s == 404 and "no link" in body["error"]
    ctl.pool.pause_for_verification(acc.id, link=VERIFY_URL, link_text=None, message="verify")
    s, body = request(srv, "POST", "/api/accounts/open", {"id": acc.id, "url": "https://evil.example/"})
    assert s == 200 and opened == [VERIFY_URL]
    s, _ = request(srv, "POST", "/api/accounts/open", {"id": acc.id}, token=False)
    assert s == 401 and opened == [VERIFY_URL]


def test_retry_clears_the_pause_and_cooldowns_and_enable_toggles(world: Any) -> None:
    fake, ctl, srv, _ = world
    acc = ctl.store.all()[0]
    ctl.pool.pause_for_verification(acc.id, link=VERIFY_URL, link_text=None, message="verify")
    ctl.pool.cool_down(acc.id, "gemini-3-flash", 300, "rate-limited", kind="rate_limit")
    s, state = request(srv, "GET", "/api/state")
    assert row(state, "a@example.com")["status"] == "verify" and row(state, "a@example.com")["cooldowns"]
    s, state = request(srv, "POST", "/api/accounts/retry", {"id": acc.id})
    assert s == 200 and row(state, "a@example.com")["status"] == "active"
    assert row(state, "a@example.com")["cooldowns"] == []
    s, state = request(srv, "POST", "/api/accounts/enable", {"id": acc.id, "enabled": False})
    assert s == 200 and row(state, "a@example.com")["status"] == "disabled"
    assert row(state, "a@example.com")["disabled_by"] == "user"
    s, state = request(srv, "POST", "/api/accounts/enable", {"id": acc.id, "enabled": True})
    assert s == 200 and row(state, "a@example.com")["status"] == "active"
    s, body = request(srv, "POST", "/api/accounts/enable", {"id": acc.id, "enabled": "yes"})
    assert s == 400
    s, body = request(srv, "POST", "/api/accounts/retry", {"id": "nobody"})
    assert s == 400 and "No account matches" in body["error"]


def test_retry_reports_a_failed_check(world: Any) -> None:
    fake, ctl, srv, _ = world
    acc = ctl.store.all()[0]
    fake.account("a@example.com").revoke()
    s, body = request(srv, "POST", "/api/accounts/retry", {"id": acc.id})
    assert s == 400 and "expired or revoked" in body["error"]
    s, state = request(srv, "GET", "/api/state")
    r = row(state, "a@example.com")
    assert r["status"] == "disabled" and r["disabled_by"] == "sign-in" and "Sign in again" in r["todo"]
