"""AccountStore: bound to the engine loop, its saves are written by a worker thread, one at a
time and newest last; anywhere else they are written at once; removed accounts stay removed."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import MemoryKeyring
from trayproxy.accounts.store import Account, AccountStore
from trayproxy.fileio import atomic_write
from trayproxy.secrets import SecretStore, refresh_token_name


@pytest.fixture
def store(tmp_path: Path) -> AccountStore:
    return AccountStore(tmp_path / "accounts.json", SecretStore(tmp_path / "s.json", backend=MemoryKeyring()))


def _saved(store: AccountStore) -> list[str]:
    return [a["email"] for a in json.loads(store.path.read_text())["accounts"]]


def test_without_the_bound_loop_a_save_is_written_at_once(store: AccountStore) -> None:
    store.put(Account.new("a@example.com", now=time.time()), refresh_token="rt-a")
    assert _saved(store) == ["a@example.com"]

    async def elsewhere() -> None:  # a loop the store is not bound to: still written at once
        store.put(Account.new("b@example.com", now=time.time()))
        assert _saved(store) == ["a@example.com", "b@example.com"]

    asyncio.run(elsewhere())


def test_on_the_bound_loop_saves_go_to_one_worker_newest_last(store: AccountStore,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    writes: list[tuple[str, list[str]]] = []
    gate = threading.Event()

    def slow_write(self: AccountStore, data: bytes) -> None:
        gate.wait(5)  # the first write is still going while more changes arrive
        writes.append((threading.current_thread().name, [a["email"] for a in json.loads(data)["accounts"]]))
        atomic_write(self.path, data)

    monkeypatch.setattr(AccountStore, "_write", slow_write)

    async def burst() -> None:
        store.bind(asyncio.get_running_loop())
        loop_thread = threading.current_thread().name
        for email in ("a@example.com", "b@example.com", "c@example.com"):
            store.put(Account.new(email, now=time.time()))  # the pool's way: no await
            await asyncio.sleep(0)
        assert not writes  # nothing was written on the loop
        gate.set()
        await store.a_flush()
        assert all(name != loop_thread for name, _ in writes)

    asyncio.run(burst())
    # the first write took one account; the two changes made meanwhile became one write
    assert [emails for _, emails in writes] == [["a@example.com"], ["a@example.com", "b@example.com", "c@example.com"]]
    assert _saved(store) == ["a@example.com", "b@example.com", "c@example.com"]


def test_a_save_raises_the_write_error(store: AccountStore, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(self: AccountStore, data: bytes) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(AccountStore, "_write", full)

    async def run() -> None:
        store.bind(asyncio.get_running_loop())
        with pytest.raises(OSError, match="No space"):
            await store.a_put(Account.new("a@example.com", now=time.time()))

    asyncio.run(run())


def test_an_account_removed_while_its_token_is_stored_is_not_written_back(store: AccountStore,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    acc = Account.new("a@example.com", now=time.time())
    real_set = store.secrets.set

    async def run() -> None:
        store.bind(asyncio.get_running_loop())
        loop = asyncio.get_running_loop()

        def set_then_removed(name: str, value: str) -> None:  # the keychain is slow; the person removes meanwhile
            real_set(name, value)
            asyncio.run_coroutine_threadsafe(store.a_remove(acc.id), loop).result(5)

        monkeypatch.setattr(store.secrets, "set", set_then_removed)
        await store.a_put(acc, refresh_token="rt-a")

    asyncio.run(run())
    assert store.get(acc.id) is None and (not store.path.exists() or _saved(store) == [])
    assert store.secrets.get(refresh_token_name(acc.id)) is None
