"""The ControlServer's /api/cli routes (what the CLI calls while an instance runs), in process."""

from __future__ import annotations

from typing import Any

import pytest

from tests.control.helpers import add_account
from tests.control.test_server import request
from trayproxy.control.instance import Instance
from trayproxy.control.local import ControlClient, ControlError


def client(control: Any) -> ControlClient:
    return ControlClient(Instance(pid=1, control_url=control.url, kind="tray", cli_token=control.cli_token), timeout=10)


def test_routes_need_the_cli_token_not_the_pages(control: Any) -> None:
    """The page's token (which the page's JavaScript holds) does not open the state routes,
    which can change every setting (oauth URLs included): only the instance file's token does."""
    for path in ("/api/cli/status", "/api/cli/accounts"):
        assert request(control, "GET", path, token=False)[0] == 401
        assert request(control, "GET", path)[0] == 401  # the page's token
        assert request(control, "GET", f"{path}?token={control.cli_token}", token=False)[0] == 401  # header only
        assert request(control, "GET", path, token=False, headers={"X-Trayproxy-Token": control.cli_token})[0] == 200
    assert request(control, "POST", "/api/cli/config", {"key": "oauth.token_url", "value": "http://evil/"})[0] == 401
    assert request(control, "GET", "/api/state", token=False, headers={"X-Trayproxy-Token": control.cli_token})[0] == 401


def test_config_key_and_accounts_through_the_client(control: Any, controller: Any) -> None:
    c = client(control)
    assert c.call("cli/status")["kind"] == "tray"
    assert c.call("cli/config", {"key": "auth_mode", "value": "strict"}) == {"key": "auth_mode", "note": None}
    assert controller.config.effective_auth_mode == "strict"
    with pytest.raises(ControlError, match="auth_mode must be one of") as e:
        c.call("cli/config", {"key": "auth_mode", "value": "sometimes"})
    assert e.value.status == 400
    with pytest.raises(ControlError, match="unknown setting"):
        c.call("cli/config", {"key": "nope", "value": 1})

    new = c.call("cli/key/regenerate", {})["key"]
    assert new == controller.api_key() and new.startswith("sk-")
    with pytest.raises(ControlError, match="must start with 'sk-'"):
        c.call("cli/key", {"key": "short"})
    c.call("cli/key", {"key": "sk-set-through-the-client"})
    assert controller.api_key() == "sk-set-through-the-client"

    assert c.call("cli/zai/key", {"key": "zai-key-1234"}) == {"key_set": True}
    assert controller.has_zai_key()
    with pytest.raises(ControlError, match="without spaces"):
        c.call("cli/zai/key", {"key": "has space"})
    assert c.call("cli/zai/key", {"key": None}) == {"key_set": False}

    add_account(controller)
    assert c.call("cli/accounts/disable", {"account": "a@example.com"})["account"]["disabled"] is True
    assert controller.status().active_accounts == 0
    assert c.call("cli/accounts/enable", {"account": "a@example.com"})["account"]["disabled"] is False
    assert controller.status().active_accounts == 1
    with pytest.raises(ControlError, match="No account matches"):
        c.call("cli/accounts/remove", {"account": "nobody@example.com"})
    with pytest.raises(ControlError, match="account is missing"):
        c.call("cli/accounts/remove", {})
    assert c.call("cli/accounts/remove", {"account": "a@example.com"})["account"]["email"] == "a@example.com"
    assert c.call("cli/accounts")["accounts"] == []


def test_a_removed_account_is_never_written_back(controller: Any) -> None:
    """Work in flight for an account (a quota refresh, a token rotation) must not resurrect it."""
    acc = add_account(controller)
    controller.remove_account(acc.id)
    controller.store.put(acc)  # e.g. refresh_account() finishing after the remove
    controller.store.set_refresh_token(acc.id, "rt-rotated")
    controller.store.load()
    assert controller.store.all() == [] and controller.store.refresh_token(acc.id) is None


def test_port_change_while_bound_is_saved_with_a_note(control: Any, controller: Any) -> None:
    from tests.control.helpers import free_port

    add_account(controller)
    controller.start()
    bound = controller.status().port
    other = free_port()
    note = client(control).call("cli/config", {"key": "port", "value": other})["note"]
    assert f"127.0.0.1:{bound}" in note and f"port {other}" in note
    assert controller.raw_config.port == other and controller.status().port == bound
