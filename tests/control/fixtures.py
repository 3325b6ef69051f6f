"""Fixtures for the control plane: a Controller in a temp dir and its ControlServer. Registered for
the whole suite (tests/conftest.py `pytest_plugins`): the page tests in tests/ui use them too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.control.helpers import make_controller


@pytest.fixture
def controller(tmp_path: Path) -> Iterator[Any]:
    ctl = make_controller(tmp_path / "app")
    yield ctl
    ctl.close()


class FakeClipboard:
    def __init__(self) -> None:
        self.texts: list[str] = []

    def __call__(self, text: str) -> bool:
        self.texts.append(text)
        return True


@pytest.fixture
def clipboard() -> FakeClipboard:
    return FakeClipboard()


@pytest.fixture
def control(controller: Any, clipboard: FakeClipboard) -> Iterator[Any]:
    from trayproxy.control.login import LoginRunner
    from trayproxy.control.server import ControlServer

    shown: list[bool] = []
    opened: list[str] = []
    srv = ControlServer(
        controller,
        login=LoginRunner(controller, open_url=opened.append),
        copy=clipboard,
        on_show=lambda: shown.append(True),
    )
    controller.engine.call(srv.start())
    srv.shown = shown  # type: ignore[attr-defined]
    srv.opened = opened  # type: ignore[attr-defined]
    yield srv
    controller.engine.call(srv.stop())


@pytest.fixture
def login_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Start-at-login entries go to a temporary HOME / XDG_CONFIG_HOME, never the real user's.

    Returns the autostart directory (`$XDG_CONFIG_HOME/autostart`)."""
    home = tmp_path / "userhome"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "cfg"))
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(tmp_path / "etc-xdg"))
    return home / "cfg" / "autostart"
