"""Several `trayproxy serve` processes sharing the pool's live state through Redis (#30 part 2),
against the fake Cloud Code: what one instance learns of an account (a rest, a disable) the
others honour without spending a request on it; a key revoked on one is refused by the others
within a second; Redis killed mid-load fails no request, and what was learned meanwhile comes
back once it restarts.

With Redis alone, each instance signs the accounts in itself (they meet by e-mail). Every wait
polls for its condition with a generous bound; none sleeps to pass."""

from __future__ import annotations

import concurrent.futures
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.fakes.cloudcode import FakeCloudCode
from tests.shared.cluster import Instance, make, wait
from tests.shared.engines import RedisServer

MODEL = "gemini-3-flash"


@pytest.fixture
def fake() -> Iterator[FakeCloudCode]:
    f = FakeCloudCode()
    f.add_account("shared@example.com", refresh_token="1//rt-shared", quota={MODEL: 0.9})
    f.add_account("other@example.com", refresh_token="1//rt-other", quota={MODEL: 0.9})
    with f:
        yield f


@contextmanager
def own_accounts(tmp: Path, fake: FakeCloudCode, names: tuple[str, ...], **urls: str) -> Iterator[list[Instance]]:
    """Instances that each add both accounts themselves, ready to serve."""
    cluster = make(tmp, fake, names, **urls)
    try:
        for i in cluster:
            i.start()
        for i in cluster:
            for token in ("1//rt-shared", "1//rt-other"):
                i.cli("accounts", "add", stdin=token + "\n")
            i.wait_ready(30)
        yield cluster
    finally:
        for i in cluster:
            i.stop()


def metric(i: Instance, key: str, name: str, labels: str = "") -> float:
    status, _, body = i.request("GET", "/metrics", key=key, timeout=5)
    assert status == 200, body[:300]
    m = re.search(rf"^{re.escape(name)}{re.escape(labels)} ([0-9.e+-]+)$", body.decode(), re.M)
    return float(m.group(1)) if m else 0.0


def rests(i: Instance, key: str, kind: str = "quota") -> float:
    return metric(i, key, "trayproxy_active_rests", f'{{kind="{kind}"}}')


def learn_rest(i: Instance, key: str) -> None:
    """New conversations on `i` (each may go to any account) until it met the spent quota; each is
    answered (the instance fails over)."""
    n = iter(range(10_000))
    wait(lambda: i.chat(key, f"new conversation {next(n)}") == 200 and rests(i, key) >= 1, 30,
         f"{i.name} to learn the rest", every=0.01)


def test_a_rest_learned_by_one_is_honoured_by_the_others(tmp_path: Path, fake: FakeCloudCode,
                                                         redis_url: str) -> None:
    with own_accounts(tmp_path, fake, ("a", "b", "c"), redis_url=redis_url) as cluster:
        a, b, c = cluster
        keys = {i.name: i.owner_key() for i in cluster}
        shared = fake.account("shared@example.com")
        shared.set_quota(MODEL, 0.0, reset_in=3 * 3600)  # Google: this account's quota is spent
        # a spends requests until it meets the refusal itself (it fails over: the client sees 200)
        learn_rest(a, keys["a"])
        took = wait(lambda: rests(b, keys["b"]) >= 1 and rests(c, keys["c"]) >= 1, 10, "b and c to hear of it")
        assert took < 1.0, f"the rest reached b and c {took:.2f} s later"
        before = shared.calls
        other_before = fake.account("other@example.com").calls
        codes = [i.chat(keys[i.name], f"q{n}") for n in range(6) for i in (b, c)]
        assert codes == [200] * 12
        assert shared.calls == before, "b or c sent a request to the resting account"
        assert fake.account("other@example.com").calls == other_before + 12


