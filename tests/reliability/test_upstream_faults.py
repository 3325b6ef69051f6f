"""Upstream slow, hung or closing mid-stream: the client gets a clear error in its protocol,
never a hang past `request_timeout` (5 s here) and never a silent truncation.

Before anything was sent to the client the error is an HTTP status in the protocol's error
shape; after the stream started it is the protocol's terminal event (OpenAI: error frame then
`data: [DONE]`; Anthropic: `event: error`). Each case gets its own proxy and one account, and the
cases of one kind run concurrently (each waits for the 5 s timeout once). The client socket's
timeout (30 s) is only a failure guard."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Callable
from typing import Any

import pytest

from tests.fakes.replies import Gate

from ._shapes import error_shape
from ._stack import BODIES, ROUTES, Reply, always, data_events, stack

TIMEOUT = 5  # request_timeout (the smallest the config accepts)
CLIENT_GUARD = 30.0
CASES = [(p, s) for p in ("openai", "anthropic") for s in (False, True)]
IDS = [f"{p}-{'stream' if s else 'json'}" for p, s in CASES]


def _call(make_reply: Callable[[], Reply], protocol: str, stream: bool, **overrides: Any) -> tuple[int, bytes, int]:
    overrides.setdefault("request_timeout", TIMEOUT)
    with stack(**overrides) as (fake, ctl):
        fake.default_reply = always(make_reply)
        conn = http.client.HTTPConnection("127.0.0.1", ctl.status().port, timeout=CLIENT_GUARD)
        conn.request("POST", ROUTES[protocol], body=json.dumps(BODIES[protocol](stream)).encode(),
                     headers={"Content-Type": "application/json", "anthropic-version": "2023-06-01"})
        resp = conn.getresponse()
        body = resp.read()
        conn.close()
        return resp.status, body, len(fake.calls_to(("streamGenerateContent", "generateContent")))


def _run_all(make_reply: Callable[[], Reply], **overrides: Any) -> dict[tuple[str, bool], Any]:
    """Every (protocol, stream) case at once, each against its own stack."""
    results: dict[tuple[str, bool], Any] = {}

    def one(case: tuple[str, bool]) -> None:
        try:
            results[case] = _call(make_reply, *case, **overrides)
        except BaseException as e:  # reported by the assertions below
            results[case] = e

    threads = [threading.Thread(target=one, args=(c,)) for c in CASES]
    for t in threads:
        t.start()
    for t in threads:
        t.join(CLIENT_GUARD + 30)
    return results


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
def test_upstream_closes_mid_stream(protocol: str, stream: bool) -> None:
    status, body, calls = _call(lambda: Reply.fail_after(2), protocol, stream)
    assert calls == 1  # output had been produced: never retried
    if stream:
        assert status == 200
        _check_terminal(protocol, body)
    else:
        _check_error_status(protocol, status, body, (502,))


@pytest.mark.parametrize(("protocol", "stream"), CASES, ids=IDS)
def test_upstream_error_event_mid_stream(protocol: str, stream: bool) -> None:
    status, body, calls = _call(lambda: Reply.error_after(2, 500, "boom in the middle"), protocol, stream)
    if stream:
        assert status == 200
        assert "boom in the middle" in _check_terminal(protocol, body)
    else:
        err = _check_error_status(protocol, status, body, (502,))
        assert "boom in the middle" in err["message"]


def test_upstream_slow_but_within_timeout_succeeds() -> None:
    """Chunks 0.3 s apart (under the 5 s idle timeout) make a normal, complete answer."""
    status, body, _ = _call(lambda: Reply.stream(3, delay_ms=300), "openai", True)
    assert status == 200
    events = data_events(body.decode().splitlines())
    assert events[-1] == "[DONE]" and not any('"error"' in e for e in events)


# -- the upstream goes silent: the 5 s timeout must fire (cases run concurrently) ---------------


def test_upstream_stalls_mid_stream() -> None:
    """One chunk, then silence: a committed stream ends with an error event at the idle timeout;
    a non-streaming client gets a 502/504 error body."""
    results = _run_all(lambda: Reply.stream(3, delay_ms=600_000))
    _assert_results(results, committed_stream=True)


# Regression: after the only account timed out (or broke before its first event, or answered a
# 5xx) it was cooled down and the retry loop answered 429 "All accounts ... are rate-limited or
# out of quota" instead of the upstream failure (fixed in pipeline._open).


def test_upstream_hangs_before_headers() -> None:
    """Nothing at all (not even headers) within the timeout: 504 (or 502) in the caller's shape,
    for streaming clients too, since nothing was sent yet."""
    gate = Gate()
    try:
        results = _run_all(lambda: Reply.hang(gate))
    finally:
        gate.release()
    _assert_results(results, committed_stream=False)


def test_upstream_hangs_after_headers() -> None:
    """200 + headers, then no event within the timeout: an error status, not a 200 stream."""
    gate = Gate()
    try:
        results = _run_all(lambda: Reply.hang(gate, after_headers=True))
    finally:
        gate.release()
    _assert_results(results, committed_stream=False)


@pytest.mark.parametrize(("protocol", "stream"), CASES, ids=IDS)
def test_upstream_5xx_on_the_only_account_is_not_a_rate_limit(protocol: str, stream: bool) -> None:
    status, body, _ = _call(lambda: Reply.error(500), protocol, stream)
    _check_error_status(protocol, status, body, (502, 503))

