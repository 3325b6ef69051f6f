"""`trayproxy` with a display: the tray app (tray on the main thread, engine loop, window child).

Startup: if another tray app is alive (`paths.instance_file`), ask it to show its settings and
exit 0; if `trayproxy serve` owns the data dir, say so and exit. Otherwise take the data dir's
lock (control/local.py), start the Controller and the ControlServer, advertise the control URL,
and run the tray until Quit, which stops the proxy, closes the window and removes the instance
file; the lock goes with the process.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from trayproxy.control.api import ControllerAPI
from trayproxy.control.clipboard import copy_text
from trayproxy.control.instance import ask_to_show, read_instance, remove_instance, write_instance
from trayproxy.i18n import translator
from trayproxy.paths import AppPaths, app_paths
from trayproxy.ui import glance
from trayproxy.ui.notify import notify
from trayproxy.ui.window import SettingsWindow

__all__ = ["run_tray_app", "TrayRuntime"]

log = logging.getLogger("trayproxy.ui.app")


def _setup_logging(paths: AppPaths) -> None:
    """Warnings on stderr, everything from INFO in trayproxy.log (0600, rotating; applog.py)."""
    from trayproxy import applog

    applog.setup(log_file=paths.log_file)


class TrayRuntime:
    """Everything the tray app owns, wired together; `run()` blocks on the main thread."""

    def __init__(
        self, paths: AppPaths, *, controller: ControllerAPI | None = None, icon_factory: Any = None,
        window: Any = None
    ) -> None:
        from trayproxy.control.login import LoginRunner
        from trayproxy.control.server import ControlServer
        from trayproxy.controller import Controller
        # GTK's OpenGL set-up maps libLLVM (~45 MiB) that a tray icon never uses.
        os.environ.setdefault("GDK_GL", "disable")
        from trayproxy.ui.tray import TrayApp

        self.paths = paths
        self.controller: ControllerAPI = controller or Controller(paths)
        self.login = LoginRunner(self.controller, on_done=self._notify)
        self.window = window or SettingsWindow(lambda: self.control.url)
        self.control = ControlServer(self.controller, login=self.login, copy=copy_text, on_show=self.window.show)
        self.controller.engine.call(self.control.start())
        write_instance(paths.instance_file, self.control.url, kind="tray", cli_token=self.control.cli_token)
        extra = {"icon_factory": icon_factory} if icon_factory is not None else {}
        self.tray = TrayApp(
            self.controller,
            open_settings=self.window.show,
            begin_login=self._begin_login,
            copy=copy_text,
            notify=self._notify,
            template=sys.platform == "darwin",
            **extra,
        )

    def _begin_login(self) -> None:
        self.controller.engine.call(self.login.begin())

    def _notify(self, title: str, message: str) -> None:
        notify(getattr(self, "tray", None) and self.tray.icon, title, message)

    def _setup(self, icon: Any) -> None:
        self.tray.setup(icon)
        if sys.platform == "darwin":
            self.tray.mark_template()
        st = self.controller.status()
        cfg = self.controller.config
        if st.config_problem:
            self._notify(translator(st.language)._("trayproxy settings problem"), st.config_problem)
        zai_on = cfg.zai.enabled and cfg.zai.dispatch_mode != "off"
        self._check_port(auto_start=bool(cfg.auto_start and (st.accounts_total or zai_on)))
        if not getattr(icon, "HAS_MENU", True):
            # pystray's xorg backend (no PyGObject) has no menu: the settings window is the UI
            log.warning("this tray backend has no menu; install PyGObject for one (see the README)")
            self.window.show()
        elif st.accounts_total == 0 and not zai_on:
            self.window.show()  # first run: the settings page explains how to add an account
        elif cfg.auto_start:
            self.tray.do_start()

    def _check_port(self, *, auto_start: bool) -> None:
        """A taken port (Antigravity-Manager also listens on 8045) is said at launch, before
        anyone signs in or presses Start: tray header and notification, the page's banner, and
        the menu's "Use port N and start". An auto-start says it itself."""
        if auto_start or not self.controller.engine.running:  # (Quit already came)
            return
        try:
            problem = self.controller.check_port()
        except Exception:
            log.exception("port check failed")
            return
        notice = glance.problem_notice(problem.to_dict()) if problem is not None else None
        if notice:
            self._notify("trayproxy cannot use its port", notice)

    def run(self) -> None:
        try:
            self.tray.icon.run(setup=self._setup)
        except Exception:
            # gtk/appindicator raise a GLib error at stop when no notification daemon runs
            log.warning("tray loop ended with an error", exc_info=True)
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        self.window.close()
        try:
            self.controller.engine.call(self.control.stop(), timeout=10)
        except Exception:
            log.exception("control server did not stop cleanly")
        self.controller.close()
        remove_instance(self.paths.instance_file)


def run_tray_app(paths: AppPaths | None = None) -> int:
    from trayproxy.cli_state import user_errors
    from trayproxy.control.local import LockHeld, claim

    paths = (paths or app_paths()).ensure()
    running = read_instance(paths.instance_file)
    if running is not None and running.kind == "tray" and ask_to_show(running):
        print("trayproxy is already running; opened its settings.", file=sys.stderr)
        return 0
    try:
        lock = claim(paths)
    except LockHeld as e:
        print(f"trayproxy: {e}", file=sys.stderr)
        return 1
    try:
        _setup_logging(paths)
        try:
            runtime = TrayRuntime(paths)
        except user_errors() as e:  # a corrupt accounts/secrets file: the message names it
            log.error("trayproxy could not start: %s", e.args[0] if e.args else e)
            print(f"trayproxy: {e.args[0] if e.args else e}", file=sys.stderr)
            return 2
        except Exception as e:  # e.g. no usable tray backend; the pid in instance.json dies with us
            log.exception("trayproxy could not start")
            print(f"trayproxy: could not start the tray app: {e}. `trayproxy serve` runs without a tray.",
                  file=sys.stderr)
            return 1
        runtime.run()
        return 0
    finally:
        lock.release()
