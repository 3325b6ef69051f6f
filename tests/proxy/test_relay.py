"""proxy.relay: a committed answer streamed to the client (SSE framing, frames of events that
arrived together, an upstream break mid-stream ending with the protocol's error event and no
retry), through the running proxy against a scripted upstream. The fixtures are
test_pipeline's."""

from __future__ import annotations

import json

from tests.proxy import test_pipeline as base
from tests.proxy.app_stack import AppStack
from tests.proxy.test_pipeline import Upstream, account_email, call, sse, text_events

up = base.up  # the scripted upstream and the controller on it, as in test_pipeline
stack = base.stack


async def test_stream_is_sse_and_mid_stream_failure_ends_with_error_no_retry(stack: AppStack, up: Upstream) -> None:
    s, h, b = await call(stack, stream=True, text="s1")
    assert s == 200 and h["content-type"].startswith("text/event-stream")
    frames = [f for f in b.split(b"\r\n\r\n") if f.startswith(b"data: ")]
    assert len(frames) == 2 and b"Hi" in frames[0]
    email = account_email(stack, h)

    calls_before = dict(up.calls)
    up.scripts[email].append((200, {}, [text_events("Partial")[0], b"data: {\"error\": {\"message\": \"backend died\"}}\r\n\r\n"]))
    s, h, b = await call(stack, stream=True, text="s1")
    assert s == 200
    frames = [f for f in b.split(b"\r\n\r\n") if f.startswith(b"data: ")]
    assert b"Pa" in frames[0]
    last = json.loads(frames[-1][6:])
    assert last["error"]["status"] == "UNAVAILABLE" and "backend died" in last["error"]["message"]
    assert sum(up.calls.values()) - sum(calls_before.values()) == 1


async def test_events_that_arrive_together_stream_exactly_as_events_that_arrive_one_by_one(stack: AppStack,
                                                                                    up: Upstream) -> None:
    events = sse({"candidates": [{"content": {"role": "model", "parts": []}}]},  # no output yet
                 *({"candidates": [{"content": {"role": "model", "parts": [{"text": f"w{i} "}]}}]} for i in range(40)),
                 {"candidates": [{"content": {"role": "model", "parts": [{"text": "end"}]}, "finishReason": "STOP"}]})
    s, h, _ = await call(stack, stream=True, text="together")
    email = account_email(stack, h)
    bodies = []
    for chunks in (events, [b"".join(events)], [b"".join(events)[i:i + 7] for i in range(0, len(b"".join(events)), 7)]):
        up.scripts[email].append((200, {}, chunks))
        s, _, b = await call(stack, stream=True, text="together")
        assert s == 200
        bodies.append(b)
    assert bodies[0] == bodies[1] == bodies[2]
    frames = [f for f in bodies[0].split(b"\r\n\r\n") if f]
    assert len(frames) == 42 and b"w0 " in frames[1] and b"end" in frames[-1]


async def test_a_broken_event_in_the_chunk_of_good_ones_ends_the_stream_after_them(stack: AppStack, up: Upstream) -> None:
    s, h, _ = await call(stack, stream=True, text="broken")
    email = account_email(stack, h)
    good = sse(*({"candidates": [{"content": {"role": "model", "parts": [{"text": f"t{i}"}]}}]} for i in range(3)))
    calls_before = sum(up.calls.values())
    up.scripts[email].append((200, {}, [b"".join(good) + b"data: {not json\r\n\r\n" + good[0]]))
    s, h, b = await call(stack, stream=True, text="broken")
    assert s == 200
    frames = [json.loads(f[6:]) for f in b.split(b"\r\n\r\n") if f.startswith(b"data: ")]
    assert [f["candidates"][0]["content"]["parts"][0]["text"] for f in frames[:3]] == ["t0", "t1", "t2"]
    assert len(frames) == 4 and "unreadable event" in frames[3]["error"]["message"]
    assert sum(up.calls.values()) - calls_before == 1  # output had begun: no retry


async def test_array_stream_without_alt_is_valid_json(stack: AppStack) -> None:
    s, h, b = await stack.post("/v1beta/models/gemini-3-flash:streamGenerateContent", {"contents": [{"parts": [{"text": "x"}]}]})
    assert s == 200
    arr = json.loads(b)
    assert isinstance(arr, list) and arr[-1]["candidates"][0]["finishReason"] == "STOP"
