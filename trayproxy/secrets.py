"""SecretStore: the proxy API key, refresh tokens and the z.ai key, in the OS keychain.

Where no keychain backend works (headless Linux raises NoKeyringError), secrets go to a file
in the data dir with mode 0600 instead, and the store says so (`fallback_reason`), so the log,
the settings page and `trayproxy doctor` can tell the user. Nothing else in trayproxy touches
keyring.

Keychain calls block (D-Bus, a locked keychain, a file fsync), so the running app makes them in
worker threads (asyncio.to_thread), never on the engine loop; what the proxy reads on every
request (the API key, the z.ai key) is remembered after the first read (`api_key`, `cached`).
Two worker threads may meet here (a key change while an account is added), and the file
fallback is read-modify-write: one lock serialises every read and write of the store.
"""

from __future__ import annotations

import json
import logging
import re
import secrets as _random
import threading
from pathlib import Path
from typing import Any

from trayproxy.fileio import atomic_write
from trayproxy.keychain import NoKeychain, default_backend

__all__ = [
    "SecretStore",
    "SecretStoreError",
    "API_KEY",
    "ZAI_KEY",
    "refresh_token_name",
    "generate_api_key",
    "validate_api_key",
]

log = logging.getLogger("trayproxy.secrets")

SERVICE = "trayproxy"
API_KEY = "api_key"
ZAI_KEY = "zai_api_key"
_API_KEY_RE = re.compile(r"^sk-\S{7,}$")


def refresh_token_name(account_id: str) -> str:
    return f"refresh_token:{account_id}"


def generate_api_key() -> str:
    return "sk-" + _random.token_hex(16)


def validate_api_key(key: str) -> str:
    key = key.strip()
    if not _API_KEY_RE.match(key):
        raise SecretStoreError("The API key must start with 'sk-', be at least 10 characters and contain no spaces")
    return key


class SecretStoreError(RuntimeError):
    pass


