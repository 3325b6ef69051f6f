"""Shared helpers for the UI tests: an in-memory keychain, a Controller in a temp dir, a FakeIcon."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("PYSTRAY_BACKEND", "dummy")  # before anything imports pystray

import keyring.backend  # noqa: E402
import keyring.errors  # noqa: E402


class MemoryKeyring(keyring.backend.KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        try:
            del self.store[(service, username)]
        except KeyError:
            raise keyring.errors.PasswordDeleteError(username) from None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_controller(home: Path) -> Any:
    from trayproxy.controller import Controller
    from trayproxy.paths import AppPaths

    ctl = Controller(AppPaths(home, home), secrets_backend=MemoryKeyring(), env={})
    ctl.set_config("port", free_port())
    return ctl


def add_account(ctl: Any, email: str = "a@example.com", *, models: bool = True) -> Any:
    from trayproxy.accounts.store import Account, ModelQuota

    acc = Account.new(email, now=time.time())
    acc.project = "proj-" + email.split("@")[0]
    acc.tier = "standard-tier"
    if models:
        now = time.time()
        acc.models = {
            "claude-sonnet-4-6": ModelQuota(remaining=0.82, reset_time=now + 3 * 3600),
            "gemini-2.5-flash": ModelQuota(remaining=0.35, reset_time=now + 40 * 60),
            "gemini-3-pro-high": ModelQuota(remaining=0.1, reset_time=now + 26 * 3600),
        }
        acc.quota_updated = now
    ctl.store.put(acc, refresh_token="rt-" + email)
    ctl.reload()
    return acc


def make_fake_icon_class() -> type:
    import pystray

    class FakeIcon(pystray.Icon):  # type: ignore[misc, valid-type]
        """pystray's dummy backend with the platform hooks stubbed (tray-stack-notes 2.3)."""

        def __init__(self, *a: Any, **kw: Any) -> None:
            self.calls: list[str] = []
            self.notified: list[tuple[str, str | None]] = []
            super().__init__(*a, **kw)

        def _show(self) -> None:
            self.calls.append("show")

        def _hide(self) -> None:
            self.calls.append("hide")

        def _update_icon(self) -> None:
            self.calls.append("icon")
            self._icon_valid = True

        def _update_title(self) -> None:
            self.calls.append("title")

        def _update_menu(self) -> None:
            self.calls.append("menu")

        def _run(self) -> None:
            self._stopped = threading.Event()
            self._mark_ready()
            self._stopped.wait(10)

        def _stop(self) -> None:
            self.calls.append("stop")
            self._stopped.set()

    return FakeIcon


def menu_items(menu: Any) -> dict[str, Any]:
    """Visible menu items by text, submenus flattened (dynamic menus are resolved)."""
    import pystray

    out: dict[str, Any] = {}
    for item in menu:
        if item is pystray.Menu.SEPARATOR:
            continue
        out[str(item.text)] = item
        if item.submenu:
            out.update(menu_items(item.submenu))
    return out
