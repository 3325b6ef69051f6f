"""Shared helpers for the UI tests: a FakeIcon, menu items (the Controller helpers are in
tests/control/helpers.py)."""

from __future__ import annotations

import os
import threading
from typing import Any

os.environ.setdefault("PYSTRAY_BACKEND", "dummy")  # before anything imports pystray


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
