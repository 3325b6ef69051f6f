"""Test isolation: no real keychain, no display, every test in its own TRAYPROXY_HOME."""

from __future__ import annotations

import os

# Must happen before anything imports pystray or resolves a keyring backend.
os.environ["PYSTRAY_BACKEND"] = "dummy"
os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
# The tray and the page speak the OS's language: English here, whatever the machine says (tests
# of other languages set the `language` setting or pass their own environment).
os.environ["LANGUAGE"] = "en"
# Module-scoped fixtures build controllers before the per-test home below exists: give the
# whole session a home of its own too, so no test ever touches the user's real data dir.
import tempfile  # noqa: E402

os.environ["TRAYPROXY_HOME"] = tempfile.mkdtemp(prefix="trayproxy-tests-")
# No test talks to the internet: Antigravity's updater is never asked (a test that wants an
# updater points TRAYPROXY_CLIENT_VERSION_URL at the fake's, `FakeCloudCode.env()`), and the
# guard below refuses any other host for a controller built with an environment of its own.
os.environ["TRAYPROXY_CLIENT_VERSION_URL"] = ""

import socket  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import keyring  # noqa: E402
import keyring.backend  # noqa: E402
import keyring.errors  # noqa: E402
import pytest  # noqa: E402

# The prefix memo shares converted parts with later requests: every test checks nothing changed them.
from trayproxy.protocols.core import prefix_memo  # noqa: E402

prefix_memo.verify = True

# controller / control / clipboard / login_home: the control-plane tests and the page tests share them
pytest_plugins = ("tests.control.fixtures",)


class MemoryKeyring(keyring.backend.KeyringBackend):
    """An in-memory keychain (a real keyring backend, just not persisted)."""

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


@pytest.fixture(autouse=True)
def memory_keyring() -> Iterator[MemoryKeyring]:
    kr = MemoryKeyring()
    keyring.set_keyring(kr)
    yield kr


@pytest.fixture(autouse=True)
def trayproxy_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("TRAYPROXY_HOME", str(home))
    for var in ("TRAYPROXY_CLOUDCODE_BASE_URLS", "TRAYPROXY_OAUTH_TOKEN_URL", "TRAYPROXY_OAUTH_USERINFO_URL",
                "TRAYPROXY_ZAI_BASE_URL", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(var, raising=False)
    return home


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(autouse=True)
def cli_notices_unrouted() -> Iterator[None]:
    """A test that runs a CLI command leaves the SecretStore's notices routed to its stderr (and
    not propagated): undo that, so a later test's caplog sees them."""
    yield
    from trayproxy.cli_notes import unroute_notices

    unroute_notices()


@pytest.fixture(autouse=True)
def _updater_stays_local(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client version's updater manifest may only come from a local fake."""
    from urllib.parse import urlsplit

    from trayproxy.upstream.client_version import ClientIdentity

    real = ClientIdentity._fetch

    async def local_only(self: ClientIdentity, url: str) -> str:
        if urlsplit(url).hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"tests do not talk to the internet ({url})")
        return await real(self, url)

    monkeypatch.setattr(ClientIdentity, "_fetch", local_only)
