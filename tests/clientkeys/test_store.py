"""keys.json holds hashes only; changes are in memory at once, on disk after; the ring the guard
reads is replaced whole; another instance's changes come in through apply."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path

import pytest

from trayproxy.clientkeys.record import ClientKey, ClientKeyError
from trayproxy.clientkeys.store import KeyStore


def test_create_stores_only_the_hash_and_the_file_is_private(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys.json")
    key, secret = store.create("ci", rpm=5, models=["gemini-*"])
    raw = (tmp_path / "keys.json").read_text()
    assert secret not in raw and key.hash in raw
    assert stat.S_IMODE((tmp_path / "keys.json").stat().st_mode) == 0o600
    again = KeyStore(tmp_path / "keys.json")
    assert again.get(key.id) == key
    assert again.ring.match(["nope", secret]) == key


def test_revoke_takes_the_key_out_of_the_ring_and_names_are_unique_among_live_keys(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys.json")
    key, secret = store.create("ci")
    ring = store.ring
    with pytest.raises(ClientKeyError, match="exists already"):
        store.create("ci")
    store.revoke("ci")
    assert store.ring is not ring and store.ring.match([secret]) is None
    assert ring.match([secret]) == key  # the old ring is left as it was (a request in flight)
    new, _ = store.create("ci")  # the name is free again
    assert store.find("ci") == new and store.find(key.id).revoked_at is not None
    with pytest.raises(ClientKeyError, match="No key"):
        store.find("other")


async def test_async_changes_are_in_memory_at_once_and_written_off_the_loop(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys.json")
    task = asyncio.ensure_future(store.a_create("a"))
    key, secret = await task
    assert store.ring.match([secret]) == key
    assert json.loads((tmp_path / "keys.json").read_text())["keys"][0]["id"] == key.id
    await store.a_revoke(key.id)
    assert KeyStore(tmp_path / "keys.json").get(key.id).revoked_at is not None  # type: ignore[union-attr]


def test_apply_takes_other_instances_changes_but_never_undoes_a_revocation(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys.json")
    mine, _ = store.create("mine")
    other = ClientKey.new("other", "sk-tp-" + "x" * 40)
    assert store.apply([other, mine]) == [other]
    assert store.ring.match(["sk-tp-" + "x" * 40]) == other
    store.revoke("mine")
    assert store.apply([mine]) == []  # the shared copy has not heard of the revocation yet
    assert store.find("mine").revoked_at is not None
    revoked = ClientKey(**{**other.to_json(), "revoked_at": 1.0})
    assert store.apply([revoked]) == [revoked] and store.ring.match(["sk-tp-" + "x" * 40]) is None
    assert KeyStore(tmp_path / "keys.json").find(other.id).revoked_at == 1.0
