"""Client keys and the model mapping, shared through Redis events.

1. Client keys (the KeyStore's replica beside PostgreSQL's): a key created or revoked here is
   written to `keys` (its record: the hash and the limits, never the key) and announced; every
   instance applies it through `KeyStore.apply` within a second, where a revocation is never
   undone. With Redis alone, this is how instances share their keys; with PostgreSQL too, it is
   the faster of two paths (PostgreSQL stays the durable one: Redis may restart empty).
2. The model mapping: a change made on one instance (settings page, `trayproxy config set`) is
   written to `mapping` with when, and announced; the others apply it to their config through
   the Controller's `on_mapping`. At a sync the newer of Redis's and this instance's wins, so a
   fresh instance takes the team's mapping.
3. Sync (start, Redis back, every 30 s): both read in one round trip and reconciled both ways.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from trayproxy.clientkeys.record import ClientKey
from trayproxy.clientkeys.store import KeyStore
from trayproxy.shared.redis_bus import Bus
from trayproxy.shared.redis_engine import PREFIX

__all__ = ["RedisChanges"]

KEYS = PREFIX + "keys"
MAPPING = PREFIX + "mapping"


class RedisChanges:
    def __init__(self, bus: Bus, keys: KeyStore, *, mapping: Callable[[], dict[str, str]],
                 on_mapping: Callable[[dict[str, str]], None] = lambda _m: None,
                 on_change: Callable[[], None] = lambda: None) -> None:
        self.bus = bus
        self.keys = keys
        self.mapping = mapping
        self.on_mapping = on_mapping
        self.on_change = on_change
        self._mapping_at = 0.0  # when the mapping this instance holds was set (0: never shared)
        bus.on("key", self._on_key)
        bus.on("mapping", self._on_mapping)
        bus.on_sync(self.sync)

    # -- out ---------------------------------------------------------------------------------
    def saved(self, key: ClientKey) -> None:
        record = key.to_json()
        value = json.dumps(record)
        self.bus.write(lambda p: p.hset(KEYS, key.id, value))
        self.bus.publish("key", r=record)

    def mapping_changed(self, mapping: dict[str, str]) -> None:
        self._mapping_at = time.time()
        value = json.dumps({"m": mapping, "at": self._mapping_at})
        self.bus.write(lambda p: p.set(MAPPING, value))
        self.bus.publish("mapping", m=mapping, at=self._mapping_at)

    # -- in ----------------------------------------------------------------------------------
    def _apply_keys(self, records: list[dict[str, Any]]) -> None:
        if self.keys.apply([ClientKey.from_json(r) for r in records]):
            self.on_change()

    def _on_key(self, m: dict[str, Any]) -> None:
        self._apply_keys([m["r"]])

    def _on_mapping(self, m: dict[str, Any]) -> None:
        self._take_mapping({str(k): str(v) for k, v in m["m"].items()}, float(m["at"]))

    def _take_mapping(self, mapping: dict[str, str], at: float) -> None:
        if at <= self._mapping_at:
            return
        self._mapping_at = at
        if mapping != self.mapping():
            self.on_mapping(mapping)

    async def sync(self) -> None:
        got = await self.bus.run(lambda p: (p.hgetall(KEYS), p.get(MAPPING)))
        if got is None:
            raise ConnectionError("Redis did not answer the sync")
        remote = {_s(k): json.loads(v) for k, v in (got[0] or {}).items()}
        self._apply_keys(list(remote.values()))
        missing = [k for k in self.keys.all()
                   if k.id not in remote or (k.revoked_at is not None and remote[k.id].get("revoked_at") is None)]
        if got[1] is not None:
            d = json.loads(got[1])
            self._take_mapping({str(k): str(v) for k, v in d["m"].items()}, float(d["at"]))
        mapping = self.mapping()
        write_mapping = (got[1] is None and mapping) or (got[1] is not None and self._mapping_at > float(
            json.loads(got[1])["at"]))
        if missing or write_mapping:
            mapping_value = json.dumps({"m": mapping, "at": self._mapping_at or time.time()})

            def write(p: Any) -> None:
                for k in missing:
                    p.hset(KEYS, k.id, json.dumps(k.to_json()))
                if write_mapping:
                    p.set(MAPPING, mapping_value)

            await self.bus.run(write)


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)
