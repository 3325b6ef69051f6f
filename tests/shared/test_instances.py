"""Several `trayproxy serve` processes, each with its own data dir, against the fake Cloud Code
and real Redis and PostgreSQL servers: what one instance learns, the others know; what the
engines lose when they are killed mid-load, nothing loses.

Nothing here waits on a guess: each step waits for its condition (with a generous bound), and
the rpm test starts at the beginning of a minute so its requests share one window."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from tests.fakes.cloudcode import FakeCloudCode
from tests.shared.cluster import running, wait
from tests.shared.engines import PgServer, RedisServer

QUOTA = {"gemini-3-flash": 0.9}


@pytest.fixture
def fake() -> Iterator[FakeCloudCode]:
    f = FakeCloudCode()
    f.add_account("shared@example.com", refresh_token="1//rt-shared", quota=QUOTA)
    with f:
        yield f


def pg_count(url: str, sql: str) -> int:
    import asyncio

    async def q() -> int:
        conn = await asyncpg.connect(url)
        try:
            return int(await conn.fetchval(sql))
        finally:
            await conn.close()

    return asyncio.run(q())


def test_an_account_added_on_one_serves_from_another(tmp_path: Path, fake: FakeCloudCode,
                                                     database_url: str) -> None:
    with running(tmp_path, fake, ("a", "b"), database_url=database_url) as (a, b):
        # b had no account of its own: the one added on a came through PostgreSQL
        key = b.owner_key()
        before = fake.accounts["shared@example.com"].calls
        assert b.chat(key) == 200
        assert fake.accounts["shared@example.com"].calls == before + 1
        assert pg_count(database_url, "SELECT count(*) FROM accounts WHERE position('rt-shared' in "
                                      "encode(token, 'escape')) > 0") == 0


def test_a_key_revoked_on_one_is_refused_by_another_within_a_second(tmp_path: Path, fake: FakeCloudCode,
                                                                    database_url: str) -> None:
    with running(tmp_path, fake, ("a", "b"), database_url=database_url) as (a, b):
        created = a.cli("keys", "create", "ci", "--rpm", "1000")
        secret = created.stdout.strip()
        assert secret.startswith("sk-tp-") and "Created the key 'ci'" in created.stderr
        wait(lambda: b.chat(secret) == 200, 30, "the key to reach b")
        listed = b.cli("keys", "list").stdout
        assert "ci" in listed and "active" in listed and secret not in listed
        b.cli("keys", "revoke", "ci")
        took = wait(lambda: a.chat(secret) == 401, 5, "a to refuse the revoked key", every=0.02)
        assert took < 1.0, f"a refused the key {took:.2f} s after the revocation on b"


def test_a_keys_rpm_is_exact_across_three_instances(tmp_path: Path, fake: FakeCloudCode, redis_url: str,
                                                    database_url: str) -> None:
    with running(tmp_path, fake, ("a", "b", "c"), redis_url=redis_url, database_url=database_url) as cluster:
        secret = cluster[0].cli("keys", "create", "team", "--rpm", "12").stdout.strip()
        for i in cluster:
            wait(lambda i=i: i.request("GET", "/v1/models", key=secret)[0] == 200, 10, "the key everywhere")
        # /v1/models above counted 3 requests; start in a fresh minute so all share one window
        wait(lambda: time.time() % 60 < 1.0, 61, "the start of a minute", every=0.1)
        with concurrent.futures.ThreadPoolExecutor(9) as pool:
            codes = list(pool.map(lambda n: cluster[n % 3].chat(secret, f"q{n}"), range(36)))
        assert codes.count(200) == 12 and codes.count(429) == 24, codes
        status, headers, _ = cluster[1].request("POST", "/v1/chat/completions",
                                                 {"model": "gemini-3-flash", "messages": [{"role": "user",
                                                                                           "content": "x"}]}, secret)
        assert status == 429 and 1 <= int(headers["Retry-After"]) <= 60


def test_killing_redis_and_postgres_mid_load_fails_no_request_and_loses_no_row(
        tmp_path: Path, fake: FakeCloudCode, redis_server: RedisServer, pg_server: PgServer, redis_url: str,
        database_url: str) -> None:
    with running(tmp_path, fake, ("a", "b"), redis_url=redis_url, database_url=database_url) as cluster:
        a, b = cluster
        secret = a.cli("keys", "create", "load", "--rpm", "100000").stdout.strip()
        wait(lambda: b.chat(secret) == 200, 30, "the key to reach b")
        sent = 1
        codes: list[int] = []

        def burst(n: int) -> None:
            nonlocal sent
            with concurrent.futures.ThreadPoolExecutor(6) as pool:
                codes.extend(pool.map(lambda k: cluster[k % 2].chat(secret, f"m{k}"), range(n)))
            sent += n

        burst(40)
        redis_server.kill()
        pg_server.kill()
        burst(60)  # the engines are gone: every request is still answered
        wait(lambda: all((i.ready() or {}).get("shared", {}).get("up") is False for i in cluster), 15,
             "both instances to see the engines gone")
        problem = a.ready()["shared"]["problem"]  # type: ignore[index]
        assert problem.startswith("shared state unreachable since"), problem
        assert "shared state unreachable since" in a.cli("doctor", check=False).stdout
        burst(40)
        redis_server.start()
        pg_server.start()
        wait(lambda: all((i.ready() or {}).get("shared", {}).get("up") for i in cluster), 30,
             "both instances to reconnect")
        burst(20)
        assert codes.count(200) == len(codes), [c for c in codes if c != 200]
        # every row of both instances reaches the shared log, once
        wait(lambda: pg_count(database_url, "SELECT count(*) FROM requests WHERE key_id IS NOT NULL") == sent, 30,
             f"{sent} rows in PostgreSQL")
        assert pg_count(database_url, "SELECT count(DISTINCT instance) FROM requests") == 2
