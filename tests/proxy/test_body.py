"""Compressed request bodies: decoded within the body limit, wrong or unknown encodings refused.
The proxy's app and the fake Cloud Code run in the test's loop."""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
import tracemalloc
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.cloudcode import FakeCloudCode
from tests.proxy.app_stack import AppStack, app_stack
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


@pytest.fixture()
async def ctl(tmp_path: Path) -> AsyncIterator[AppStack]:
    fake = FakeCloudCode()
    fake.strict_models = False
    fake.add_account("a@example.com", quota={"gemini-2.5-flash": 1.0})
    async with app_stack(tmp_path, fake=fake, emails=("a@example.com",), monitor=True, max_body_mb=1) as s:
        yield s


async def _post(ctl: AppStack, body: bytes, encoding: str) -> tuple[int, dict]:
    status, _, raw = await ctl.post("/v1/chat/completions", body,
                                    headers={"Content-Encoding": encoding, "Content-Type": "application/json"})
    return status, json.loads(raw)


async def _post_measured(ctl: AppStack, body: bytes, encoding: str) -> tuple[int, dict, int]:
    """`_post`, and the peak of Python memory allocated meanwhile (tracemalloc)."""
    tracemalloc.start()
    try:
        status, answer = await _post(ctl, body, encoding)
        return status, answer, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


async def test_gzip_bomb_is_413_not_a_gigabyte(ctl: AppStack) -> None:
    """Regression (attack run): 1 MiB of gzip became 1 GiB of RSS before the 413."""
    bomb = gzip.compress(b'{"model": "' + b"a" * (200 << 20) + b'"}', 9)
    assert len(bomb) < 1 << 20  # under the limit as sent
    status, body, peak = await _post_measured(ctl, bomb, "gzip")
    assert status == 413 and "1 MiB" in body["error"]["message"]
    assert peak < 32 << 20  # the 200 MiB it would inflate to were never made


async def test_gzip_body_within_the_limit_is_served(ctl: AppStack) -> None:
    status, body = await _post(ctl, gzip.compress(json.dumps(CHAT).encode()), "gzip")
    assert status == 200 and body["choices"][0]["message"]["content"], body
    status, body = await _post(ctl, zlib.compress(json.dumps(CHAT).encode()), "deflate")
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
async def test_wrong_or_unknown_encoding_is_a_client_error(ctl: AppStack, encoding: str, payload: bytes,
                                                     status: int) -> None:
    got, body = await _post(ctl, payload, encoding)
    assert got == status, body
    assert "Content-Encoding" in body["error"]["message"] or "not valid" in body["error"]["message"]


async def _send(ctl: AppStack, path: str, body: bytes | list[bytes],
                headers: dict[str, str] | None = None) -> tuple[int, dict]:
    """POST `body`: bytes with a Content-Length, a list as a chunked body without one."""
    status, _, out = await ctl.post(path, body, headers={"Content-Type": "application/json", **(headers or {})})
    return status, json.loads(out)


def _over_the_limit() -> bytes:  # 1.5 MiB against the fixture's 1 MiB
    return json.dumps({**CHAT, "messages": [{"role": "user", "content": "x" * (3 << 19)}]}).encode()


@pytest.mark.parametrize("chunked", [False, True])
async def test_a_plain_body_over_the_limit_gets_the_protocols_413(ctl: AppStack, chunked: bool) -> None:
    raw = _over_the_limit()
    body: bytes | list[bytes] = [raw[i:i + 100_000] for i in range(0, len(raw), 100_000)] if chunked else raw
    status, answer = await _send(ctl, "/v1/chat/completions", body)
    assert status == 413 and answer["error"]["code"] == "request_too_large", answer
    assert "1 MiB" in answer["error"]["message"]
    status, answer = await _send(ctl, "/v1/messages", body, {"anthropic-version": "2023-06-01"})
    assert status == 413 and answer["type"] == "error" and answer["error"]["type"] == "request_too_large", answer


async def test_a_chunked_body_without_a_length_is_read(ctl: AppStack) -> None:
    raw = json.dumps(CHAT).encode()
    status, answer = await _send(ctl, "/v1/chat/completions", [raw[:7], raw[7:30], raw[30:]])
    assert status == 200 and answer["choices"][0]["message"]["content"], answer
    status, answer = await _send(ctl, "/v1/chat/completions", [b"  ", b"\n"])
    assert status == 400 and "empty" in answer["error"]["message"], answer


