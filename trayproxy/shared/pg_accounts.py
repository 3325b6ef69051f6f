"""Accounts in PostgreSQL, both ways (the AccountStore's replica: accounts/store.py).

1. Out: every save here is compared with what was last pushed, account by account, and what
   differs is written (after `DEBOUNCE`, so a burst of changes is one transaction) with a NOTIFY.
   A refresh token goes out encrypted (crypto.py), never in clear; a removal leaves a tombstone.
   While PostgreSQL is down nothing is lost: accounts.json and the keychain hold it all, and the
   next re-sync pushes every difference.
2. In: another instance's NOTIFY, each re-sync and a read every `RESYNC_EVERY` seconds fetch the
   rows changed since the last read; a new or changed account is applied on the loop
   (`AccountStore.apply_remote`: its token to this machine's keychain first), a tombstone
   removes the account here.
3. First contact: accounts this instance had before shared mode was on are pushed (unless
   PostgreSQL holds a tombstone for them: then they are removed here).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

from trayproxy.accounts.store import Account, AccountStore
from trayproxy.shared.crypto import CipherError, TokenCipher
from trayproxy.shared.pg_engine import Mirror, PgEngine

__all__ = ["PgAccounts", "CHANNEL", "KeyMismatch"]

log = logging.getLogger("trayproxy.shared")
CHANNEL = "trayproxy_accounts"
DEBOUNCE = 0.2
RESYNC_EVERY = 30.0
_FP = "secret_key_fingerprint"


class KeyMismatch(RuntimeError):
    pass


class PgAccounts(Mirror):
    what = "accounts"

    def __init__(self, engine: PgEngine, store: AccountStore, cipher: TokenCipher,
                 on_removed: Callable[[str], None] = lambda _id: None,
                 on_change: Callable[[], None] = lambda: None) -> None:
        super().__init__(engine, CHANNEL, RESYNC_EVERY)
        self.store = store
        self.cipher = cipher
        self.on_removed = on_removed
        self.on_change = on_change
        self._pushed: dict[str, str] = {}  # id -> the record JSON PostgreSQL has
        self._tokens: dict[str, str] = {}  # tokens to push
        self._tombstones: set[str] = set()
        self._since: Any = None  # updated_at of the newest row read
        self._flush: asyncio.Task[None] | None = None
        self.problem: str | None = None  # e.g. tokens written under another secret key
        store.replica = self

    # -- the replica (called by the store, on the loop) ---------------------------------------
    def changed(self) -> None:
        self._schedule()

    def token(self, account_id: str, token: str) -> None:
        self._tokens[account_id] = token
        self._schedule()

    def removed(self, account_id: str) -> None:
        self._tombstones.add(account_id)
        self._tokens.pop(account_id, None)
        self._schedule()

    def _schedule(self) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # not on a loop (a CLI's own store): nothing to push from here
        if self._flush is None or self._flush.done():
            self._flush = asyncio.ensure_future(self._push_later())

    async def _push_later(self) -> None:
        await asyncio.sleep(DEBOUNCE)
        await self.push()

    # -- out ---------------------------------------------------------------------------------
    def _diff(self) -> list[tuple[Account, str]]:
        out = []
        for acc in self.store.all():
            j = json.dumps(acc.to_json(), sort_keys=True)
            if self._pushed.get(acc.id) != j or acc.id in self._tokens:
                out.append((acc, j))
        return out

    async def push(self) -> None:
        if not self.engine.health.up:
            return
        rows = self._diff()
        tokens, self._tokens = self._tokens, {}
        tombs, self._tombstones = self._tombstones, set()
        if not rows and not tombs:
            return
        enc = {aid: self.cipher.encrypt(t, aid) for aid, t in tokens.items()}
        try:
            await self.engine.run(lambda conn: _write(conn, rows, enc, tombs, self.engine.instance))
        except Exception as e:
            for aid, t in tokens.items():
                self._tokens.setdefault(aid, t)
            self._tombstones |= tombs
            log.warning("accounts could not be written to PostgreSQL (%s); they go out when it answers", e)
            return
        for acc, j in rows:
            self._pushed[acc.id] = j
        for aid in tombs:
            self._pushed.pop(aid, None)

    # -- in ----------------------------------------------------------------------------------
    async def _check_key(self, conn: Any) -> None:
        fp = self.cipher.fingerprint()
        async with conn.transaction():
            await conn.execute("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT DO NOTHING", _FP, fp)
            have = await conn.fetchval("SELECT value FROM meta WHERE key = $1", _FP)
        if have != fp:
            raise KeyMismatch(
                "the accounts in PostgreSQL were stored under another secret key: set TRAYPROXY_SECRET_KEY to the "
                "same value on every instance (this one cannot read their refresh tokens, and will not write its own)")

    async def pull(self, *, full: bool = False) -> None:
        since = None if full else self._since

        async def fetch(conn: Any) -> list[Any]:
            if since is None:
                return list(await conn.fetch("SELECT id, record, token, removed, updated_at, updated_by FROM accounts"))
            return list(await conn.fetch("SELECT id, record, token, removed, updated_at, updated_by FROM accounts "
                                         "WHERE updated_at >= $1", since))

        rows = await self.engine.run(fetch)
        changed = False
        for r in rows:
            if self._since is None or r["updated_at"] > self._since:
                self._since = r["updated_at"]
            aid = r["id"]
            if r["removed"]:
                self._pushed.pop(aid, None)
                if self.store.get(aid) is not None:
                    await self.store.a_remove(aid, tell=False)
                    self.on_removed(aid)
                    changed = True
                continue
            j = json.dumps(_obj(r["record"]), sort_keys=True)
            local = self.store.get(aid)
            if local is not None and json.dumps(local.to_json(), sort_keys=True) == j:
                self._pushed[aid] = j
                continue
            if r["updated_by"] == self.engine.instance and local is not None:
                continue  # our own write: what we hold is as new
            token = None
            if r["token"] is not None and local is None:
                try:
                    token = self.cipher.decrypt(bytes(r["token"]), aid)
                except CipherError as e:
                    self.problem = str(e)
                    log.error("account %s from PostgreSQL: %s", aid[:8], e)
                    continue
            elif r["token"] is not None:
                try:
                    token = self.cipher.decrypt(bytes(r["token"]), aid)
                except CipherError:
                    token = None
            self._pushed[aid] = j
            await self.store.apply_remote(Account.from_json(_obj(r["record"])), token)
            changed = True
        if changed:
            self.on_change()

    async def sync(self) -> None:
        """After a (re)connection: check the secret key, bring in every row, push what differs
        (accounts that existed here before shared mode too, with their tokens)."""
        await self.engine.run(self._check_key)
        self.problem = None
        remote = await self.engine.run(lambda conn: conn.fetch("SELECT id, removed FROM accounts"))
        known = {r["id"]: r["removed"] for r in remote}
        await self.pull(full=True)
        for acc in self.store.all():
            if acc.id not in known:  # first contact: this instance's own account goes up with its token
                token = await asyncio.to_thread(self.store.refresh_token, acc.id)
                if token:
                    self._tokens[acc.id] = token
        await self.push()

    async def stop(self) -> None:
        await super().stop()
        if self._flush is not None and not self._flush.done():
            self._flush.cancel()
        if self.engine.health.up:
            try:
                await self.push()
            except Exception:
                pass


def _obj(v: Any) -> dict[str, Any]:
    return json.loads(v) if isinstance(v, str) else dict(v)


async def _write(conn: Any, rows: list[tuple[Account, str]], tokens: dict[str, bytes], tombs: set[str],
                 instance: str) -> None:
    async with conn.transaction():
        for acc, j in rows:
            await conn.execute(
                "INSERT INTO accounts (id, email, record, token, removed, updated_by, updated_at) "
                "VALUES ($1, $2, $3::jsonb, $4, false, $5, clock_timestamp()) ON CONFLICT (id) DO UPDATE SET "
                "email = EXCLUDED.email, record = EXCLUDED.record, token = COALESCE(EXCLUDED.token, accounts.token), "
                "updated_by = EXCLUDED.updated_by, updated_at = EXCLUDED.updated_at WHERE NOT accounts.removed",
                acc.id, acc.email, j, tokens.get(acc.id), instance)
        for aid in tombs:
            await conn.execute(
                "INSERT INTO accounts (id, email, record, removed, updated_by, updated_at) "
                "VALUES ($1, '', '{}'::jsonb, true, $2, clock_timestamp()) ON CONFLICT (id) DO UPDATE SET "
                "removed = true, token = NULL, updated_by = EXCLUDED.updated_by, updated_at = EXCLUDED.updated_at",
                aid, instance)
        await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, instance)
