"""Compressed request bodies: decoded within the body limit, wrong or unknown encodings refused."""

from __future__ import annotations

import gzip
import json
import tracemalloc
import zlib
from collections.abc import Iterator

import pytest

from tests.fakes.cloudcode import FakeCloudCode
from tests.helpers import make_controller, request
from trayproxy.controller import Controller
from trayproxy.proxy.body import TooLarge, inflate

CHAT = {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}


def test_inflate_stops_at_the_limit_without_inflating_the_rest() -> None:
    bomb = gzip.compress(b"\0" * (64 << 20))  # 64 MiB of zeros in ~64 KiB
    assert len(bomb) < 100_000
    tracemalloc.start()
    try:
        with pytest.raises(TooLarge):
            inflate(bomb, "gzip", 1 << 20)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20  # a few MiB of buffers, not the 64 MiB the data inflates to
    assert inflate(gzip.compress(b"abc"), "gzip", 3) == b"abc"
    assert inflate(zlib.compress(b"abc"), "deflate", 10) == b"abc"
    raw = zlib.compressobj(wbits=-15)
    assert inflate(raw.compress(b"raw deflate") + raw.flush(), "deflate", 100) == b"raw deflate"
    with pytest.raises(ValueError):
        inflate(b"not gzip at all", "gzip", 100)
    with pytest.raises(ValueError, match="too early"):
        inflate(gzip.compress(b"x" * 1000)[:20], "gzip", 10_000)


@pytest.fixture(scope="module")
def ctl() -> Iterator[Controller]:
    fake = FakeCloudCode()
    fake.strict_models = False
    fake.add_account("a@example.com", quota={"gemini-2.5-flash": 1.0})
    with fake:
        c = make_controller(env=fake.env(), max_body_mb=1)
        c.add_refresh_token("rt-a@example.com")
        c.start()
        try:
            yield c
        finally:
            c.close()


def _post(ctl: Controller, body: bytes, encoding: str) -> tuple[int, dict]:
    status, _, raw = request(ctl.status().port, "POST", "/v1/chat/completions", body=body,
                             headers={"Content-Encoding": encoding, "Content-Type": "application/json"})
    return status, json.loads(raw)


def test_gzip_bomb_is_413_not_a_gigabyte(ctl: Controller) -> None:
    """Regression (attack run): 1 MiB of gzip became 1 GiB of RSS before the 413."""
    bomb = gzip.compress(b'{"model": "' + b"a" * (200 << 20) + b'"}', 9)
    assert len(bomb) < 1 << 20  # under the limit as sent
    tracemalloc.start()
    try:
        status, body = _post(ctl, bomb, "gzip")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert status == 413 and "1 MiB" in body["error"]["message"]
    assert peak < 32 << 20  # the 200 MiB it would inflate to were never made


def test_gzip_body_within_the_limit_is_served(ctl: Controller) -> None:
    status, body = _post(ctl, gzip.compress(json.dumps(CHAT).encode()), "gzip")
    assert status == 200 and body["choices"][0]["message"]["content"], body
    status, body = _post(ctl, zlib.compress(json.dumps(CHAT).encode()), "deflate")
    assert status == 200, body
    ctl.monitor.flush()
    rows = ctl.monitor.recent(limit=2)
    assert [r["status"] for r in rows] == [200, 200] and rows[0]["client_model"] == "gemini-2.5-flash"


@pytest.mark.parametrize("encoding,payload,status", [
    ("gzip", json.dumps(CHAT).encode(), 400),      # says gzip, is not
    ("deflate", b"\x78\x9c garbage", 400),
    ("br", b"whatever", 415),
    ("compress", b"whatever", 415),
    ("gzip, snappy", b"whatever", 415),
])
def test_wrong_or_unknown_encoding_is_a_client_error(ctl: Controller, encoding: str, payload: bytes,
                                                     status: int) -> None:
    got, body = _post(ctl, payload, encoding)
    assert got == status, body
    assert "Content-Encoding" in body["error"]["message"] or "not valid" in body["error"]["message"]
