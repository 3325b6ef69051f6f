"""Fuzzed messages on the Responses WebSocket (`GET /v1/responses` upgraded): `response.create`
bodies whose fields are sometimes right and sometimes junk (the body fuzzer's Responses shapes),
other message types, arbitrary JSON, JSON nested past the limit, text that is not JSON, binary
frames, and `previous_response_id`s naming this socket's last answer or nothing.

Each message is answered on the same socket: response events ending in `response.completed`
(or `incomplete`/`failed`), or one `error` event with a status below 500 (the upstream is
healthy: a 5xx would be trayproxy's own crash); the socket stays open; the app's log has nothing
at ERROR and no traceback. CI runs `CI_EXAMPLES`; `TRAYPROXY_FUZZ_SECONDS` makes it the long
run (tests/reliability/_fuzz.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.proxy.app_stack import AppStack

from . import _fuzz
from .test_fuzz_bodies import json_any, raw_bytes, responses

CI_EXAMPLES = 1_000
TERMINAL = ("response.completed", "response.incomplete", "response.failed", "error")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[asyncio.AbstractEventLoop, AppStack, _fuzz.LogWatch]]:
    with _fuzz.served_app(tmp_path_factory.mktemp("fuzz-socket"), auth_mode="strict") as served:
        yield served


def _message(last_id: st.SearchStrategy[str]) -> st.SearchStrategy[tuple[str, Any]]:
    created = st.tuples(responses, st.one_of(st.none(), last_id, st.text(max_size=10)), st.sampled_from(
        [None, True, False, "no"])).map(lambda t: {
            "type": "response.create", **t[0],
            **({"previous_response_id": t[1]} if t[1] is not None else {}),
            **({"generate": t[2]} if t[2] is not None else {})})
    typed = st.fixed_dictionaries({"type": st.one_of(st.sampled_from(
        ["response.create", "session.update", "response.cancel", "", "x"]), json_any)}, optional={
        "model": json_any, "input": json_any, "stream": json_any, "tools": json_any})
    deep = st.integers(100, 400).map(lambda n: '{"type": "response.create", "input": ' + "[" * n + "]" * n + "}")
    return st.one_of(
        created.map(lambda d: ("text", json.dumps(d))), created.map(lambda d: ("text", json.dumps(d))),
        created.map(lambda d: ("text", json.dumps(d))), typed.map(lambda d: ("text", json.dumps(d))),
        json_any.map(lambda d: ("text", json.dumps(d))), deep.map(lambda s: ("text", s)),
        st.text(max_size=40).map(lambda s: ("text", s)), raw_bytes.map(lambda b: ("binary", b)))


async def _exchange(ws: aiohttp.ClientWebSocketResponse, kind: str, data: Any) -> list[dict[str, Any]]:
    if kind == "binary":
        await ws.send_bytes(data)
    else:
        await ws.send_str(data)
    events: list[dict[str, Any]] = []
    while not events or events[-1].get("type") not in TERMINAL:
        msg = await ws.receive(timeout=30)
        assert msg.type == aiohttp.WSMsgType.TEXT, f"the socket answered {msg.type!r} ({msg.data!r}) to {data!r}"
        events.append(json.loads(msg.data))
    return events


def test_fuzzed_socket_messages_never_5xx_and_keep_the_socket(
        app: tuple[asyncio.AbstractEventLoop, AppStack, _fuzz.LogWatch]) -> None:
    loop, stack, watch = app
    state: dict[str, Any] = {"ws": None, "last": "resp_none", "examples": 0, "events": {}, "sockets": 0}

    async def socket() -> aiohttp.ClientWebSocketResponse:
        ws = state["ws"]
        if ws is None or ws.closed:
            ws = state["ws"] = await stack.client.ws_connect(
                "/v1/responses", headers={"Authorization": f"Bearer {stack.api_key()}"})
            state["sockets"] += 1
        return ws

    def batch(n: int) -> None:
        @settings(max_examples=n, deadline=None, derandomize=False, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
        @given(message=_message(st.builds(lambda: state["last"])))
        def check(message: tuple[str, Any]) -> None:
            kind, data = message

            async def go() -> list[dict[str, Any]]:
                return await _exchange(await socket(), kind, data)

            events = loop.run_until_complete(go())
            state["examples"] += 1
            end = events[-1]
            state["events"][end["type"]] = state["events"].get(end["type"], 0) + 1
            if end["type"] == "error":
                assert int(end.get("status", 0)) < 500, f"{str(data)[:400]!r} -> {end}"
            elif end.get("response", {}).get("id"):
                state["last"] = end["response"]["id"]
            assert not state["ws"].closed, f"the socket closed after {str(data)[:400]!r}"
            _fuzz.assert_clean_log(watch, f"socket message {str(data)[:300]!r}")

        check()

    try:
        took = _fuzz.run_budget(batch, ci_examples=CI_EXAMPLES, seconds=_fuzz.share("socket"))
    finally:
        if state["ws"] is not None:
            loop.run_until_complete(state["ws"].close())
    assert state["sockets"] == 1  # one socket served every message
    _fuzz.record("socket messages", {"examples": state["examples"], "routes": 1, "endings": state["events"],
                                     "findings": 0, "seconds": round(took, 1)})
