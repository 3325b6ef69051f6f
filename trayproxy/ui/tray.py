"""The tray icon and its menu, rebuilt from the Controller's live status.

At a glance (ui/glance.py): state and base URL, accounts (active / cooling with the soonest
return / needing verification), the model in use with its quota, and a tooltip with state and
URL. A Start that failed shows why only while the cause stands (trayproxy/problems.py), and its
notification is withdrawn when the cause goes; a port in use offers the next free port. Copy
actions confirm with a notification (never with the copied text when it holds the key).

The tray only signals the engine and draws what it hears back:
- Actions (start, stop, copy, sign-in, quit, connect) run on a worker thread: the Controller's
  synchronous methods wait there for the engine loop, which makes every change.
- The GUI thread (pystray's menu callbacks) never waits for the loop: the menu is built from
  `self.status`, the Status pushed to `controller.subscribe` (on the engine thread), and
  `self._rows`, the account rows `refresh` read last. `refresh` runs on the engine thread for a
  status change (a direct read there), on the monitor's writer thread for a request batch and on
  worker threads after an action (a read through the loop: Controller.list_accounts).
- pystray's gtk/appindicator backends marshal icon, title and menu updates to the GLib loop and
  win32 posts messages; on macOS updates go through AppHelper.callAfter.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from typing import Any

import pystray
from PIL import Image

from trayproxy.control.api import ControllerAPI, Status
from trayproxy.control.clipboard import Copier
from trayproxy.control.snippets import claude_code_setup, client_urls
from trayproxy.i18n import Translator, translator
from trayproxy.icons import render_icon, state_for
from trayproxy.ui import glance
from trayproxy.ui.tray_accounts import menu_items, view_key
from trayproxy.ui.tray_connect import tray_menu as connect_tray_menu

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


tooltip = glance.tooltip


class TrayApp:
    def __init__(
        self,
        controller: ControllerAPI,
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
        self.last_served: dict[str, Any] | None = None  # the newest request the monitor recorded
        self._error_noted = False  # a "could not start" notification is up
        self._images: dict[str, Image.Image] = {}
        self._shown: tuple[Any, ...] | None = None
        self._rows: list[dict[str, Any]] = list(getattr(self.status, "accounts", None) or [])  # as last drawn
        self._ui = _ui_dispatch()
        self._clients_read = 0.0  # when the menu last asked for the clients to be read again
        self.icon = icon_factory("trayproxy", self.image(), self._tooltip(), menu=pystray.Menu(self._items))
        self._shown = self._view_key()
        controller.subscribe(self._on_status)
        if controller.monitor is not None:
            controller.monitor.subscribe(self._on_requests)

    # -- state -> icon -------------------------------------------------------------------
    @property
    def tr(self) -> Translator:
        """The tray's language: the one the Status says the app speaks."""
        return translator(getattr(self.status, "language", None))

    @property
    def state(self) -> str:
        st = self.status
        # no account yet is the normal first run, not an error (no red icon for it)
        error = st.error if (st.problem or {}).get("kind") != "no_account" else None
        return state_for(st.running, self.starting, error)

    def image(self) -> Image.Image:
        st = self.state
        if st not in self._images:
            self._images[st] = render_icon(st, self.icon_size, template=self.template)
        return self._images[st]

    def _on_status(self, status: Status) -> None:
        self.status = status
        if self._error_noted and not status.error:
            self._withdraw_notice()  # the cause is gone: so is the notice about it
        self.refresh()

    def _on_requests(self, batch: list[Any]) -> None:
        """Monitor batches (writer thread): remember what served the newest request."""
        served = [r for r in batch if getattr(r, "upstream_model", None)]
        if not served:
            return
        r = max(served, key=lambda x: x.ts)
        self.last_served = {"upstream_model": r.upstream_model, "upstream": r.upstream, "account_id": r.account_id}
        self.refresh()

    def _withdraw_notice(self) -> None:
        self._error_noted = False
        remove = getattr(self.icon, "remove_notification", None)
        if remove is None or not getattr(self.icon, "HAS_NOTIFICATION", False):
            return
        try:
            remove()
        except Exception:
            log.debug("could not withdraw the notification", exc_info=True)

    def _glance(self) -> tuple[str, str, str | None]:
        """(header, accounts line, model line) from the account views of the pushed Status."""
        import time

        rows, now, tr = self._rows, time.time(), self.tr
        return (glance.header(self.status, self.starting, tr), glance.accounts_line(rows, tr),
                glance.model_line(self.last_served, rows, now, tr))

    def _tooltip(self) -> str:
        return tooltip(self.status, self.starting, self._glance()[1], self.tr)

    def _view_key(self) -> tuple[Any, ...]:
        """What the icon, tooltip and menu show, from the pushed Status (its account views and
        connected clients: the page's)."""
        st = self.status
        self._rows = list(getattr(st, "accounts", None) or [])
        return (self.state, st.running, st.port, st.base_url, st.error, self._glance(), self.tr.lang,
                (st.problem or {}).get("suggested_port"), getattr(st, "config_problem", None),
                view_key(self._rows), tuple((c["client"], c["connected"]) for c in getattr(st, "clients", [])),
                glance.version_line(st, self.tr))

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
                self.icon.title = self._tooltip()
                self.icon.update_menu()
                if self.template:
                    self.mark_template()
            except Exception:
                log.exception("tray update failed")

        self._ui(apply)

    # -- menu ----------------------------------------------------------------------------
    def _read_clients(self) -> None:
        try:
            self.controller.refresh_clients()  # a change comes back as a pushed Status
        except Exception:
            log.debug("reading the clients' settings failed", exc_info=True)

    def _items(self) -> tuple[pystray.MenuItem, ...]:
        import time

        # A client connected from the CLI shows on the next drawing: its files are read on a worker
        # thread (never on this GUI thread), at most every few seconds.
        if time.monotonic() - self._clients_read > 5.0:
            self._clients_read = time.monotonic()
            self.spawn(self._read_clients)
        st, _ = self.status, self.tr._
        urls = client_urls(st.base_url)
        Item, Sep = pystray.MenuItem, pystray.Menu.SEPARATOR
        header, accounts, model = self._glance()
        toggle = Item(_("Stop"), self._act(self.do_stop), default=True) if st.running else Item(
            _("Start"), self._act(self.do_start), default=True, enabled=not self.starting
        )
        copy_menu = pystray.Menu(
            Item(_("OpenAI clients: {url}", url=urls["openai"]),
                 self._act(lambda: self.do_copy(urls["openai"], _("OpenAI base URL")))),
            Item(_("Anthropic / Claude Code: {url}", url=urls["anthropic"]),
                 self._act(lambda: self.do_copy(urls["anthropic"], _("Anthropic base URL")))),
            Item(_("Gemini: {url}", url=urls["gemini"]),
                 self._act(lambda: self.do_copy(urls["gemini"], _("Gemini base URL")))),
            Sep,
            Item(_("Copy Claude Code setup"), self._act(self.do_copy_claude_setup)),
        )
        free = (st.problem or {}).get("suggested_port") if not st.running else None
        use_port = (Item(_("Use port {port} and start", port=free), self._act(lambda: self.do_use_port(free))),
                    ) if free else ()
        attention = menu_items(self._rows, Item, lambda url: self._act(lambda: self.do_open_url(url)),
                               lambda: self._act(self.do_open_settings), self.tr)
        version = glance.version_line(st, self.tr)  # Google refuses the client version: the settings say what to do
        return (
            Item(header, None, enabled=False),
            Item(accounts, None, enabled=False),
            *((Item(model, None, enabled=False),) if model else ()),
            *((Item(version, self._act(self.do_open_settings)),) if version else ()),
            *attention,
            Sep,
            toggle,
            *use_port,
            Item(_("Copy base URL"), copy_menu),
            connect_tray_menu(self),  # Connect ▸ client ▸ Connect / Check / Undo (ui/tray_connect.py)
            Sep,
            Item(_("Open Settings…"), self._act(self.do_open_settings)),
            Item(_("Add Account…"), self._act(self.do_add_account)),
            Sep,
            Item(_("Quit"), self._act(self.do_quit)),
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
            st = self.controller.status()
            tr = translator(st.language)
            msg = glance.problem_notice(st.problem, tr) or str(e)  # the page's words; the OS text is in the log
            self._error_noted = True
            self.notify(tr._("trayproxy could not start"), msg)
        except Exception as e:
            log.exception("start failed")
            self.notify(self.tr._("trayproxy could not start"), str(e))
        finally:
            self.starting = False
            self.status = self.controller.status()
            self.refresh()

    def do_use_port(self, port: int) -> None:
        """The port in use was taken by another program: move to the free one and start."""
        try:
            self.controller.set_config("port", port)
        except Exception as e:
            self.notify(self.tr._("Could not change the port"), str(e))
            return
        self.do_start()

    def do_stop(self) -> None:
        try:
            self.status = self.controller.stop()
        except Exception as e:
            log.exception("stop failed")
            self.notify(self.tr._("trayproxy could not stop"), str(e))
        self.refresh()

    def do_copy(self, text: str, what: str, shown: str | None = None) -> None:
        """Copy, then confirm with a notification naming what was copied (`shown`, or the text
        itself; never echo a text that holds the key: notices are logged)."""
        _ = self.tr._
        if not self.copy(text):
            self.notify(_("Could not copy"), _("No clipboard helper found: install xclip, xsel or wl-clipboard"))
            return
        self.notify(_("{what} copied", what=what), shown if shown is not None else text)

    def do_copy_claude_setup(self) -> None:
        _ = self.tr._
        self.do_copy(claude_code_setup(self.status.base_url, self.controller.api_key()), _("Claude Code setup"),
                     _("ANTHROPIC_BASE_URL={url} and your API key, ready to paste in a terminal",
                       url=self.status.base_url))

    def do_open_settings(self) -> None:
        try:
            self.open_settings()
        except Exception as e:
            log.exception("open settings failed")
            self.notify(self.tr._("Could not open the settings"), str(e))

    def do_open_url(self, url: str) -> None:
        import webbrowser

        if not webbrowser.open(url):
            self.notify(self.tr._("Could not open the browser"), url)

    def do_add_account(self) -> None:
        try:
            self.begin_login()
        except Exception as e:
            log.exception("sign-in failed to start")
            self.notify(self.tr._("Could not start the sign-in"), str(e))

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
