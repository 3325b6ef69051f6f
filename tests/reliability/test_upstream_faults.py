"""Upstream slow, hung or closing mid-stream: the client gets a clear error in its protocol,
never a hang past `request_timeout` (5 s here) and never a silent truncation.

Before anything was sent to the client the error is an HTTP status in the protocol's error
shape; after the stream started it is the protocol's terminal event (OpenAI: error frame then
`data: [DONE]`; Anthropic: `event: error`). Each case gets its own proxy (the app in the test's
loop, the fake Cloud Code in the same loop) and one account, and the cases of one kind run
concurrently (each waits for the 5 s timeout once). The client's timeout (30 s) is only a failure
guard."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.fakes.replies import Gate

from ._shapes import error_shape
from ._stack import BODIES, ROUTES, Reply, always, data_events, served

TIMEOUT = 5  # request_timeout (the smallest the config accepts)
CLIENT_GUARD = 30.0
CASES = [(p, s) for p in ("openai", "anthropic") for s in (False, True)]
IDS = [f"{p}-{'stream' if s else 'json'}" for p, s in CASES]


async def _call(tmp_path: Path, make_reply: Callable[[], Reply], protocol: str, stream: bool,
                **overrides: Any) -> tuple[int, bytes, int]:
    overrides.setdefault("request_timeout", TIMEOUT)
    async with served(tmp_path, **overrides) as (fake, s):
        fake.default_reply = always(make_reply)
        async with s.client.post(ROUTES[protocol], data=json.dumps(BODIES[protocol](stream)).encode(),
                                 headers={"Content-Type": "application/json", "anthropic-version": "2023-06-01"},
                                 timeout=aiohttp.ClientTimeout(total=CLIENT_GUARD)) as resp:
            body = await resp.read()
        return resp.status, body, len(fake.calls_to(("streamGenerateContent", "generateContent")))


async def _run_all(tmp_path: Path, make_reply: Callable[[], Reply], **overrides: Any) -> dict[tuple[str, bool], Any]:
    """Every (protocol, stream) case at once, each against its own stack."""
    outcomes = await asyncio.gather(
        *(_call(tmp_path / f"{p}-{st}", make_reply, p, st, **overrides) for p, st in CASES), return_exceptions=True)
    return dict(zip(CASES, outcomes, strict=True))  # exceptions are reported by the assertions


def _check_error_status(protocol: str, status: int, body: bytes, allowed: tuple[int, ...]) -> dict[str, Any]:
    assert status in allowed, f"{protocol}: HTTP {status} {body[:300]!r}"
    return error_shape(protocol, body)


def _check_terminal(protocol: str, body: bytes) -> str:
    """A committed stream ended with the protocol's terminal error event; returns its message."""
    text = body.decode("utf-8", "replace")
    lines = [ln.rstrip("\r") for ln in text.split("\n")]
    events = data_events(lines)
    assert events, f"{protocol}: no events at all: {text[:300]!r}"
    if protocol == "openai":
        assert events[-1] == "[DONE]", f"stream did not end with [DONE]: {text[-300:]!r}"
        err = json.loads(events[-2])
        assert isinstance(err.get("error"), dict) and err["error"]["message"], events[-2]
        return str(err["error"]["message"])
    names = [ln[len("event: "):] for ln in lines if ln.startswith("event: ")]
    assert names and names[-1] == "error", f"stream did not end with event: error: {text[-300:]!r}"
    err = json.loads(events[-1])
    assert err["type"] == "error" and err["error"]["message"], events[-1]
    return str(err["error"]["message"])


def _assert_results(results: dict[tuple[str, bool], Any], *, committed_stream: bool,
                    allowed: tuple[int, ...] = (502, 504)) -> None:
    for (protocol, stream), res in sorted(results.items()):
        if isinstance(res, BaseException):
            raise AssertionError(f"{protocol} stream={stream}: {res!r}") from res
        status, body, _calls = res
        if stream and committed_stream:
            assert status == 200, f"{protocol}: HTTP {status} {body[:300]!r}"
            _check_terminal(protocol, body)
        else:
            _check_error_status(protocol, status, body, allowed)


# -- breaks that are not about time (fast) ----------------------------------------------------


@pytest.mark.parametrize(("protocol", "stream"), CASES, ids=IDS)
async def test_upstream_closes_mid_stream(tmp_path: Path, protocol: str, stream: bool) -> None:
    status, body, calls = await _call(tmp_path, lambda: Reply.fail_after(2), protocol, stream)
    assert calls == 1  # output had been produced: never retried
    if stream:
        assert status == 200
        _check_terminal(protocol, body)
    else:
        _check_error_status(protocol, status, body, (502,))


@pytest.mark.parametrize(("protocol", "stream"), CASES, ids=IDS)
async def test_upstream_error_event_mid_stream(tmp_path: Path, protocol: str, stream: bool) -> None:
    status, body, calls = await _call(tmp_path, lambda: Reply.error_after(2, 500, "boom in the middle"), protocol, stream)
    if stream:
        assert status == 200
        assert "boom in the middle" in _check_terminal(protocol, body)
    else:
        err = _check_error_status(protocol, status, body, (502,))
        assert "boom in the middle" in err["message"]


async def test_upstream_slow_but_within_timeout_succeeds(tmp_path: Path) -> None:
    """Chunks 0.3 s apart (under the 5 s idle timeout) make a normal, complete answer."""
    status, body, _ = await _call(tmp_path, lambda: Reply.stream(3, delay_ms=300), "openai", True)
    assert status == 200
    events = data_events(body.decode().splitlines())
    assert events[-1] == "[DONE]" and not any('"error"' in e for e in events)


# -- the upstream goes silent: the 5 s timeout must fire (cases run concurrently) ---------------


async def test_upstream_stalls_mid_stream(tmp_path: Path) -> None:
    """One chunk, then silence: a committed stream ends with an error event at the idle timeout;
    a non-streaming client gets a 502/504 error body."""
    results = await _run_all(tmp_path, lambda: Reply.stream(3, delay_ms=600_000))
    _assert_results(results, committed_stream=True)


# Regression: after the only account timed out (or broke before its first event, or answered a
# 5xx) it was cooled down and the retry loop answered 429 "All accounts ... are rate-limited or
# out of quota" instead of the upstream failure (fixed in pipeline._open).


async def test_upstream_hangs_before_headers(tmp_path: Path) -> None:
    """Nothing at all (not even headers) within the timeout: 504 (or 502) in the caller's shape,
    for streaming clients too, since nothing was sent yet."""
    gate = Gate()
    try:
        results = await _run_all(tmp_path, lambda: Reply.hang(gate))
    finally:
        gate.release()
    _assert_results(results, committed_stream=False)


async def test_upstream_hangs_after_headers(tmp_path: Path) -> None:
    """200 + headers, then no event within the timeout: an error status, not a 200 stream."""
    gate = Gate()
    try:
        results = await _run_all(tmp_path, lambda: Reply.hang(gate, after_headers=True))
    finally:
        gate.release()
    _assert_results(results, committed_stream=False)


@pytest.mark.parametrize(("protocol", "stream"), CASES, ids=IDS)
async def test_upstream_5xx_on_the_only_account_is_not_a_rate_limit(tmp_path: Path, protocol: str,
                                                                     stream: bool) -> None:
    status, body, _ = await _call(tmp_path, lambda: Reply.error(500), protocol, stream)
    _check_error_status(protocol, status, body, (502, 503))

