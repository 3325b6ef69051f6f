"""A client that goes away cancels the upstream request promptly: the fake Cloud Code sees its
connection closed while it is still answering (hanging, or pacing a long stream). No sleeps:
the fake sets an event when the connection goes; the waits are only failure guards."""

from __future__ import annotations

import json
import socket

import pytest

from tests.fakes.replies import Gate

from ._stack import BODIES, GUARD, ROUTES, RawStream, Reply, always, data_events, stack


def _send_raw(port: int, path: str, body: dict) -> socket.socket:
    data = json.dumps(body).encode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=GUARD)
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"anthropic-version: 2023-06-01\r\nContent-Length: {len(data)}\r\n\r\n").encode()
    sock.sendall(head + data)
    return sock


def _hang_up(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
@pytest.mark.parametrize("stream", [False, True], ids=["non-stream", "stream"])
def test_disconnect_while_upstream_has_not_answered(protocol: str, stream: bool) -> None:
    """The upstream has not sent its headers yet (non-streaming and streaming alike)."""
    gate = Gate()
    with stack() as (fake, ctl):
        fake.default_reply = always(lambda: Reply.hang(gate))
        try:
            sock = _send_raw(ctl.status().port, ROUTES[protocol], BODIES[protocol](stream))
            assert fake.started.wait(GUARD), "the request never reached the fake upstream"
            assert not fake.closed.is_set()
            _hang_up(sock)
            assert fake.closed.wait(GUARD), "the upstream request was not cancelled when the client left"
        finally:
            gate.release()


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_disconnect_before_first_event(protocol: str) -> None:
    """The upstream sent 200 + headers but no event yet (the proxy is still peeking)."""
    gate = Gate()
    with stack() as (fake, ctl):
        fake.default_reply = always(lambda: Reply.hang(gate, after_headers=True))
        try:
            sock = _send_raw(ctl.status().port, ROUTES[protocol], BODIES[protocol](True))
            assert gate.wait_entered(GUARD)
            _hang_up(sock)
            assert fake.closed.wait(GUARD), "the upstream stream was not closed when the client left"
        finally:
            gate.release()


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_disconnect_mid_stream(protocol: str) -> None:
    """The client has received events and hangs up; the upstream is pacing a stream that would
    otherwise run for minutes."""
    with stack() as (fake, ctl):
        fake.default_reply = always(lambda: Reply.stream(10_000, delay_ms=20))
        s = RawStream(ctl.status().port, ROUTES[protocol], BODIES[protocol](True))
        assert s.status == 200
        first = s.read_until(lambda line: line.startswith("data: "))
        assert first is not None and data_events([first])
        assert not fake.closed.is_set()
        s.hang_up()
        assert fake.closed.wait(GUARD), "the upstream stream kept running after the client left"