async def test_a_big_compressed_body_is_inflated_in_a_worker_and_served(ctl: AppStack,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from trayproxy.proxy import body as body_mod

    inflated: list[tuple[int, bool]] = []
    real = body_mod.inflate
    monkeypatch.setattr(body_mod, "BIG_COMPRESSED", 16)  # this small gzip counts as big

    def spy(data: bytes, encoding: str, limit: int) -> bytes:
        out = real(data, encoding, limit)
        inflated.append((len(out), threading.current_thread().name.startswith("asyncio_")))
        return out

    monkeypatch.setattr(body_mod, "inflate", spy)
    raw = json.dumps({**CHAT, "messages": [{"role": "user", "content": "hi " * 100_000}]}).encode()
    status, answer = await _post(ctl, gzip.compress(raw), "gzip")
    assert status == 200, answer
    assert inflated == [(len(raw), True)]  # in asyncio.to_thread's pool, not on the loop


# -- nested encodings (issue #27, finding 3) -------------------------------------------------------


@pytest.fixture()
async def roomy(tmp_path: Path) -> AsyncIterator[AppStack]:
    """The default body limit (100 MiB): the nested bomb stayed under it."""
    fake = FakeCloudCode()
    fake.strict_models = False
    fake.add_account("a@example.com", quota={"gemini-2.5-flash": 1.0})
    async with app_stack(tmp_path, fake=fake, emails=("a@example.com",)) as s:
        yield s


def _nested_bomb() -> bytes:
    """A few hundred bytes that inflate to 95 MiB through `Content-Encoding: gzip, gzip`
    (the attack run's body: each layer alone stays under the limit)."""
    inner = gzip.compress(b'{"model": "' + b"a" * (95 << 20) + b'"}', 9)
    return gzip.compress(inner, 9)


async def test_a_nested_encoding_bomb_is_413_without_inflating_it(roomy: AppStack) -> None:
    """Regression (attack run): 422 bytes of `gzip, gzip` became 95 MiB; six in parallel, 2.7 GB."""
    bomb = _nested_bomb()
    assert len(bomb) < 1000
    status, body, peak = await _post_measured(roomy, bomb, "gzip, gzip")
    assert status == 413, body
    assert "times" in body["error"]["message"], body  # says why: it inflates too far for its size
    assert peak < 24 << 20, peak  # a bounded few MiB, not the 95 MiB it inflates to


async def test_inflated_bytes_are_capped_across_all_layers_together() -> None:
    """The budget is shared: each layer's output counts against one allowance."""
    from trayproxy.proxy.body import TooLarge, decode

    data = b"x" * (3 << 20)
    once = gzip.compress(data)
    assert decode(gzip.compress(once), ["gzip", "gzip"], 100 << 20) == data
    with pytest.raises(TooLarge):  # the final layer alone fits in 3 MiB, both together do not
        decode(gzip.compress(once), ["gzip", "gzip"], len(data) + 1000, floor=len(data) + 1000)
    assert decode(gzip.compress(once), ["gzip", "gzip"], 2 * len(data), floor=2 * len(data)) == data


async def test_a_highly_compressed_body_under_the_floor_is_served(roomy: AppStack) -> None:
    """Agent bodies compress well (a repeated tool output, 1000 times over): that is no bomb."""
    raw = json.dumps({**CHAT, "messages": [{"role": "user", "content": "same line\n" * 200_000}]}).encode()
    packed = gzip.compress(raw, 9)
    assert len(raw) // len(packed) > 200
    status, body = await _post(roomy, packed, "gzip")
    assert status == 200, body


async def test_two_encodings_are_decoded_three_are_refused(roomy: AppStack) -> None:
    raw = json.dumps(CHAT).encode()
    status, body = await _post(roomy, zlib.compress(gzip.compress(raw)), "gzip, deflate")
    assert status == 200, body
    status, body = await _post(roomy, gzip.compress(zlib.compress(gzip.compress(raw))), "gzip, deflate, gzip")
    assert status == 415 and "two" in body["error"]["message"], body


# -- a body that never finishes (issue #27: the body-read deadline on every route) ------------------


@pytest.mark.parametrize("path", ["/api/event_logging/batch", "/v1/chat/completions", "/v1/messages",
                                  "/v1/responses", "/v1beta/models/gemini-2.5-flash:generateContent"])
async def test_a_trickled_body_is_cut_at_the_read_deadline_on_every_route(
        roomy: AppStack, monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    """Regression: /api/event_logging/batch read a trickled body forever (a connection held per
    request, as long as the sender liked). The body below never ends: only the deadline ends it."""
    from trayproxy.proxy import body as body_mod

    monkeypatch.setattr(body_mod, "BODY_READ_TIMEOUT", 0.2)
    gate = asyncio.Event()

    async def never_ending() -> AsyncIterator[bytes]:
        yield b'{"model": "gemini-2.5-flash", "messages": ['
        await gate.wait()  # the rest never comes
        yield b"]}"

    try:
        async with roomy.client.post(path, data=never_ending(), headers={"Content-Type": "application/json"}) as r:
            status = r.status
            text = await r.text()
    finally:
        gate.set()
    assert status == 408, text
    assert "did not arrive within" in text
