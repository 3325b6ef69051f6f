"""PostgreSQL shared by instances: versioned migrations, accounts and keys both ways within a
second, refresh tokens that nothing can read without the key, and a request log that loses no
row when PostgreSQL goes away and comes back."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg

from tests.shared.engines import PgServer
from tests.shared.nodes import account, node, row, two, until
from trayproxy.shared.pg_engine import migrate, migrations


async def test_migrations_are_numbered_applied_once_and_a_newer_schema_is_refused(database_url: str) -> None:
    known = migrations()
    assert [v for v, _, _ in known] == list(range(1, len(known) + 1))
    conn = await asyncpg.connect(database_url)
    try:
        assert await migrate(conn) == len(known)
        assert await migrate(conn) == len(known)  # nothing twice
        assert await conn.fetchval("SELECT count(*) FROM schema_version") == len(known)
        await conn.execute("INSERT INTO schema_version (version, name) VALUES (999, 'future')")
        try:
            await migrate(conn)
            raise AssertionError("a newer schema was accepted")
        except RuntimeError as e:
            assert "newer than this trayproxy knows" in str(e)
    finally:
        await conn.close()


async def test_an_account_added_on_one_instance_serves_from_another(tmp_path: Path, database_url: str) -> None:
    async with two(tmp_path, database_url=database_url) as (a, b):
        acc = account("one@example.com")
        await a.store.a_put(acc, refresh_token="1//token-of-one")
        await until(lambda: b.store.get(acc.id) is not None, 3.0)
        assert b.store.get(acc.id).email == "one@example.com"  # type: ignore[union-attr]
        assert b.store.refresh_token(acc.id) == "1//token-of-one"  # in b's own keychain now
        # disabled on b: a hears of it
        got = b.store.get(acc.id)
        assert got is not None
        got.disabled, got.disabled_reason = True, "by hand"
        b.store.save()
        await until(lambda: a.store.get(acc.id).disabled, 3.0)  # type: ignore[union-attr]
        # removed on a: gone from b, and stays gone
        await a.store.a_remove(acc.id)
        await until(lambda: b.store.get(acc.id) is None, 3.0)


async def test_accounts_an_instance_had_before_go_up_and_tokens_are_never_stored_in_clear(
        tmp_path: Path, database_url: str) -> None:
    first = await node(tmp_path, "solo")  # embedded: no PostgreSQL yet
    acc = account("old@example.com")
    await first.store.a_put(acc, refresh_token="1//old-refresh-token-in-the-keychain")
    await first.stop()
    a = await node(tmp_path, "solo", database_url=database_url)  # the same data dir, shared mode on
    try:
        conn = await asyncpg.connect(database_url)
        try:
            await until(lambda: True)
            rows = await conn.fetch("SELECT id, record::text AS record, token FROM accounts")
            dump = "\n".join(f"{r['record']} {bytes(r['token'] or b'')!r}" for r in rows)
            assert [r["id"] for r in rows] == [acc.id]
            assert "old-refresh-token" not in dump and "1//" not in dump
            for table in ("meta", "client_keys", "requests"):
                text = str([dict(r) for r in await conn.fetch(f"SELECT * FROM {table}")])
                assert "old-refresh-token" not in text
        finally:
            await conn.close()
    finally:
        await a.stop()
    # another key: the tokens are not readable, and the instance says why instead of using them
    c = await node(tmp_path, "other-key", database_url=database_url, secret_key="1" * 64)
    try:
        assert c.store.get(acc.id) is None
        assert "stored under another secret key" in (c.shared.problem() or "")
    finally:
        await c.stop()


async def test_a_key_revoked_on_one_is_refused_by_another_within_a_second(tmp_path: Path, database_url: str) -> None:
    async with two(tmp_path, database_url=database_url) as (a, b):
        key, secret = await a.keys.a_create("team", rpm=10)
        await until(lambda: b.keys.ring.match([secret]) is not None, 3.0)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await b.keys.a_revoke(key.id)
        await until(lambda: a.keys.ring.match([secret]) is None, 1.0)
        assert loop.time() - t0 < 1.0
        raw = (a.dir / "keys.json").read_text()
        assert secret not in raw and key.hash in raw


async def test_the_log_survives_a_postgres_outage_and_a_restart_without_losing_a_row(
        tmp_path: Path, pg_server: PgServer, database_url: str) -> None:
    a = await node(tmp_path, "a", database_url=database_url)
    try:
        for i in range(50):
            a.monitor.record(row(i))
        await asyncio.to_thread(a.monitor.flush)
        await until(lambda: len(a.monitor.recent(limit=1000)) == 50)  # read back from PostgreSQL
        pg_server.kill()
        for i in range(50, 120):
            a.monitor.record(row(i))
        await asyncio.to_thread(a.monitor.flush)
        await until(lambda: not a.shared.health.up)
        assert "shared state unreachable since" in (a.shared.problem() or "")
        assert len(a.monitor.recent(limit=1000)) == 120  # this instance's own log meanwhile
    finally:
        await a.stop()
    pg_server.start()
    # a restarted instance ships what waited on disk
    a2 = await node(tmp_path, "a", database_url=database_url)
    try:
        await until(lambda: a2.shared.health.up)
        conn = await asyncpg.connect(database_url)
        try:
            async def count() -> int:
                return int(await conn.fetchval("SELECT count(*) FROM requests"))

            for _ in range(100):
                if await count() == 120:
                    break
                await asyncio.sleep(0.1)
            assert await count() == 120
            assert await conn.fetchval("SELECT count(DISTINCT id) FROM requests") == 120
        finally:
            await conn.close()
    finally:
        await a2.stop()
