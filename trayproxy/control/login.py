"""Browser sign-in, one at a time, shared by the tray's "Add Account..." and the settings page.

Runs on the engine loop: `begin()` starts `Controller.a_login` as a task and returns once the
Google sign-in URL is known (it is opened in the browser, and the page shows it as a link in
case the browser did not open). `state()` reports waiting / done / error for the page.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import webbrowser
from collections.abc import Callable
from typing import Any

from trayproxy.control.api import ControllerAPI
from trayproxy.i18n import Translator, translator

__all__ = ["LoginRunner", "open_in_browser"]

log = logging.getLogger("trayproxy.control.login")


def open_in_browser(url: str) -> None:
    """webbrowser.open on a daemon thread: it may block while a browser starts."""
    threading.Thread(target=webbrowser.open, args=(url,), name="open-browser", daemon=True).start()


class LoginRunner:
    def __init__(
        self,
        controller: ControllerAPI,
        *,
        open_url: Callable[[str], None] = open_in_browser,
        on_done: Callable[[str, str], None] | None = None,
        timeout: float = 300.0,
    ) -> None:
        self.controller = controller
        self.open_url = open_url
        self.on_done = on_done  # (title, message), called on the engine thread
        self.timeout = timeout
        self._task: asyncio.Task[None] | None = None
        self._state: dict[str, Any] = {"state": "idle"}

    def state(self) -> dict[str, Any]:
        return dict(self._state)

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    async def begin(self) -> dict[str, Any]:
        """Start a sign-in (or return the one in progress) once its URL is known."""
        if self.busy:
            return self.state()
        url_known = asyncio.Event()

        def _open(url: str) -> None:
            self._state = {"state": "waiting", "url": url, "since": time.time()}
            url_known.set()
            self.open_url(url)

        self._state = {"state": "starting"}
        self._task = asyncio.ensure_future(self._run(_open))
        waiter = asyncio.ensure_future(url_known.wait())
        await asyncio.wait({waiter, self._task}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        return self.state()

    async def _run(self, open_url: Callable[[str], None]) -> None:
        try:
            acc = await self.controller.a_login(open_url, self.timeout)
        except asyncio.CancelledError:
            self._state = {"state": "error", "message": self.tr._("Sign-in was cancelled")}
            raise
        except Exception as e:
            _ = self.tr._
            msg = str(e.args[0]) if getattr(e, "args", None) else str(e)
            if isinstance(e, (asyncio.TimeoutError, TimeoutError)):
                msg = _("Sign-in timed out; try again")
            log.warning("sign-in failed: %s", msg)
            added = getattr(e, "account", None)  # saved, but Google will not serve it yet
            self._state = {"state": "error", "message": msg}
            if added is not None:
                self._state["email"] = added.email
            self._done(_("Account added, but not usable yet") if added else _("Sign-in failed"), msg)
            return
        self._state = {"state": "done", "email": acc.email}
        self._done(self.tr._("Account added"), self.tr._("Signed in as {email}", email=acc.email))

    @property
    def tr(self) -> Translator:
        return translator(self.controller.language)

    def _done(self, title: str, message: str) -> None:
        if self.on_done is not None:
            try:
                self.on_done(title, message)
            except Exception:
                log.exception("sign-in callback failed")

    async def cancel(self) -> None:
        if self.busy and self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