def test_an_account_added_or_disabled_on_one_is_known_by_the_others(tmp_path: Path, fake: FakeCloudCode,
                                                                    redis_url: str, database_url: str) -> None:
    cluster = make(tmp_path, fake, ("a", "b"), redis_url=redis_url, database_url=database_url)
    a, b = cluster
    try:
        for i in cluster:
            i.start()
        a.cli("accounts", "add", stdin="1//rt-shared\n")
        a.wait_ready(30)
        t0 = time.monotonic()
        b.wait_ready(30)  # b had no account: a's came through (a Redis event, PostgreSQL's row)
        added = time.monotonic() - t0
        key = b.owner_key()
        before = fake.account("shared@example.com").calls
        assert b.chat(key) == 200 and fake.account("shared@example.com").calls == before + 1
        a.cli("accounts", "disable", "shared@example.com")
        took = wait(lambda: b.chat(key) == 503, 10, "b to stop using the disabled account", every=0.02)
        print(f"account reached b in {added:.2f} s; its disable in {took:.2f} s")
        assert took < 1.0, f"b used the account {took:.2f} s after it was disabled on a"
    finally:
        for i in cluster:
            i.stop()


def test_a_key_revoked_on_one_is_refused_by_another_within_a_second_through_redis(
        tmp_path: Path, fake: FakeCloudCode, redis_url: str) -> None:
    with own_accounts(tmp_path, fake, ("a", "b"), redis_url=redis_url) as (a, b):
        secret = a.cli("keys", "create", "ci", "--rpm", "1000").stdout.strip()
        wait(lambda: b.chat(secret) == 200, 30, "the key to reach b")  # Redis alone: the event carried it
        b.cli("keys", "revoke", "ci")
        took = wait(lambda: a.chat(secret) == 401, 5, "a to refuse the revoked key", every=0.02)
        assert took < 1.0, f"a refused the key {took:.2f} s after the revocation on b"


def test_a_mapping_set_on_one_is_every_instances(tmp_path: Path, fake: FakeCloudCode, redis_url: str) -> None:
    with own_accounts(tmp_path, fake, ("a", "b"), redis_url=redis_url) as (a, b):
        a.cli("config", "set", "model_mapping.team-default", MODEL)
        wait(lambda: '"team-default"' in (b.home / "config.json").read_text(), 10, "b to save a's mapping")
        status, _, body = b.request("POST", "/v1/chat/completions",
                                    {"model": "team-default", "messages": [{"role": "user", "content": "hi"}]},
                                    b.owner_key())
        assert status == 200, body[:300]


def test_killing_redis_mid_load_fails_no_request_and_the_state_comes_back(
        tmp_path: Path, fake: FakeCloudCode, redis_server: RedisServer, redis_url: str) -> None:
    with own_accounts(tmp_path, fake, ("a", "b"), redis_url=redis_url) as cluster:
        a, b = cluster
        keys = {i.name: i.owner_key() for i in cluster}
        codes: list[int] = []

        def burst(n: int, on: list[Instance] = cluster) -> None:
            with concurrent.futures.ThreadPoolExecutor(6) as pool:
                codes.extend(pool.map(lambda k: on[k % len(on)].chat(keys[on[k % len(on)].name], f"m{len(codes)}-{k}"),
                                      range(n)))

        burst(30)
        redis_server.kill()
        burst(30)  # Redis is gone: every request is still answered
        wait(lambda: all((i.ready() or {}).get("shared", {}).get("up") is False for i in cluster), 15,
             "both instances to see Redis gone")
        # learned while Redis is away: a meets the spent quota; b cannot hear of it yet
        fake.account("shared@example.com").set_quota(MODEL, 0.0, reset_in=3 * 3600)
        learn_rest(a, keys["a"])
        assert rests(b, keys["b"]) == 0
        burst(20, [a])  # (b would learn it by itself)
        redis_server.start()  # empty
        wait(lambda: all((i.ready() or {}).get("shared", {}).get("up") for i in cluster), 30, "both to reconnect")
        wait(lambda: rests(b, keys["b"]) >= 1, 10, "the rest a learned during the outage to reach b")
        before = fake.account("shared@example.com").calls
        codes.extend(b.chat(keys["b"], f"after{n}") for n in range(6))
        assert fake.account("shared@example.com").calls == before
        assert codes.count(200) == len(codes), [c for c in codes if c != 200]
