"""Where client keys live: keys.json in the data dir (hashes only, 0600), mirrored to
PostgreSQL when shared mode is on.

1. `KeyStore` holds the records; the running instance owns it and changes it on the engine loop
   (`a_create`, `a_revoke`, `apply`): memory first, in one step, then the file is written by a
   worker thread, one write at a time. A CLI with no instance running uses the synchronous
   twins under the data dir's lock.
2. `KeyRing` is what the guard reads on every request: the active keys by hash, a dict swapped
   whole after each change, so a request never sees half a change and never waits.
3. The seam for shared mode: a `KeyReplica` (shared/pg_keys.py) is told of every local change
   and pushes it to PostgreSQL; changes made by other instances come back through `apply`,
   which replaces the records it is given (newest wins) without telling the replica again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from trayproxy.clientkeys.record import ClientKey, ClientKeyError, generate, hash_key
from trayproxy.fileio import atomic_write

__all__ = ["KeyStore", "KeyRing", "KeyReplica"]

log = logging.getLogger("trayproxy.keys")


class KeyReplica(Protocol):
    def saved(self, key: ClientKey) -> None:
        """A key was created or changed here (called on the engine loop; must not block)."""
        ...


class KeyRing:
    """The keys a request may present, by hash (read on every request; replaced whole)."""

    __slots__ = ("by_hash",)

    def __init__(self, keys: Iterable[ClientKey] = ()) -> None:
        self.by_hash: dict[str, ClientKey] = {k.hash: k for k in keys if k.revoked_at is None}

    def __bool__(self) -> bool:
        return bool(self.by_hash)

    def match(self, candidates: Iterable[str]) -> ClientKey | None:
        """The key one of the candidates is (revoked keys are not in the ring; expiry is the
        guard's to judge, so it can say so)."""
        for c in candidates:
            k = self.by_hash.get(hash_key(c))
            if k is not None:
                return k
        return None


class KeyStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._keys: dict[str, ClientKey] = {}
        self.ring = KeyRing()
        self.replica: KeyReplica | None = None
        self._write_turn: asyncio.Lock | None = None
        self.load()

    # -- the file ----------------------------------------------------------------------------
    def _read(self) -> dict[str, ClientKey]:
        try:
            raw = json.loads(self.path.read_text("utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as e:
            raise ClientKeyError(f"{self.path} cannot be read ({e}); fix or move it") from e
        out: dict[str, ClientKey] = {}
        for d in raw.get("keys", []) if isinstance(raw, dict) else []:
            if isinstance(d, dict) and d.get("id") and d.get("hash"):
                k = ClientKey.from_json(d)
                out[k.id] = k
        return out

    def load(self) -> None:
        self._set(self._read())

    def _encode(self) -> bytes:
        data = {"version": 1, "keys": [k.to_json() for k in self._keys.values()]}
        return (json.dumps(data, indent=1) + "\n").encode()

    def _write(self, data: bytes) -> None:
        atomic_write(self.path, data, mode=0o600)

    async def _a_write(self) -> None:
        if self._write_turn is None:
            self._write_turn = asyncio.Lock()
        async with self._write_turn:
            await asyncio.to_thread(self._write, self._encode())

    def _set(self, keys: dict[str, ClientKey]) -> None:
        self._keys = keys
        self.ring = KeyRing(keys.values())

    # -- reads -------------------------------------------------------------------------------
    def all(self) -> list[ClientKey]:
        return sorted(self._keys.values(), key=lambda k: k.created_at)

    def get(self, key_id: str) -> ClientKey | None:
        return self._keys.get(key_id)

    def find(self, id_or_name: str) -> ClientKey:
        if id_or_name in self._keys:
            return self._keys[id_or_name]
        named = [k for k in self._keys.values() if k.name == id_or_name]
        live = [k for k in named if k.revoked_at is None]
        found = live or named
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise ClientKeyError(f"{len(found)} keys are named {id_or_name!r}; name one by its id "
                                 f"({', '.join(k.id for k in found)})")
        raise ClientKeyError(f"No key has the id or name {id_or_name!r} (`trayproxy keys list` shows them)")

    # -- changes (memory first, then the file) -----------------------------------------------
    def _new(self, name: str, **limits: object) -> tuple[ClientKey, str]:
        secret = generate()
        key = ClientKey.new(name, secret, **limits)  # type: ignore[arg-type]
        if any(k.name == key.name and k.revoked_at is None for k in self._keys.values()):
            raise ClientKeyError(f"A key named {key.name!r} exists already; revoke it first or choose another name")
        self._set({**self._keys, key.id: key})
        return key, secret

    def _revoked(self, id_or_name: str, now: float | None) -> ClientKey:
        key = self.find(id_or_name)
        if key.revoked_at is None:
            key = ClientKey(**{**key.to_json(), "revoked_at": time.time() if now is None else now})
            self._set({**self._keys, key.id: key})
        return key

    def _tell(self, key: ClientKey) -> None:
        if self.replica is not None:
            self.replica.saved(key)

    async def a_create(self, name: str, **limits: object) -> tuple[ClientKey, str]:
        """A new key and its secret (shown once, never stored)."""
        key, secret = self._new(name, **limits)
        self._tell(key)
        await self._a_write()
        return key, secret

    async def a_revoke(self, id_or_name: str, now: float | None = None) -> ClientKey:
        key = self._revoked(id_or_name, now)
        self._tell(key)
        await self._a_write()
        return key

    def create(self, name: str, **limits: object) -> tuple[ClientKey, str]:
        """a_create for a process that holds the data dir's lock and runs no engine."""
        key, secret = self._new(name, **limits)
        self._write(self._encode())
        return key, secret

    def revoke(self, id_or_name: str, now: float | None = None) -> ClientKey:
        key = self._revoked(id_or_name, now)
        self._write(self._encode())
        return key

    def apply(self, keys: Iterable[ClientKey]) -> list[ClientKey]:
        """Records from the shared store (another instance's changes): each replaces ours unless
        ours is newer in what matters (a revocation is never undone). The changed ones."""
        merged = dict(self._keys)
        changed = []
        for k in keys:
            mine = merged.get(k.id)
            if mine is not None and mine.revoked_at is not None and k.revoked_at is None:
                continue  # revoked here, the shared copy has not heard yet: the replica pushes it
            if mine != k:
                merged[k.id] = k
                changed.append(k)
        if changed:
            self._set(merged)
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self._write(self._encode())
            else:
                task = loop.create_task(self._a_write())
                task.add_done_callback(_log_failed_write)
        return changed


def _log_failed_write(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (e := task.exception()) is not None:
        log.error("keys.json could not be written: %s", e)
