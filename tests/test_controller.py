from __future__ import annotations

import logging
import socket
import threading

import pytest

from tests.conftest import free_port
from tests.helpers import add_fake_account, make_controller, request
from trayproxy.controller import NO_ACCOUNT_ERROR, StartError


def test_start_refuses_without_usable_account() -> None:
    ctl = make_controller()
    try:
        with pytest.raises(StartError) as ei:
            ctl.start()
        assert str(ei.value) == NO_ACCOUNT_ERROR
        st = ctl.status()
        assert not st.running and st.error == NO_ACCOUNT_ERROR
        # a disabled account does not count
        acc = add_fake_account(ctl)
        ctl.pool.disable(acc.id, "invalid_grant: revoked")
        with pytest.raises(StartError):
            ctl.start()
    finally:
        ctl.close()


def test_start_allowed_with_zai_dispatch_and_no_account() -> None:
    ctl = make_controller()
    try:
        ctl.set_config("zai.enabled", True)
        ctl.set_config("zai.dispatch_mode", "fallback")
        st = ctl.start()
        assert st.running and st.active_accounts == 0 and "zai (fallback)" in st.upstreams
    finally:
        ctl.close()


def test_port_in_use_gives_clear_error_and_stays_stopped() -> None:
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    port = blocker.getsockname()[1]
    ctl = make_controller(port=port)
    add_fake_account(ctl)
    try:
        with pytest.raises(StartError) as ei:
            ctl.start()
        msg = str(ei.value)
        assert msg.startswith(f"Failed to start the proxy server: address 127.0.0.1:{port} could not be bound: ")
        assert "in use" in msg.lower()
        st = ctl.status()
        assert not st.running and st.error == msg
        # the app keeps working: change the port while stopped and start
        new_port = free_port()
        ctl.set_config("port", new_port)
        st = ctl.start()
        assert st.running and st.port == new_port and st.error is None
        assert request(new_port, "GET", "/healthz")[0] == 200
    finally:
        ctl.close()
        blocker.close()


def test_start_stop_start_same_port_and_status() -> None:
    ctl = make_controller()
    add_fake_account(ctl)
    add_fake_account(ctl, "b@example.com", "proj-b")
    port = ctl.config.port
    try:
        for _ in range(3):
            st = ctl.start()
            assert st.running and st.port == port and st.base_url == f"http://127.0.0.1:{port}"
            assert st.active_accounts == 2 and st.openai_base_url.endswith("/v1")
            assert request(port, "GET", "/health")[0] == 200
            st = ctl.stop()
            assert not st.running
            with pytest.raises(OSError):
                request(port, "GET", "/health")
        # port and LAN cannot move under a running server: saved, and the note says so
        ctl.start()
        other = free_port()
        ctl.set_config("port", other)
        note = ctl.bound_note("port") or ""
        assert f"127.0.0.1:{port}" in note and f"port {other}" in note and "Stop and Start" in note
        assert ctl.status().port == port and request(port, "GET", "/health")[0] == 200
        ctl.set_config("allow_lan_access", True)
        assert "this machine only" in (ctl.bound_note("allow_lan_access") or "")
        ctl.stop()
        assert ctl.bound_note("port") is None
    finally:
        ctl.close()


def test_sync_calls_work_from_any_thread() -> None:
    ctl = make_controller()
    add_fake_account(ctl)
    results: list[object] = []
    try:
        t = threading.Thread(target=lambda: results.append(ctl.start().running))
        t.start()
        t.join(10)
        assert results == [True]
    finally:
        ctl.close()


