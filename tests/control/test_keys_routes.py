"""The Keys tab's control API (control/keys_routes.py) and `trayproxy keys` through the CLI's
routes: the key comes back once, never again, never from the list."""

from __future__ import annotations

import argparse
from typing import Any

import pytest

from tests.control.test_models_routes import call


def test_create_list_revoke(control: Any, controller: Any) -> None:
    status, out = call(control, "keys/create", {"name": "ci", "rpm": 60, "models": "gemini-* claude-*",
                                                "daily_tokens": 1000})
    assert status == 200 and out["key"].startswith("sk-tp-")
    rec = out["record"]
    assert rec["rpm"] == 60 and rec["models"] == ["gemini-*", "claude-*"] and rec["state"] == "active"
    assert "hash" not in rec
    status, listed = call(control, "keys")
    assert status == 200 and [k["name"] for k in listed["keys"]] == ["ci"]
    assert out["key"] not in str(listed) and "hash" not in listed["keys"][0]
    assert listed["shared"] is None  # embedded
    assert controller.ctx.keys.ring.match([out["key"]]) is not None  # live for the proxy at once
    status, err = call(control, "keys/create", {"name": "ci"})
    assert status == 400 and "exists already" in err["error"]
    status, err = call(control, "keys/create", {"name": "x", "rpm": 0})
    assert status == 400 and "rpm must be a whole number" in err["error"]
    status, out2 = call(control, "keys/revoke", {"key": "ci"})
    assert status == 200 and out2["record"]["state"] == "revoked"
    assert controller.ctx.keys.ring.match([out["key"]]) is None


def test_the_cli_goes_through_the_running_instance_and_prints_the_key_alone(
        control: Any, controller: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from trayproxy import cli_keys, cli_state
    from trayproxy.cli_state import RemoteTarget
    from trayproxy.control.local import ControlClient

    class Here(RemoteTarget):
        def __init__(self) -> None:
            inst = argparse.Namespace(origin=control.origin, cli_token=control.cli_token,
                                      pid=0, kind="serve")
            super().__init__(controller.paths, ControlClient(inst))  # type: ignore[arg-type]

    from contextlib import contextmanager

    @contextmanager
    def target(paths: Any = None) -> Any:
        yield Here()

    monkeypatch.setattr(cli_keys, "state_target", target)
    monkeypatch.setattr(cli_state, "state_target", target)
    args = argparse.Namespace(keys_cmd="create", name="bob", models=None, rpm=5, tpm=None, daily_tokens=None,
                              expires="30d")
    assert cli_keys.cmd_keys(args) == 0
    out, err = capsys.readouterr()
    secret = out.strip()
    assert secret.startswith("sk-tp-") and "\n" not in secret
    assert "Created the key 'bob'" in err and "5 req/min" in err and "expires" in err
    assert controller.ctx.keys.ring.match([secret]).name == "bob"
    assert cli_keys.cmd_keys(argparse.Namespace(keys_cmd="list")) == 0
    out, _ = capsys.readouterr()
    assert "bob" in out and "active" in out and secret not in out
    assert cli_keys.cmd_keys(argparse.Namespace(keys_cmd="revoke", key="bob")) == 0
    assert controller.ctx.keys.ring.match([secret]) is None


def test_the_monitor_totals_name_each_keys_usage(control: Any, controller: Any) -> None:
    from tests.shared.nodes import row

    status, out = call(control, "monitor/stats")
    assert status == 200 and out["by_key"] == []  # no client key used yet: no table
    _, made = call(control, "keys/create", {"name": "ci"})
    kid = made["record"]["id"]
    for i in range(3):
        controller.monitor.record(row(i, key_id=kid))
    controller.monitor.record(row(9))
    controller.monitor.flush()
    _, out = call(control, "monitor/stats")
    by = {r["name"]: r for r in out["by_key"]}
    assert by["ci"]["requests"] == 3 and by["ci"]["input_tokens"] == 9 and by[None]["requests"] == 1
    _, listed = call(control, "keys")
    assert listed["usage"][kid]["requests"] == 3
