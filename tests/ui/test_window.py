from __future__ import annotations

import io
import sys
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from trayproxy.ui import window
from trayproxy.ui.window import FALLBACK_EXIT, SettingsWindow


class FakeProc:
    def __init__(self, argv: list[str], **kw: Any) -> None:
        self.argv = argv
        self.kw = kw
        self.stdin = io.BytesIO()
        self.returncode: int | None = None
        self.terminated = False

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        self.returncode = 0
        return 0

    def terminate(self) -> None:
        self.terminated = True
        self.returncode = -15

    def kill(self) -> None:
        self.returncode = -9


def test_show_spawns_once_then_raises_window() -> None:
    procs: list[FakeProc] = []

    def popen(argv: list[str], **kw: Any) -> FakeProc:
        procs.append(FakeProc(argv, **kw))
        return procs[-1]

    w = SettingsWindow(lambda: "http://127.0.0.1:1/?token=t", python="/py", popen=popen)
    w.show()
    assert procs[0].argv == ["/py", "-m", "trayproxy.ui.window", "--stdin"]  # no token in the process list
    assert procs[0].kw["close_fds"] is True
    assert procs[0].stdin.getvalue() == b"http://127.0.0.1:1/?token=t\n"
    w.show()
    assert len(procs) == 1 and procs[0].stdin.getvalue().endswith(b"\nshow\n")
    procs[0].returncode = 0  # user closed the window
    w.show()
    assert len(procs) == 2
    w.close()
    assert procs[1].stdin.getvalue().endswith(b"quit\n")
    assert not w.is_open


def test_child_falls_back_to_browser(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[str] = []
    monkeypatch.setitem(sys.modules, "webview", None)  # pywebview not installed
    monkeypatch.setattr(window.webbrowser, "open", lambda url: opened.append(url) or True)
    assert window.main(["http://127.0.0.1:9/?token=t0ken-value"]) == FALLBACK_EXIT
    _assert_launcher(opened, "http://127.0.0.1:9", "t0ken-value")


def _assert_launcher(opened: list[str], origin: str, token: str) -> None:
    """The browser gets a private file's path, never the token; the file posts the token."""
    assert len(opened) == 1 and opened[0].startswith("file://") and token not in opened[0]
    path = Path(urllib.parse.unquote(urllib.parse.urlsplit(opened[0]).path))
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o777 == 0o700
    page = path.read_text()
    assert f'action="{origin}/"' in page and 'method="post"' in page and f'value="{token}"' in page


def test_child_falls_back_when_gui_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    class BrokenWebview:
        windows: list[Any] = []

        @staticmethod
        def create_window(*a: Any, **kw: Any) -> Any:
            return object()

        @staticmethod
        def start(**kw: Any) -> None:
            raise RuntimeError("no GUI backend")

    opened: list[str] = []
    monkeypatch.setitem(sys.modules, "webview", BrokenWebview)
    monkeypatch.setattr(window.webbrowser, "open", lambda url: opened.append(url) or True)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert window.main(["http://x/?token=abc"]) == FALLBACK_EXIT
    _assert_launcher(opened, "http://x", "abc")


def test_url_from_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[str] = []
    monkeypatch.setitem(sys.modules, "webview", None)
    monkeypatch.setattr(window.webbrowser, "open", lambda url: opened.append(url) or True)
    monkeypatch.setattr(sys, "stdin", io.StringIO("http://127.0.0.1:7/?token=stdin-tok-9\nshow\n"))
    assert window.main(["--stdin"]) == FALLBACK_EXIT
    _assert_launcher(opened, "http://127.0.0.1:7", "stdin-tok-9")


def test_usage(monkeypatch: pytest.MonkeyPatch) -> None:
    assert window.main([]) == 2
    monkeypatch.setattr(sys, "stdin", io.StringIO("javascript:alert(1)\n"))
    assert window.main(["--stdin"]) == 2
