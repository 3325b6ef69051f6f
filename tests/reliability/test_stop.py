"""Stop with streams in flight: every open stream ends with its protocol's terminal event
(OpenAI: an error frame, then `data: [DONE]`; Anthropic: `event: error`), and the port is
released within 2 s."""

from __future__ import annotations

import json
import socket
import time

from trayproxy.ports import port_is_free

from ._stack import BODIES, ROUTES, RawStream, Reply, always, data_events, stack

STOP_BUDGET_S = 2.0


def _refused(port: int) -> bool:
    """Nothing listens any more. (A bind *without* SO_REUSEADDR can still fail for a minute
    because of the closed connections' TIME_WAIT entries; servers, trayproxy included, bind
    with SO_REUSEADDR, which Linux refuses while a socket still listens.)"""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


def test_stop_ends_streams_with_terminal_events_and_frees_the_port() -> None:
    with stack() as (fake, ctl):
        fake.default_reply = always(lambda: Reply.stream(10_000, delay_ms=20))
        port = ctl.status().port
        streams = {}
        for protocol in ("openai", "anthropic"):
            for i in range(2):
                s = RawStream(port, ROUTES[protocol], BODIES[protocol](True, f"stream {i}"))
                assert s.status == 200
                assert s.read_until(lambda line: line.startswith("data: ")) is not None
                streams[(protocol, i)] = s
        # an idle keep-alive connection must not hold the port either
        idle = socket.create_connection(("127.0.0.1", port))
        idle.sendall(f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        assert b"200" in idle.recv(4096)

        t0 = time.monotonic()
        ctl.stop()
        elapsed = time.monotonic() - t0
        assert not ctl.status().running
        assert _refused(port), "the proxy still accepts connections after Stop"
        assert port_is_free("127.0.0.1", port)[0], "the port cannot be bound again after Stop"
        assert elapsed < STOP_BUDGET_S, f"Stop took {elapsed:.2f} s"

        for (protocol, i), s in streams.items():
            rest = s.read_rest()  # ends: the proxy closed the stream
            events = data_events(s.lines)
            if protocol == "openai":
                assert events[-1] == "[DONE]", f"OpenAI stream {i} did not end with [DONE]: {rest[-4:]}"
                err = json.loads(events[-2])
                assert "error" in err and err["error"]["message"], events[-2]
                assert "stopping" in err["error"]["message"]
            else:
                names = [ln[len("event: "):] for ln in s.lines if ln.startswith("event: ")]
                assert names[-1] == "error", f"Anthropic stream {i} did not end with event: error: {rest[-4:]}"
                err = json.loads(events[-1])
                assert err["type"] == "error" and err["error"]["message"]
        idle.close()
        # and Start works again on the same port
        ctl.start()
        assert ctl.status().running and ctl.status().port == port
