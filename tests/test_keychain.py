from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from trayproxy import keychain
from trayproxy.keychain import NO_BUS_REASON, NoKeychain, default_backend, no_keychain_reason
from trayproxy.secrets import SecretStore


@pytest.fixture
def headless(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Linux with no session bus, no keyring configuration, keyring's own backends only."""
    monkeypatch.setattr(keychain.sys, "platform", "linux")
    for name in ("DBUS_SESSION_BUS_ADDRESS", "PYTHON_KEYRING_BACKEND", "GI_TYPELIB_PATH"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "run").mkdir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setattr(keychain.glob, "glob", lambda pattern: [])
    monkeypatch.setattr(keychain.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(keychain, "_plugin_installed", lambda: False)  # tested on its own below
    return tmp_path


def test_no_bus_and_nothing_else_means_no_keychain(headless: Path) -> None:
    assert no_keychain_reason() == NO_BUS_REASON
    b = default_backend()
    assert isinstance(b, NoKeychain) and b.reason == NO_BUS_REASON


@pytest.mark.parametrize("case", ["bus-env", "bus-socket", "env-config", "rc-config", "dbus-python", "typelib",
                                  "plugin", "darwin", "win32"])
def test_anything_that_may_give_a_keychain_leaves_it_to_keyring(
        headless: Path, monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    if case == "bus-env":
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
    elif case == "bus-socket":
        (headless / "run" / "bus").touch()
    elif case == "env-config":
        monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    elif case == "rc-config":
        (headless / "config" / "python_keyring").mkdir(parents=True)
        (headless / "config" / "python_keyring" / "keyringrc.cfg").write_text("[backend]\n")
    elif case == "dbus-python":
        monkeypatch.setattr(keychain.importlib.util, "find_spec", lambda name: object() if name == "dbus" else None)
    elif case == "typelib":
        (headless / "gi").mkdir()
        (headless / "gi" / "Secret-1.typelib").touch()
        monkeypatch.setenv("GI_TYPELIB_PATH", str(headless / "gi"))
    elif case == "plugin":
        monkeypatch.setattr(keychain, "_plugin_installed", lambda: True)
    else:
        monkeypatch.setattr(keychain.sys, "platform", case)
    assert no_keychain_reason() is None


_real_plugin_installed = keychain._plugin_installed


def test_only_another_distributions_keyring_backends_count_as_a_plugin(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def dist(name: str, entry_points: str) -> None:
        (tmp_path / name).mkdir()
        (tmp_path / name / "entry_points.txt").write_text(entry_points)

    dist("keyring-25.7.0.dist-info", "[keyring.backends]\nSecretService = keyring.backends.SecretService\n")
    dist("aiohttp-3.14.5.dist-info", "[console_scripts]\nx = y\n")
    (tmp_path / "no_entry_points-1.0.dist-info").mkdir()
    monkeypatch.setattr(keychain.sys, "path", [str(tmp_path), str(tmp_path / "missing")])
    assert not _real_plugin_installed()
    dist("keyrings.cryptfile-1.3.9.dist-info", "[keyring.backends]\ncryptfile = keyrings.cryptfile.cryptfile\n")
    assert _real_plugin_installed()


def test_the_store_uses_its_file_and_says_why(headless: Path) -> None:
    s = SecretStore(headless / "secrets.json")
    assert s.is_fallback and s.fallback_reason == NO_BUS_REASON
    k = s.api_key()
    s.set("refresh_token:x", "1//secret")
    assert json.loads((headless / "secrets.json").read_text()) == {"api_key": k, "refresh_token:x": "1//secret"}


def test_without_a_keychain_keyring_is_never_imported(tmp_path: Path) -> None:
    """The point of keychain.py: a headless process does not carry keyring's backends."""
    (tmp_path / "run").mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("DBUS_SESSION_BUS_ADDRESS", "PYTHON_KEYRING_BACKEND", "GI_TYPELIB_PATH")}
    env.update(XDG_RUNTIME_DIR=str(tmp_path / "run"), XDG_CONFIG_HOME=str(tmp_path / "config"))
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from trayproxy import keychain\n"
        "if keychain._other_backends_possible():\n"
        "    print('skip'); raise SystemExit\n"  # a machine with dbus-python, a plugin or libsecret
        "from trayproxy.secrets import SecretStore\n"
        f"s = SecretStore(Path({str(tmp_path / 'secrets.json')!r}))\n"
        "s.api_key()\n"
        "print(s.fallback_reason, sorted(m for m in sys.modules if m.split('.')[0] in ('keyring', 'secretstorage', 'cryptography')))\n"
    )
    if not sys.platform.startswith("linux"):
        pytest.skip("the shortcut is for Linux/BSD")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    if out.stdout.strip() == "skip":
        pytest.skip("this machine may have a keychain without a session bus")
    assert out.stdout.strip() == f"{NO_BUS_REASON} []"