def test_secrets_never_reach_config_or_logs(trayproxy_home, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        ctl = make_controller()
        add_fake_account(ctl)
        key = ctl.api_key()
        ctl.set_api_key("sk-my-own-secret-key")
        ctl.start()
        port = ctl.status().port
        request(port, "GET", "/v1/models", headers={"Authorization": "Bearer sk-my-own-secret-key"})
        request(port, "GET", "/v1/models", headers={"Authorization": "Bearer sk-wrong-but-secretish"})
        ctl.close()
    for f in trayproxy_home.rglob("*"):
        if f.is_file() and not f.name.startswith("monitor.db"):
            data = f.read_bytes()
            for secret in (key.encode(), b"sk-my-own-secret-key", b"rt-a@example.com"):
                assert secret not in data, f"{secret!r} leaked into {f}"
    for secret in (key, "sk-my-own-secret-key", "sk-wrong-but-secretish", "rt-a@example.com"):
        assert secret not in caplog.text


# -- which thread does what (controller.py's module comment) ----------------------------------


class ThreadKeyring:
    """An in-memory keychain that notes the thread of every call."""

    def __init__(self) -> None:
        self.store: dict[tuple[str, str], str] = {}
        self.threads: list[str] = []

    def get_password(self, service: str, name: str) -> str | None:
        self.threads.append(threading.current_thread().name)
        return self.store.get((service, name))

    def set_password(self, service: str, name: str, value: str) -> None:
        self.threads.append(threading.current_thread().name)
        self.store[(service, name)] = value

    def delete_password(self, service: str, name: str) -> None:
        self.threads.append(threading.current_thread().name)
        self.store.pop((service, name), None)


def test_changes_write_in_worker_threads_and_apply_on_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """config.json, accounts.json and the keychain are written off the engine loop (which the
    proxy streams on), from the tray's thread or from the loop's own handlers alike; the
    listeners hear each change on the engine thread."""
    import trayproxy.controller as controller_module
    from trayproxy.controller import Controller
    from trayproxy.fileio import atomic_write
    from trayproxy.paths import app_paths

    keyring = ThreadKeyring()
    ctl = Controller(app_paths(), secrets_backend=keyring, overrides={"port": free_port()})
    writes: list[tuple[str, str]] = []
    heard: list[str] = []

    def save_config(path, cfg):  # type: ignore[no-untyped-def]
        writes.append(("config", threading.current_thread().name))
        return real_save(path, cfg)

    def write(self, data):  # type: ignore[no-untyped-def]
        writes.append(("accounts", threading.current_thread().name))
        atomic_write(self.path, data)

    real_save = controller_module.save_config
    monkeypatch.setattr(controller_module, "save_config", save_config)
    monkeypatch.setattr(type(ctl.store), "_write", write)
    ctl.subscribe(lambda st: heard.append(threading.current_thread().name))
    try:
        acc = add_fake_account(ctl)  # the test's own thread, no loop: written at once
        keyring.threads.clear()
        writes.clear()
        ctl.set_config("monitor.retention_days", 9)
        ctl.set_api_key("sk-from-another-thread")
        ctl.set_zai_key("zai-key")
        ctl.set_account_enabled(acc.id, False)
        ctl.engine.call(ctl.a_set_config("monitor.retention_days", 10))  # as a ControlServer handler does
        ctl.remove_account(acc.id)
        assert ctl.raw_config.monitor.retention_days == 10 and ctl.api_key() == "sk-from-another-thread"
        assert ctl.has_zai_key() and ctl.find_account(acc.id) is None
        assert [w[0] for w in writes] == ["config", "accounts", "config", "accounts"]
        assert keyring.threads, "the keychain was written"
        engine = "trayproxy-engine"
        assert all(name != engine for _, name in writes), writes
        assert all(name != engine for name in keyring.threads), keyring.threads
        assert heard and set(heard) == {engine}
    finally:
        ctl.close()


def test_sync_changes_refuse_on_the_loop() -> None:
    ctl = make_controller()
    try:
        async def on_the_loop() -> str:
            try:
                ctl.set_config("monitor.retention_days", 3)
            except RuntimeError as e:
                return str(e)
            return "accepted"

        assert "await the a_* method" in ctl.engine.call(on_the_loop())
        assert ctl.raw_config.monitor.retention_days != 3
    finally:
        ctl.close()


def test_reads_from_another_thread_are_answered_by_the_loop() -> None:
    ctl = make_controller()
    acc = add_fake_account(ctl)
    try:
        seen: list[str] = []
        real = ctl._list_accounts

        def list_accounts() -> list[dict[str, object]]:
            seen.append(threading.current_thread().name)
            return real()

        ctl._list_accounts = list_accounts  # type: ignore[method-assign]
        assert [r["id"] for r in ctl.list_accounts()] == [acc.id]
        assert seen == ["trayproxy-engine"]
    finally:
        ctl.close()
    assert [r["id"] for r in ctl.list_accounts()] == [acc.id]  # the loop is gone: read here


def test_config_changes_take_turns() -> None:
    """Two changes at once on the loop: each builds on the other, neither is lost."""
    import asyncio

    ctl = make_controller()
    try:
        async def both() -> None:
            await asyncio.gather(ctl.a_set_config("monitor.retention_days", 11),
                                 ctl.a_set_config("auth_mode", "strict"))

        ctl.engine.call(both())
        from trayproxy.config import load_config

        saved = load_config(ctl.paths.config_file).config
        assert saved.monitor.retention_days == 11 and saved.auth_mode == "strict"
    finally:
        ctl.close()
