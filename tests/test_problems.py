"""A failed Start's error lasts only as long as its cause (trayproxy/problems.py + the Controller)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from tests.conftest import free_port
from tests.helpers import add_fake_account, make_controller
from trayproxy.controller import NO_ACCOUNT_ERROR, Controller, StartError
from trayproxy.problems import NO_ACCOUNT, PORT, StartProblem, next_free_port


@pytest.fixture
def ctl() -> Iterator[Controller]:
    c = make_controller()
    yield c
    c.close()


def listening_socket(port: int = 0) -> socket.socket:
    s = socket.socket()
    s.bind(("127.0.0.1", port))
    s.listen()
    return s


def changes(ctl: Controller) -> tuple[threading.Event, list[object]]:
    seen: list[object] = []
    cleared = threading.Event()

    def on_status(st: object) -> None:
        seen.append(st)
        if getattr(st, "error", None) is None:
            cleared.set()

    ctl.subscribe(on_status)
    return cleared, seen


def test_no_account_error_clears_when_an_account_is_added(ctl: Controller) -> None:
    with pytest.raises(StartError):
        ctl.start()
    st = ctl.status()
    assert st.error == NO_ACCOUNT_ERROR and st.problem and st.problem["kind"] == NO_ACCOUNT
    cleared, _ = changes(ctl)
    add_fake_account(ctl)
    ctl.reload()  # the listener hears the change (the page and tray follow it)
    assert cleared.is_set()
    st = ctl.status()
    assert st.error is None and st.problem is None and st.active_accounts == 1 and not st.running


def test_no_account_error_clears_when_zai_can_answer(ctl: Controller) -> None:
    with pytest.raises(StartError):
        ctl.start()
    ctl.set_config("zai.enabled", True)
    assert ctl.status().error == NO_ACCOUNT_ERROR  # mode is still off: nothing can answer yet
    ctl.set_config("zai.dispatch_mode", "fallback")
    assert ctl.status().error is None


def test_a_disabled_account_does_not_clear_it(ctl: Controller) -> None:
    with pytest.raises(StartError):
        ctl.start()
    acc = add_fake_account(ctl)
    ctl.pool.disable(acc.id, "invalid_grant: revoked")
    assert ctl.status().error == NO_ACCOUNT_ERROR


def test_port_in_use_offers_the_next_free_port_and_clears_when_the_port_changes(ctl: Controller) -> None:
    add_fake_account(ctl)
    blocker = listening_socket()
    port = blocker.getsockname()[1]
    try:
        ctl.set_config("port", port)
        with pytest.raises(StartError):
            ctl.start()
        p = ctl.status().problem
        assert p is not None and p["kind"] == PORT and p["port"] == port and p["reason"] == "in_use"
        assert p["suggested_port"] and p["suggested_port"] > port
        with socket.socket() as probe:  # the suggestion really is free
            probe.bind(("127.0.0.1", p["suggested_port"]))
        ctl.set_config("port", p["suggested_port"])
        st = ctl.status()
        assert st.error is None and st.problem is None
        assert ctl.start().running
    finally:
        blocker.close()


def test_a_taken_port_is_found_before_any_account(ctl: Controller) -> None:
    """Antigravity-Manager on the port and no account yet: the port is what Start and the
    launch check say (with the program holding it), not "add an account"."""
    import os

    blocker = listening_socket()
    port = blocker.getsockname()[1]
    try:
        ctl.set_config("port", port)
        problem = ctl.check_port()  # the tray asks at launch
        assert problem is not None and problem.kind == PORT and problem.holder
        assert problem.holder.endswith(f"(pid {os.getpid()})") and problem.suggested_port
        assert ctl.status().problem == problem.to_dict()
        with pytest.raises(StartError, match="is listening there"):
            ctl.start()
        assert ctl.status().problem["kind"] == PORT
        with pytest.raises(StartError, match="is listening there"):
            ctl.start(without_account=True)  # `serve` binds without an account: not here
    finally:
        blocker.close()
    assert ctl.check_port() is None
    st = ctl.start(without_account=True)  # `serve` waiting for its first account: bound all the same
    assert st.running and st.active_accounts == 0


def test_port_error_clears_when_the_port_is_freed(ctl: Controller) -> None:
    add_fake_account(ctl)
    blocker = listening_socket()
    port = blocker.getsockname()[1]
    ctl.set_config("port", port)
    with pytest.raises(StartError):
        ctl.start()
    cleared, _ = changes(ctl)
    assert ctl.status().error is not None
    blocker.close()
    assert cleared.wait(15), "the error outlived the program that held the port"
    assert ctl.status().error is None
    assert ctl.start().running and ctl.status().port == port


def test_a_successful_start_clears_any_problem(ctl: Controller) -> None:
    add_fake_account(ctl)
    ctl.start_problem = StartProblem("other", "something went wrong earlier")
    assert ctl.status().error == "something went wrong earlier"
    assert ctl.start().running
    ctl.stop()
    assert ctl.status().error is None


def test_next_free_port_skips_taken_ports() -> None:
    base = free_port()
    taken = listening_socket(base + 1) if base < 65000 else None
    try:
        got = next_free_port("127.0.0.1", base)
        assert got is not None and got > base and got != base + 1 or taken is None
    finally:
        if taken:
            taken.close()


def test_settings_file_problem_clears_when_the_settings_are_saved() -> None:
    from tests.helpers import make_controller as make
    from trayproxy.paths import AppPaths

    c = make()
    try:
        paths: AppPaths = c.paths
    finally:
        c.close()
    paths.config_file.write_text("{ not json")
    from tests.conftest import MemoryKeyring
    from trayproxy.controller import Controller

    broken = Controller(paths, secrets_backend=MemoryKeyring(), env={})
    try:
        assert broken.status().config_problem
        broken.set_config("monitor.retention_days", 7)  # the page (or CLI) saves a setting
        assert broken.status().config_problem is None
        assert "retention_days" in paths.config_file.read_text()
    finally:
        broken.close()
