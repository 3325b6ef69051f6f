"""Client keys in PostgreSQL, both ways (the KeyStore's replica: clientkeys/store.py).

1. A key created or revoked here is written to `client_keys` with a NOTIFY in the same
   transaction; while PostgreSQL is down the change waits in `_unsent` (keys.json has it
   already) and goes out at the next re-sync.
2. Another instance's NOTIFY, every re-sync after an outage and a full read every
   `RESYNC_EVERY` seconds bring the shared keys in through `KeyStore.apply` on the loop: a key
   revoked anywhere is refused here within a second.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from trayproxy.clientkeys.record import ClientKey
from trayproxy.clientkeys.store import KeyStore
from trayproxy.shared.pg_engine import Mirror, PgEngine

__all__ = ["PgKeys", "CHANNEL"]

log = logging.getLogger("trayproxy.shared")
CHANNEL = "trayproxy_keys"
RESYNC_EVERY = 30.0


class PgKeys(Mirror):
    what = "client keys"

    def __init__(self, engine: PgEngine, store: KeyStore) -> None:
        super().__init__(engine, CHANNEL, RESYNC_EVERY)
        self.store = store
        self._unsent: dict[str, ClientKey] = {}
        store.replica = self

    # -- out ---------------------------------------------------------------------------------
    def saved(self, key: ClientKey) -> None:
        self._unsent[key.id] = key
        self._spawn(self.push())

    async def push(self) -> None:
        if not self._unsent or not self.engine.health.up:
            return
        batch, self._unsent = self._unsent, {}
        try:
            await self.engine.run(lambda conn: _write(conn, list(batch.values()), self.engine.instance))
        except Exception as e:
            for k, v in batch.items():
                self._unsent.setdefault(k, v)
            log.warning("client keys could not be written to PostgreSQL (%s); they go out when it answers", e)

    # -- in ----------------------------------------------------------------------------------
    async def pull(self) -> None:
        rows = await self.engine.run(lambda conn: conn.fetch("SELECT record FROM client_keys"))
        keys = [ClientKey.from_json(_obj(r["record"])) for r in rows]
        changed = self.store.apply(keys)
        if changed:
            log.info("client keys changed by other instances: %s", ", ".join(k.name for k in changed))

    async def sync(self) -> None:
        """After a (re)connection: keys made here while away go out, then every key comes in;
        keys this instance had before shared mode was on are pushed too."""
        remote = await self.engine.run(lambda conn: conn.fetch("SELECT id FROM client_keys"))
        have = {r["id"] for r in remote}
        for k in self.store.all():
            if k.id not in have:
                self._unsent.setdefault(k.id, k)
        await self.push()
        await self.pull()

    async def stop(self) -> None:
        await super().stop()
        if self._unsent and self.engine.health.up:
            await self.push()


def _obj(v: Any) -> dict[str, Any]:
    return json.loads(v) if isinstance(v, str) else dict(v)


async def _write(conn: Any, keys: list[ClientKey], instance: str) -> None:
    async with conn.transaction():
        for k in keys:
            # a revocation is final: a late write of the active record never undoes it
            await conn.execute(
                "INSERT INTO client_keys (id, record, hash, updated_by, updated_at) "
                "VALUES ($1, $2::jsonb, $3, $4, clock_timestamp()) ON CONFLICT (id) DO UPDATE SET "
                "record = CASE WHEN (client_keys.record->>'revoked_at') IS NOT NULL "
                "AND (EXCLUDED.record->>'revoked_at') IS NULL THEN client_keys.record ELSE EXCLUDED.record END, "
                "updated_by = EXCLUDED.updated_by, updated_at = EXCLUDED.updated_at",
                k.id, json.dumps(k.to_json()), k.hash, instance)
        await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, instance)
