"""GET /api/events: the settings page hears state and request-log changes as they happen."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.control.helpers import add_account
from trayproxy.control.server import TOKEN_HEADER


class Stream:
    """A blocking SSE reader over http.client (one event per next())."""

    def __init__(self, srv: Any, *, token: bool = True) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=20)
        headers = {"Host": f"127.0.0.1:{srv.port}"}
        if token:
            headers[TOKEN_HEADER] = srv.token
        self.conn.request("GET", "/api/events", headers=headers)
        self.resp = self.conn.getresponse()

    def next(self) -> tuple[str, Any]:
        kind, data = "message", ""
        while True:
            line = self.resp.readline().decode()
            if not line:
                raise EOFError("the stream ended")
            line = line.rstrip("\n")
            if line == "":
                if data:
                    return kind, json.loads(data)
                continue
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                data += line[6:]

    def next_kind(self, kind: str) -> Any:
        while True:
            k, d = self.next()
            if k == kind:
                return d

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def stream(control: Any) -> Iterator[Stream]:
    s = Stream(control)
    yield s
    s.close()


def test_needs_the_token(control: Any) -> None:
    s = Stream(control, token=False)
    try:
        assert s.resp.status == 401
    finally:
        s.close()


def test_state_on_connect_then_on_every_change(stream: Stream, control: Any, controller: Any) -> None:
    assert stream.resp.status == 200
    assert stream.resp.getheader("Content-Type", "").startswith("text/event-stream")
    kind, first = stream.next()
    assert kind == "state" and first["status"]["running"] is False and "api_key" in first
    controller.set_config("monitor.retention_days", 9)
    assert stream.next_kind("state")["config"]["monitor"]["retention_days"] == 9


def test_unchanged_state_is_not_sent_again(stream: Stream, control: Any, controller: Any) -> None:
    stream.next_kind("state")
    controller.reload()  # notifies, but nothing the page shows changed
    controller.set_config("auto_start", True)
    kind, state = stream.next()  # the very next event is the real change
    assert kind == "state" and state["config"]["auto_start"] is True


def test_stale_error_goes_away_on_the_stream(stream: Stream, control: Any, controller: Any) -> None:
    from trayproxy.controller import StartError

    stream.next_kind("state")
    with pytest.raises(StartError):
        controller.start()
    st = stream.next_kind("state")["status"]
    assert st["problem"]["kind"] == "no_account" and st["error"]
    add_account(controller)  # reload() notifies
    st = stream.next_kind("state")["status"]
    assert st["error"] is None and st["problem"] is None and st["active_accounts"] == 1


def test_request_log_rows_are_announced(stream: Stream, control: Any, controller: Any) -> None:
    from trayproxy.monitor import RequestRecord

    stream.next_kind("state")
    controller.monitor.record(RequestRecord(
        id="req-ev", ts=time.time(), method="POST", route="/v1/messages", protocol="anthropic", client_model="claude-sonnet-4-6",
        upstream_model="claude-sonnet-4-6", account_id=None, upstream="google", status=200, outcome="ok",
        duration_ms=10.0, ttfb_ms=5.0))
    controller.monitor.flush()
    assert stream.next_kind("monitor")["rows"] >= 1


def test_stop_ends_open_streams(control: Any, controller: Any) -> None:
    s = Stream(control)
    try:
        s.next_kind("state")
        assert control.events.clients == 1
        controller.engine.call(control.stop())
        with pytest.raises((EOFError, http.client.IncompleteRead, ConnectionError)):
            while True:
                s.next()
    finally:
        s.close()
        controller.engine.call(control.start())  # the fixture stops it again
