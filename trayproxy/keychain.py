"""Which keyring backend the SecretStore uses, without loading backends that cannot work.

`keyring.get_keyring()` imports every installed backend to ask it for its priority: on Linux
that is secretstorage (with cryptography and jeepney) and libsecret, about 9 MiB of RSS for
the life of the process with keyring itself, even where no D-Bus session bus exists and so
none of them can work (headless servers, Xvfb, containers). That one case is decided here
without importing keyring: on Linux/BSD, with nothing configured (PYTHON_KEYRING_BACKEND or
keyringrc.cfg), no session bus (no DBUS_SESSION_BUS_ADDRESS, no $XDG_RUNTIME_DIR/bus),
keyring's own backends only (no third-party plugin), no dbus-python (KWallet) and no libsecret
typelib (GDBus can find a bus by itself), there is no keychain, for a stated reason. Everywhere
else keyring detects as usual.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["default_backend", "no_keychain_reason", "NoKeychain"]

NO_BUS_REASON = "no D-Bus session bus, which the Secret Service and KWallet need"


class NoKeychain:
    """The backend when `no_keychain_reason()` gave a reason: the SecretStore uses its file."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _session_bus_possible() -> bool:
    if os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return True
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    return os.path.exists(os.path.join(runtime, "bus"))


def _keyring_configured() -> bool:
    """keyring's own configuration (keyring.core.load_env / load_config) names a backend."""
    if os.environ.get("PYTHON_KEYRING_BACKEND"):
        return True
    root = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(root, "python_keyring", "keyringrc.cfg").exists()


def _plugin_installed() -> bool:
    """A distribution other than keyring itself declares `keyring.backends` entry points. Read
    straight from the *.dist-info / *.egg-info folders on sys.path: importlib.metadata would do
    the same and keep about 0.8 MiB of modules and caches for the life of the process."""
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if not name.endswith((".dist-info", ".egg-info")) or name.lower().startswith("keyring-"):
                continue
            try:
                with open(os.path.join(entry or ".", name, "entry_points.txt"), encoding="utf-8") as f:
                    if any(line.strip() == "[keyring.backends]" for line in f):
                        return True
            except OSError:
                continue
    return False


def _other_backends_possible() -> bool:
    """A backend that does not need DBUS_SESSION_BUS_ADDRESS may be installed: a third-party
    keyring plugin, dbus-python (KWallet), or libsecret's typelib."""
    if _plugin_installed():
        return True
    if importlib.util.find_spec("dbus") is not None:
        return True
    dirs = [d for d in os.environ.get("GI_TYPELIB_PATH", "").split(os.pathsep) if d]
    for root in ("/usr/lib*", "/usr/lib*/*", "/usr/local/lib*", "/usr/local/lib*/*"):
        dirs += glob.glob(f"{root}/girepository-1.0")
    return any(os.path.exists(os.path.join(d, "Secret-1.typelib")) for d in dirs)


def no_keychain_reason() -> str | None:
    """Why no keychain can work here, decided without importing keyring; None: ask keyring."""
    if sys.platform in ("win32", "darwin") or _session_bus_possible() or _keyring_configured():
        return None
    if _other_backends_possible():
        return None
    return NO_BUS_REASON


def default_backend() -> Any:
    reason = no_keychain_reason()
    if reason is not None:
        return NoKeychain(reason)
    import keyring

    return keyring.get_keyring()
