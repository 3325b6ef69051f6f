"""The account pool's live state in Redis, shared by every instance (the pool's `PoolMirror`).

1. What is shared, keyed by the account's e-mail hashed (`account_key`: instances that each
   signed the same Google account in give it different ids, and Redis holds no e-mail):
   - rests (`pool:rests`, field `<account>|<model>`, "" for the whole account): until, reason,
     kind; a rest only grows (a Lua max), ends early only by an explicit end; "no AI credits
     left" is kept there too, as `<account>|#credits` (`CREDITS`);
   - account states (`pool:acct:<account>` field `state`): paused for verification, disabled,
     resumed, with when;
   - quota snapshots and catalogs (same hash, field `snap`): every field of the record the
     upstream told (models and quota, windows, forwarding rules, ...), with when it was read, so
     whoever reads the catalog serves it to all;
   - sticky sessions (`sess:<session id>`: the pool's digest of the conversation key, never the
     key itself, with its expiry), so a client that moves to another instance stays on its account;
   - in-flight counts (`pool:inflight`, field per instance, refreshed every `INFLIGHT_EVERY`),
     which balancing adds to the local ones.
2. Each change is queued on the bus (one pipeline per loop turn, never awaited by a request)
   and announced as an event; other instances apply it to memory through the pool's `apply_*`
   methods within a second. The request path reads memory only.
3. Sync (start, Redis back, every 30 s): read everything, apply what is newer or longer than
   what this instance holds, then write back what Redis lacks: a restarted Redis gets the
   whole pool state back from the instances.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import fields
from typing import Any

from trayproxy.accounts.pool import AccountPool, Cooldown, account_state
from trayproxy.accounts.store import Account, AccountStore
from trayproxy.shared.redis_bus import Bus
from trayproxy.shared.redis_engine import PREFIX

__all__ = ["RedisPool", "account_key", "snapshot"]

RESTS = PREFIX + "pool:rests"
INFLIGHT = PREFIX + "pool:inflight"
SESSION = PREFIX + "sess:"
CREDITS = "#credits"  # the rests hash's model for "Google said no AI credits left" (no model id has a #)
INFLIGHT_EVERY = 0.5
INFLIGHT_STALE = 3.0
# A rest grows, never shrinks, whoever writes last. KEYS[1] the hash; ARGV: field, until, value.
_MAX_REST = """
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur and tonumber(cjson.decode(cur).u) >= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
"""
# Not part of the snapshot: who the account is, its state (shared separately) and this
# instance's own bookkeeping.
_NOT_SNAPSHOT = frozenset({"id", "email", "project", "created_at", "last_used", "onboarded_at", "disabled",
                           "disabled_reason", "disabled_at", "disabled_by", "disabled_link", "verify_url",
                           "verify_text", "verify_message", "verify_at"})


def account_key(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:24]


def snapshot(acc: Account) -> dict[str, Any]:
    """What the upstream told of the account (catalog, quota, windows, ...): the shared part."""
    d = acc.to_json()
    return {f.name: d[f.name] for f in fields(Account) if f.name not in _NOT_SNAPSHOT and f.name in d}


def _acct(ak: str) -> str:
    return f"{PREFIX}pool:acct:{ak}"


def _dump(v: Any) -> str:
    return json.dumps(v, sort_keys=True, separators=(",", ":"))


class RedisPool:
    def __init__(self, bus: Bus, pool: AccountPool, store: AccountStore,
                 on_change: Callable[[], None] = lambda: None,
                 on_accounts: Callable[[], None] = lambda: None) -> None:
        self.bus = bus
        self.pool = pool
        self.store = store
        self.clock: Callable[[], float] = pool.clock
        self.on_change = on_change
        self.on_accounts = on_accounts  # another instance added or removed an account (PostgreSQL pulls)
        self._keys: dict[str, str] = {}  # account id -> account key
        self._snaps: dict[str, tuple[str, float]] = {}  # account key -> (snapshot JSON, when) as shared
        self._states: dict[str, tuple[str, float]] = {}  # account key -> (state JSON, when) as shared
        self._last_inflight: dict[str, int] = {}
        self._inflight_sent = 0.0
        for acc in store.all():
            self._first_sight(acc)
        pool.mirror = self
        for kind, fn in (("rest", self._on_rest), ("rest_end", self._on_rest_end), ("bind", self._on_bind),
                         ("state", self._on_state), ("snap", self._on_snap), ("account", self._on_account)):
            bus.on(kind, fn)
        bus.on_sync(self.sync)

    # -- account ids <-> keys ------------------------------------------------------------------
    def key_of(self, account_id: str) -> str | None:
        k = self._keys.get(account_id)
        if k is None:
            acc = self.store.get(account_id)
            if acc is None:
                return None
            k = self._keys[account_id] = account_key(acc.email)
        return k

    def _first_sight(self, acc: Account) -> str:
        """What this instance holds of an account it had not seen, dated as the record says."""
        ak = account_key(acc.email)
        self._keys[acc.id] = ak
        self._snaps[ak] = (_dump(snapshot(acc)), acc.quota_updated or 0.0)
        self._states[ak] = (_dump(account_state(acc)), max(acc.disabled_at or 0.0, acc.verify_at or 0.0))
        return ak

    def local(self, ak: str) -> Account | None:
        for acc in self.store.all():
            if self.key_of(acc.id) == ak:
                return acc
        return None

    # -- out: the pool's mirror ------------------------------------------------------------------
    def rested(self, account_id: str, model: str, cooldown: Cooldown) -> None:
        ak = self.key_of(account_id)
        if ak is None:
            return
        value = _dump({"u": cooldown.until, "r": cooldown.reason[:500], "k": cooldown.kind})
        self.bus.write(lambda p: p.eval(_MAX_REST, 1, RESTS, f"{ak}|{model}", cooldown.until, value))
        self.bus.publish("rest", a=ak, m=model, u=cooldown.until, r=cooldown.reason[:500], kd=cooldown.kind)

    def no_credits(self, account_id: str, until: float) -> None:
        self.rested(account_id, CREDITS, Cooldown(until, "no Google One AI credits left", "no_credits"))

    def rests_ended(self, account_id: str, models: list[str]) -> None:
        ak = self.key_of(account_id)
        if ak is None:
            return
        names = [f"{ak}|{m}" for m in models]
        self.bus.write(lambda p: p.hdel(RESTS, *names))
        self.bus.publish("rest_end", a=ak, m=models)

    def bound(self, session: str, account_id: str, until: float) -> None:
        ak = self.key_of(account_id)
        if ak is None:
            return
        ms = max(1, int((until - self.clock()) * 1000))
        self.bus.write(lambda p: p.set(SESSION + session, _dump([ak, until]), px=ms))
        self.bus.publish("bind", s=session, a=ak, u=until)

    def account_changed(self, account_id: str) -> None:
        acc = self.store.get(account_id)
        ak = self.key_of(account_id)
        if acc is None or ak is None:
            return
        state, now = _dump(account_state(acc)), self.clock()
        self._states[ak] = (state, now)
        value = _dump({"s": json.loads(state), "at": now})
        self.bus.write(lambda p: p.hset(_acct(ak), "state", value))
        self.bus.publish("state", a=ak, s=json.loads(state), at=now)

    # -- out: the store's replica (snapshots, accounts added and removed) ----------------------
    def changed(self) -> None:
        """Records were saved: share the snapshots that changed; announce accounts added."""
        now = self.clock()
        for acc in self.store.all():
            ak = self._keys.get(acc.id)
            if ak is None or ak not in self._snaps:  # new here
                self._first_sight(acc)
                self.bus.publish("account", a=account_key(acc.email), op="added")
                self.bus.resync()  # what the others know of it comes in, what it knows goes out
                continue
            snap = _dump(snapshot(acc))
            if self._snaps[ak][0] != snap:
                self._snaps[ak] = (snap, now)
                self._write_field(ak, "snap", _dump({"s": json.loads(snap), "at": now}))
                self.bus.publish("snap", a=ak, s=json.loads(snap), at=now)

    def _write_field(self, ak: str, field: str, value: str) -> None:
        self.bus.write(lambda p: p.hset(_acct(ak), field, value))

    def token(self, account_id: str, token: str) -> None:
        """Refresh tokens stay out of Redis (PostgreSQL carries them, encrypted)."""

    def removed(self, account_id: str) -> None:
        ak = self._keys.pop(account_id, None)
        if ak is not None:
            self._snaps.pop(ak, None)
            self.bus.publish("account", a=ak, op="removed")

    # -- in: other instances' events -----------------------------------------------------------
    def _on_rest(self, m: dict[str, Any]) -> None:
        acc = self.local(str(m["a"]))
        if acc is not None and self._apply_rest(acc.id, str(m["m"]),
                                                Cooldown(float(m["u"]), str(m["r"]), str(m["kd"]))):
            self.on_change()

    def _apply_rest(self, account_id: str, model: str, c: Cooldown) -> bool:
        if model == CREDITS:
            return self.pool.apply_no_credits(account_id, c.until)
        return self.pool.apply_rest(account_id, model, c)

    def _on_rest_end(self, m: dict[str, Any]) -> None:
        acc = self.local(str(m["a"]))
        if acc is not None:
            self.pool.apply_rests_ended(acc.id, [str(x) for x in m["m"]])
            self.on_change()

    def _on_bind(self, m: dict[str, Any]) -> None:
        acc = self.local(str(m["a"]))
        if acc is not None:
            self.pool.apply_binding(str(m["s"]), acc.id, float(m["u"]))

    def _on_state(self, m: dict[str, Any]) -> None:
        self._apply_state(str(m["a"]), m["s"], float(m["at"]))

    def _newer(self, table: dict[str, tuple[str, float]], ak: str, value: dict[str, Any],
               at: float) -> Account | None:
        """The local account when `value` (dated `at`) is newer than what `table` holds for it:
        then noted there as what is shared."""
        acc = self.local(ak)
        have = table.get(ak)
        if acc is None or (have is not None and have[1] >= at):
            return None
        table[ak] = (_dump(value), at)
        return acc

    def _apply_state(self, ak: str, state: dict[str, Any], at: float) -> bool:
        acc = self._newer(self._states, ak, state, at)
        return acc is not None and self.pool.apply_account_state(acc.id, state)

    def _on_snap(self, m: dict[str, Any]) -> None:
        self._apply_snap(str(m["a"]), m["s"], float(m["at"]))

    def _apply_snap(self, ak: str, snap: dict[str, Any], at: float) -> bool:
        acc = self._newer(self._snaps, ak, snap, at)
        if acc is None or _dump(snapshot(acc)) == self._snaps[ak][0]:
            return False
        fresh = Account.from_json({**acc.to_json(), **snap})
        for name in snap:
            if hasattr(acc, name):
                setattr(acc, name, getattr(fresh, name))
        self.store.save()
        self.on_change()
        return True

    def _on_account(self, m: dict[str, Any]) -> None:
        self.on_accounts()

    # -- in-flight counts ----------------------------------------------------------------------
    async def share_inflight(self) -> None:
        """Write this instance's in-flight counts and read the others' (one round trip; called
        every INFLIGHT_EVERY while something is or was in flight, every few seconds otherwise)."""
        now = time.time()
        mine = {k: n for aid, n in self.pool.inflight().items() if (k := self.key_of(aid)) is not None}
        if mine == self._last_inflight and not mine and now - self._inflight_sent < INFLIGHT_STALE / 2:
            return
        self._last_inflight, self._inflight_sent = mine, now
        value = _dump({"t": now, "n": mine})
        replies = await self.bus.run(lambda p: (p.hset(INFLIGHT, self.bus.instance, value), p.hgetall(INFLIGHT)))
        if replies is None:
            self.pool.remote_inflight = {}
            return
        total: dict[str, int] = {}
        stale = []
        for inst, raw in (replies[1] or {}).items():
            name = inst.decode() if isinstance(inst, bytes) else str(inst)
            if name == self.bus.instance:
                continue
            d = json.loads(raw)
            if now - float(d.get("t", 0)) > INFLIGHT_STALE:
                stale.append(name)
                continue
            for ak, n in d.get("n", {}).items():
                total[ak] = total.get(ak, 0) + int(n)
        if stale:
            self.bus.write(lambda p: p.hdel(INFLIGHT, *stale))
        self.pool.remote_inflight = {acc.id: total[ak] for acc in self.store.all()
                                     if (ak := self.key_of(acc.id)) is not None and ak in total}

    # -- sync ------------------------------------------------------------------------------------
    async def sync(self) -> None:
        """Read the shared pool state, apply what is newer or longer, write back what Redis lacks."""
        accounts = [(acc, ak) for acc in self.store.all() if (ak := self.key_of(acc.id)) is not None]

        def read(p: Any) -> None:
            p.hgetall(RESTS)
            for _, ak in accounts:
                p.hgetall(_acct(ak))

        replies = await self.bus.run(read)
        if replies is None:
            raise ConnectionError("Redis did not answer the sync")
        now = self.clock()
        remote_rests = {_s(k): json.loads(v) for k, v in (replies[0] or {}).items()}
        changed = False
        expired = []
        remote: dict[str, dict[str, Any]] = {}
        for name, r in remote_rests.items():
            ak, _, model = name.partition("|")
            if float(r["u"]) <= now:
                expired.append(name)
                continue
            acc = self.local(ak)
            if acc is not None:
                changed |= self._apply_rest(acc.id, model, Cooldown(float(r["u"]), str(r["r"]), str(r["k"])))
        for (_acc, ak), h in zip(accounts, replies[1:], strict=False):
            h = {_s(k): json.loads(v) for k, v in (h or {}).items()}
            if "state" in h:
                changed |= self._apply_state(ak, h["state"]["s"], float(h["state"]["at"]))
            if "snap" in h:
                changed |= self._apply_snap(ak, h["snap"]["s"], float(h["snap"]["at"]))
            remote[ak] = h
        await self._write_back(accounts, remote_rests, remote, expired, now)
        await self._sync_sessions()
        if changed:
            self.on_change()

    async def _write_back(self, accounts: list[tuple[Account, str]], remote_rests: dict[str, Any],
                          remote: dict[str, dict[str, Any]], expired: list[str], now: float) -> None:
        events: list[tuple[str, dict[str, Any]]] = []  # what Redis lacked goes to the others too
        credits = self.pool.credits_out()

        def write(p: Any) -> None:
            if expired:
                p.hdel(RESTS, *expired)
            for acc, ak in accounts:
                held = dict(self.pool.cooldowns(acc.id))
                if acc.id in credits:
                    held[CREDITS] = Cooldown(credits[acc.id], "no Google One AI credits left", "no_credits")
                for model, c in held.items():
                    r = remote_rests.get(f"{ak}|{model}")
                    if r is None or float(r["u"]) < c.until:
                        p.eval(_MAX_REST, 1, RESTS, f"{ak}|{model}", c.until,
                               _dump({"u": c.until, "r": c.reason[:500], "k": c.kind}))
                        events.append(("rest", {"a": ak, "m": model, "u": c.until, "r": c.reason[:500],
                                                "kd": c.kind}))
                h = remote.get(ak, {})
                for field, (mine, at) in (("state", self._states.get(ak, ("", 0.0))),
                                           ("snap", self._snaps.get(ak, ("", 0.0)))):
                    theirs = h.get(field)
                    if mine and (theirs is None or float(theirs["at"]) < at):  # Redis lacks it, or older
                        p.hset(_acct(ak), field, _dump({"s": json.loads(mine), "at": at}))
                        events.append((field, {"a": ak, "s": json.loads(mine), "at": at}))
            for session, (aid, until) in self.pool.bindings().items():
                bk = self.key_of(aid)
                if bk is not None:
                    p.set(SESSION + session, _dump([bk, until]), px=max(1, int((until - now) * 1000)), nx=True)

        await self.bus.run(write)
        for kind, data in events:
            self.bus.publish(kind, **data)

    async def _sync_sessions(self) -> None:
        if self.bus.engine.client is None:
            return
        names = [k async for k in self.bus.engine.client.scan_iter(match=SESSION + "*", count=1000)]
        if not names:
            return
        values = await self.bus.run(lambda p: p.mget(names))
        if not values:
            return
        live = self.pool.bindings()
        for name, raw in zip(names, values[0], strict=False):
            if raw is None:
                continue
            ak, until = json.loads(raw)
            acc = self.local(ak)
            sid = _s(name)[len(SESSION):]
            if acc is not None and sid not in live:
                self.pool.apply_binding(sid, acc.id, float(until))


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)
