"""The settings window: pywebview in a child process, or the system browser.

pystray and pywebview both want the main thread, so the window runs in its own process:
`python -m trayproxy.ui.window --stdin`, with the URL as the first line on stdin (a URL with the
control token never shows up in the process list), or `python -m trayproxy.ui.window URL` by hand.
The child then reads commands on stdin ("show" brings the window forward, "quit" or EOF closes
it) and falls back to `webbrowser.open(URL)` when pywebview (the optional `window` extra) or its
GUI backend cannot start. `SettingsWindow` is the parent's handle on that process.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import webbrowser
from collections.abc import Callable
from typing import Any

__all__ = ["SettingsWindow", "main", "TITLE"]

log = logging.getLogger("trayproxy.ui.window")
TITLE = "trayproxy settings"
FALLBACK_EXIT = 3  # the child opened the browser instead of a window


class SettingsWindow:
    """Open, re-show and close the settings window process (parent side; no GUI imports)."""

    def __init__(
        self,
        url: Callable[[], str],
        *,
        python: str = sys.executable,
        popen: Callable[..., Any] = subprocess.Popen,
    ) -> None:
        self._url = url
        self._python = python
        self._popen = popen
        self._proc: Any = None
        self._lock = threading.Lock()

    @property
    def is_open(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def show(self) -> None:
        """Bring the open window forward, or start a new one."""
        with self._lock:
            if self.is_open:
                try:
                    self._proc.stdin.write(b"show\n")
                    self._proc.stdin.flush()
                    return
                except (OSError, ValueError):
                    log.info("settings window did not take the command; starting a new one")
            proc = self._popen(
                [self._python, "-m", "trayproxy.ui.window", "--stdin"],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                close_fds=True,
            )
            proc.stdin.write(self._url().encode() + b"\n")
            proc.stdin.flush()
            self._proc = proc

    def close(self, timeout: float = 3.0) -> None:
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            proc.stdin.write(b"quit\n")
            proc.stdin.flush()
            proc.wait(timeout)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()


# -- child process -------------------------------------------------------------------------


def _commands(window: Any, webview: Any) -> None:
    """Serve stdin commands from the parent; EOF (parent gone) closes the window."""
    for raw in sys.stdin:
        cmd = raw.strip()
        try:
            if cmd == "show":
                window.restore()
                window.show()
                window.on_top = True
                window.on_top = False
            elif cmd == "quit":
                break
        except Exception as e:  # a backend without restore/on_top: keep serving
            log.info("window command %r failed: %s", cmd, e)
    for w in list(webview.windows):
        w.destroy()


def _fallback(url: str, why: object) -> int:
    from trayproxy.ui.launcher import open_in_browser  # the token stays out of argv and history

    global _cleanup
    print(f"trayproxy: settings window unavailable ({why}); opening the browser", file=sys.stderr)
    _cleanup = open_in_browser(url, open_url=webbrowser.open)
    return FALLBACK_EXIT


_cleanup: threading.Timer | None = None  # removes the browser launcher file


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m trayproxy.ui.window URL | --stdin", file=sys.stderr)
        return 2
    url = sys.stdin.readline().strip() if args[0] == "--stdin" else args[0]
    if not url.startswith("http://"):
        print("trayproxy: the settings window needs an http:// URL", file=sys.stderr)
        return 2
    try:
        import webview  # the optional `trayproxy[window]` extra
    except Exception as e:
        return _fallback(url, e)
    try:
        window = webview.create_window(TITLE, url, width=1000, height=760, min_size=(640, 480))
        threading.Thread(target=_commands, args=(window, webview), name="window-commands", daemon=True).start()
        webview.start(private_mode=True)
    except Exception as e:
        return _fallback(url, e)
    return 0


if __name__ == "__main__":
    code = main()
    if _cleanup is not None:
        _cleanup.join()
    raise SystemExit(code)