class SecretStore:
    def __init__(self, fallback_path: Path, backend: Any = None) -> None:
        self._path = fallback_path
        # worker threads and the CLI's thread may meet here: see the module comment. Reentrant:
        # api_key() reads and writes through get() and set().
        self._lock = threading.RLock()
        self._backend = backend if backend is not None else default_backend()
        self._memo: dict[str, str | None] = {}  # what cached() / api_key() read, kept up to date
        self._file_cache: tuple[tuple[int, int, int], dict[str, str]] | None = None
        self.fallback_reason: str | None = self._probe()
        if self.fallback_reason:
            log.warning(
                "No usable system keychain (%s); secrets are stored in %s (mode 0600) instead",
                self.fallback_reason,
                self._path,
            )

    # -- introspection -----------------------------------------------------------------------
    @property
    def backend_name(self) -> str:
        if self.fallback_reason:
            return f"file {self._path}"
        b = self._backend
        return f"{type(b).__module__}.{type(b).__name__}"

    @property
    def is_fallback(self) -> bool:
        return self.fallback_reason is not None

    def _probe(self) -> str | None:
        b = self._backend
        if isinstance(b, NoKeychain):  # decided without importing keyring (keychain.py)
            return b.reason
        mod = type(b).__module__
        if mod.startswith("keyring.backends.fail") or mod.startswith("keyring.backends.null"):
            return "keyring has no backend on this system"
        if mod.startswith("keyrings.alt"):
            return f"the only keyring backend is {type(b).__name__}, which is not a real keychain"
        try:
            b.get_password(SERVICE, "__probe__")
        except Exception as e:  # NoKeyringError, locked SecretService, D-Bus missing, ...
            return f"{type(e).__name__}: {e}".strip()[:200]
        return None

    # -- file fallback -----------------------------------------------------------------------
    def _read_file(self) -> dict[str, str]:
        """The file's secrets (a fresh dict). Parsed again only when the file changes (another
        process may write it): every API request reads the API key through here."""
        try:
            st = self._path.stat()
            key = (st.st_ino, st.st_size, st.st_mtime_ns)
            cached = self._file_cache
            if cached is not None and cached[0] == key:
                return dict(cached[1])
            data = json.loads(self._path.read_text("utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as e:
            raise SecretStoreError(f"Cannot read the secrets file {self._path}: {e}") from e
        out = {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}
        self._file_cache = (key, out)
        return dict(out)

    def _write_file(self, data: dict[str, str]) -> None:
        self._file_cache = None
        atomic_write(self._path, json.dumps(data, indent=1).encode(), mode=0o600)

    def _keychain_error(self, what: str, exc: Exception) -> SecretStoreError:
        # A keychain that worked at start and fails now (locked, D-Bus hiccup) is reported, not
        # swapped for the file: the file does not hold what the keychain holds.
        log.warning("The system keychain failed while %s: %s", what, exc)
        return SecretStoreError(f"The system keychain is not available right now ({exc}); unlock it and try again")

    # -- API ---------------------------------------------------------------------------------
    def get(self, name: str) -> str | None:
        with self._lock:
            if self.is_fallback:
                return self._read_file().get(name)
            from keyring.errors import KeyringError  # imported with the backend (keychain.py)

            try:
                value = self._backend.get_password(SERVICE, name)
            except KeyringError as e:
                raise self._keychain_error("reading a secret", e) from e
            return str(value) if value is not None else None

    def set(self, name: str, value: str) -> None:
        with self._lock:
            if self.is_fallback:
                data = self._read_file()
                data[name] = value
                self._write_file(data)
            else:
                from keyring.errors import KeyringError

                try:
                    self._backend.set_password(SERVICE, name, value)
                except KeyringError as e:
                    raise self._keychain_error("saving a secret", e) from e
            if name in self._memo:
                self._memo[name] = value

    def delete(self, name: str) -> None:
        with self._lock:
            if self.is_fallback:
                data = self._read_file()
                if data.pop(name, None) is not None:
                    self._write_file(data)
            else:
                from keyring.errors import KeyringError, PasswordDeleteError

                try:
                    self._backend.delete_password(SERVICE, name)
                except PasswordDeleteError:
                    pass
                except KeyringError as e:
                    raise self._keychain_error("deleting a secret", e) from e
            if name in self._memo:
                self._memo[name] = None

    def cached(self, name: str) -> str | None:
        """`get(name)`, read once and then from memory (kept up to date by set and delete, until
        forget_cached): for what requests read, so that no request waits for the keychain."""
        try:
            return self._memo[name]
        except KeyError:
            pass
        with self._lock:
            if name not in self._memo:
                self._memo[name] = self.get(name)
            return self._memo[name]

    # -- the proxy API key -------------------------------------------------------------------
    def api_key(self) -> str:
        """The proxy's API key, generated (`sk-` + 32 hex) on first use. Kept in memory after
        the first read: every request checks it, and a keychain round trip each time is slow."""
        key = self._memo.get(API_KEY)
        if key:
            return key
        with self._lock:
            key = self.get(API_KEY)
            if not key:
                key = generate_api_key()
                self.set(API_KEY, key)
            self._memo[API_KEY] = key
            return key

    def reread_cached(self) -> None:
        """Read again what is remembered (another process may have changed it). Blocks on the
        keychain; readers keep getting the old values, never a wait, until the new ones are in."""
        with self._lock:
            fresh = {name: self.get(name) for name in self._memo}
            self._memo.update(fresh)

    def forget_cached(self) -> None:
        """Read the keychain again on next use (another process, e.g. the CLI, may have changed it)."""
        with self._lock:
            self._memo.clear()

    def set_api_key(self, key: str) -> str:
        key = validate_api_key(key)
        with self._lock:
            self.set(API_KEY, key)
            self._memo[API_KEY] = key
        return key

    def regenerate_api_key(self) -> str:
        key = generate_api_key()
        with self._lock:
            self.set(API_KEY, key)
            self._memo[API_KEY] = key
        return key
