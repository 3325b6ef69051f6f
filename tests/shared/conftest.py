"""The shared-mode tests' engines: one Redis and one PostgreSQL server for the whole session
(started on first use), a fresh database and an empty Redis for each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.shared.engines import PgServer, RedisServer


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    server = PgServer()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    if redis_server.proc is None:
        redis_server.start()
    redis_server.flush()
    return redis_server.url


@pytest.fixture
def database_url(pg_server: PgServer) -> str:
    return pg_server.new_database()
