"""Client keys and the model mapping through Redis events (shared/redis_changes.py), with Redis
alone: a key made on one instance is accepted by the other, a revocation is refused there
within a second and never undone, and the mapping set on one is the other's."""

from __future__ import annotations

import time
from pathlib import Path

from tests.shared.nodes import node, two, until
from trayproxy.clientkeys.record import hash_key


async def test_keys_made_and_revoked_on_one_are_known_by_the_other(tmp_path: Path, redis_url: str) -> None:
    async with two(tmp_path, redis_url=redis_url) as (a, b):
        await until(lambda: a.shared.bus.synced.is_set() and b.shared.bus.synced.is_set())
        key, secret = await a.keys.a_create("ci", rpm=10)
        await until(lambda: b.keys.ring.match([secret]) is not None)
        assert b.keys.get(key.id) is not None and b.keys.get(key.id).rpm == 10  # type: ignore[union-attr]
        await until(lambda: b.keys.path.exists() and hash_key(secret) in b.keys.path.read_text())  # written by a thread
        assert secret not in b.keys.path.read_text()
        t0 = time.monotonic()
        await b.keys.a_revoke("ci")
        await until(lambda: a.keys.ring.match([secret]) is None, 5)
        assert time.monotonic() - t0 < 1.0
        # a late copy of the active record never brings it back
        a.shared.changes._apply_keys([{**key.to_json()}])
        assert a.keys.ring.match([secret]) is None


async def test_a_fresh_instance_takes_the_shared_keys_and_mapping(tmp_path: Path, redis_url: str) -> None:
    async with two(tmp_path, redis_url=redis_url) as (a, b):
        await until(lambda: a.shared.bus.synced.is_set() and b.shared.bus.synced.is_set())
        _, secret = await a.keys.a_create("team")
        a.mapping["claude-*"] = "gemini-3-flash"
        a.shared.mapping_changed(dict(a.mapping))
        await until(lambda: b.mapping == {"claude-*": "gemini-3-flash"})
        c = await node(tmp_path, "c", redis_url=redis_url)
        try:
            await until(lambda: c.shared.bus.synced.is_set())
            assert c.keys.ring.match([secret]) is not None
            assert c.mapping == {"claude-*": "gemini-3-flash"}
        finally:
            await c.stop()
