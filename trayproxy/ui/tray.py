"""The tray icon and its menu, rebuilt from the Controller's live status.

The tray thread does no I/O: actions that may block (start, stop, copy, sign-in, quit) run on a
worker thread, and the icon follows `controller.subscribe(...)` callbacks, which arrive on the
engine thread. pystray's gtk/appindicator backends already marshal icon, title and menu updates
to the GLib loop and win32 posts messages; on macOS updates go through AppHelper.callAfter.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from typing import Any

import pystray
from PIL import Image

from trayproxy.connect.ui import tray_menu as connect_tray_menu
from trayproxy.ui.clipboard import Copier
from trayproxy.ui.icons import render_icon, state_for
from trayproxy.ui.snippets import claude_code_setup, client_urls
from trayproxy.ui.tray_accounts import menu_items, view_key

__all__ = ["TrayApp", "run_in_thread", "tooltip"]

log = logging.getLogger("trayproxy.ui.tray")
Notify = Callable[[str, str], None]


def run_in_thread(fn: Callable[[], None]) -> None:
    threading.Thread(target=fn, name="tray-action", daemon=True).start()


def _ui_dispatch() -> Callable[[Callable[[], None]], None]:
    if sys.platform == "darwin":
        try:
            from PyObjCTools import AppHelper  # type: ignore[import-not-found, unused-ignore]

            return lambda fn: AppHelper.callAfter(fn)
        except ImportError:
            pass
    return lambda fn: fn()


def tooltip(status: Any, starting: bool = False) -> str:
    if starting:
        state = "starting..."
    elif status.running:
        state = "running"
    elif status.error:
        state = "stopped (error)"
    else:
        state = "stopped"
    lines = [f"trayproxy: {state}"]
    if status.running:
        lines.append(status.base_url)
    n = status.active_accounts
    lines.append(f"{n} active account{'' if n == 1 else 's'}")
    if getattr(status, "config_problem", None):
        lines.append("Settings file cannot be read: API key required, LAN off until fixed")
    return "\n".join(lines)


class TrayApp:
    def __init__(
        self,
        controller: Any,
        *,
        open_settings: Callable[[], None],
        begin_login: Callable[[], None],
        copy: Copier,
        notify: Notify,
        spawn: Callable[[Callable[[], None]], None] = run_in_thread,
        icon_factory: Callable[..., Any] = pystray.Icon,
        icon_size: int = 64,
        template: bool = False,
    ) -> None:
        self.controller = controller
        self.open_settings = open_settings
        self.begin_login = begin_login
        self.copy = copy
        self.notify = notify
        self.spawn = spawn
        self.icon_size = icon_size
        self.template = template
        self.starting = False
        self.status = controller.status()
        self._images: dict[str, Image.Image] = {}
        self._shown: tuple[Any, ...] | None = None
        self._ui = _ui_dispatch()
        self.icon = icon_factory("trayproxy", self.image(), tooltip(self.status), menu=pystray.Menu(self._items))
        self._shown = self._view_key()
        controller.subscribe(self._on_status)

    # -- state -> icon -------------------------------------------------------------------
    @property
    def state(self) -> str:
        return state_for(self.status.running, self.starting, self.status.error)

    def image(self) -> Image.Image:
        st = self.state
        if st not in self._images:
            self._images[st] = render_icon(st, self.icon_size, template=self.template)
        return self._images[st]

    def _on_status(self, status: Any) -> None:
        self.status = status
        self.refresh()

    def _view_key(self) -> tuple[Any, ...]:
        st = self.status
        return (self.state, st.running, st.port, st.base_url, st.error, st.active_accounts,
                getattr(st, "config_problem", None), view_key(self._account_rows()))

    def _account_rows(self) -> list[dict[str, Any]]:
        try:
            return list(self.controller.list_accounts())
        except Exception:
            log.debug("account list for the tray failed", exc_info=True)
            return []

    def refresh(self) -> None:
        """Push state to the icon; skipped when nothing visible changed (an appindicator menu
        that is open would close if it were replaced)."""
        key = self._view_key()
        if key == self._shown:
            return
        self._shown = key

        def apply() -> None:
            try:
                self.icon.icon = self.image()
                self.icon.title = tooltip(self.status, self.starting)
                self.icon.update_menu()
                if self.template:
                    self.mark_template()
            except Exception:
                log.exception("tray update failed")

        self._ui(apply)

    # -- menu ----------------------------------------------------------------------------
    def _items(self) -> tuple[pystray.MenuItem, ...]:
        st = self.status
        urls = client_urls(st.base_url)
        Item, Sep = pystray.MenuItem, pystray.Menu.SEPARATOR
        if self.starting:
            header = "Starting..."
        elif st.running:
            header = f"Running on port {st.port}"
        elif st.error:
            header = "Stopped: " + (st.error if len(st.error) <= 60 else st.error[:57] + "...")
        else:
            header = "Stopped"
        toggle = Item("Stop", self._act(self.do_stop), default=True) if st.running else Item(
            "Start", self._act(self.do_start), default=True, enabled=not self.starting
        )
        copy_menu = pystray.Menu(
            Item(f"OpenAI clients: {urls['openai']}", self._act(lambda: self.do_copy(urls["openai"]))),
            Item(f"Anthropic / Claude Code: {urls['anthropic']}", self._act(lambda: self.do_copy(urls["anthropic"]))),
            Item(f"Gemini: {urls['gemini']}", self._act(lambda: self.do_copy(urls["gemini"]))),
            Sep,
            Item("Copy Claude Code setup", self._act(self.do_copy_claude_setup)),
        )
        accounts = f"{st.active_accounts} active account{'' if st.active_accounts == 1 else 's'}"
        attention = menu_items(self._account_rows(), Item, lambda url: self._act(lambda: self.do_open_url(url)))
        return (
            Item(header, None, enabled=False),
            Item(accounts, None, enabled=False),
            *attention,
            Sep,
            toggle,
            Item("Copy base URL", copy_menu),
            connect_tray_menu(self),  # Connect ▸ client ▸ Connect / Check / Undo (trayproxy/connect/ui.py)
            Sep,
            Item("Open Settings...", self._act(self.do_open_settings)),
            Item("Add Account...", self._act(self.do_add_account)),
            Sep,
            Item("Quit", self._act(self.do_quit)),
        )

    def _act(self, fn: Callable[[], None]) -> Callable[[Any, Any], None]:
        """A menu callback that hands `fn` to a worker thread."""

        def action(icon: Any, item: Any) -> None:
            self.spawn(fn)

        return action

    # -- actions (worker thread) ---------------------------------------------------------
    def do_start(self) -> None:
        from trayproxy.proxy.server import StartError

        self.starting = True
        self.refresh()
        try:
            self.status = self.controller.start()
        except StartError as e:
            self.notify("trayproxy could not start", str(e))
        except Exception as e:
            log.exception("start failed")
            self.notify("trayproxy could not start", str(e))
        finally:
            self.starting = False
            self.status = self.controller.status()
            self.refresh()

    def do_stop(self) -> None:
        try:
            self.status = self.controller.stop()
        except Exception as e:
            log.exception("stop failed")
            self.notify("trayproxy could not stop", str(e))
        self.refresh()

    def do_copy(self, text: str) -> None:
        if not self.copy(text):
            # never echo the text: the Claude Code setup holds the API key, and notices are logged
            self.notify("Could not copy", "No clipboard helper found: install xclip, xsel or wl-clipboard")

    def do_copy_claude_setup(self) -> None:
        self.do_copy(claude_code_setup(self.status.base_url, self.controller.api_key()))

    def do_open_settings(self) -> None:
        try:
            self.open_settings()
        except Exception as e:
            log.exception("open settings failed")
            self.notify("Could not open the settings", str(e))

    def do_open_url(self, url: str) -> None:
        import webbrowser

        if not webbrowser.open(url):
            self.notify("Could not open the browser", url)

    def do_add_account(self) -> None:
        try:
            self.begin_login()
        except Exception as e:
            log.exception("sign-in failed to start")
            self.notify("Could not start the sign-in", str(e))

    def do_quit(self) -> None:
        try:
            self.controller.stop()
        except Exception:
            log.exception("stop on quit failed")
        self.icon.stop()

    def mark_template(self) -> None:
        """macOS: flag the menubar image as a template so it follows light/dark mode.

        pystray's darwin backend builds the NSImage itself and has no option for this."""
        image = getattr(self.icon, "_icon_image", None)
        item = getattr(self.icon, "_status_item", None)
        if image is None or item is None or not hasattr(image, "setTemplate_"):
            return
        try:
            image.setTemplate_(True)
            item.button().setImage_(image)
        except Exception:
            log.debug("could not mark the tray image as a template", exc_info=True)

    def setup(self, icon: Any) -> None:
        """pystray's setup callback: show the icon once the loop runs."""
        icon.visible = True
