"""Conversion microbenchmarks: microseconds per request and per stream event for each protocol
converter, on the realistic 20-message agent conversation of `fixtures.py`.

    taskset -c 0 python -m benchmarks.bench_convert [--repeat 7] [--json]

Per request: `to_gemini` on the parsed body (dict walk only), and bytes -> bytes (orjson.loads,
to_gemini, the Cloud Code envelope, orjson.dumps), which is what the proxy pays per request.
Per event: one Gemini stream event through the client protocol's stream machine (ChatStream,
MessagesStream, ResponsesStream, NativeStream), averaged over a 25-event answer, plus the
upstream side (SSE decode + JSON parse of the `data:` line)."""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import orjson

from benchmarks.fixtures import (
    MODEL,
    STEPS,
    SYSTEM,
    anthropic_body,
    gemini_events,
    openai_chat_body,
    text_event,
)
from trayproxy.protocols import anthropic, gemini_native, openai_chat, openai_responses
from trayproxy.protocols.sse import SSEDecoder
from trayproxy.upstream.cloudcode import CloudCodeClient, parse_event

_ids = itertools.count()


def new_id(prefix: str) -> str:
    return f"{prefix}{next(_ids):024x}"


def timeit(fn: Callable[[], Any], *, repeat: int, min_time: float = 0.2) -> float:
    """Median seconds per call over `repeat` rounds of enough calls to last `min_time`."""
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t0
        if dt >= min_time / 4:
            break
        n *= 2
    n = max(1, int(n * (min_time / max(dt, 1e-9))))
    rounds = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        rounds.append((time.perf_counter() - t0) / n)
    return statistics.median(rounds)


def envelope(req: dict[str, Any]) -> bytes:
    return orjson.dumps(CloudCodeClient.envelope(project="proj", model=MODEL, request=req, request_id="agent/x"))


def run(repeat: int) -> dict[str, Any]:
    oa = openai_chat_body()
    an = anthropic_body()
    oa_raw, an_raw = orjson.dumps(oa), orjson.dumps(an)
    items: list[dict[str, Any]] = [{"role": "user", "content": "The status test fails. Find out why and fix it."}]
    for i, (name, args, result) in enumerate(STEPS):
        items.append({"type": "function_call", "call_id": f"call_{i}", "name": name, "arguments": json.dumps(args)})
        items.append({"type": "function_call_output", "call_id": f"call_{i}", "output": result})
    items += [{"role": "assistant", "content": "Fixed: the handlers now return 200."},
              {"role": "user", "content": "Now summarise the fix."}]
    rs = {"model": MODEL, "input": items, "instructions": SYSTEM,
          "tools": [{"type": "function", "name": t["function"]["name"], "parameters": t["function"]["parameters"]}
                    for t in oa["tools"]]}
    gm = {"contents": openai_chat.to_gemini(oa, upstream_model=MODEL, signatures={})["contents"],
          "generationConfig": {"maxOutputTokens": 4096}}
    gm_raw = orjson.dumps(gm)
    results: dict[str, Any] = {"request_bytes": {"openai_chat": len(oa_raw), "anthropic": len(an_raw),
                                                 "gemini": len(gm_raw)}}
    req: dict[str, float] = {}
    req["openai_chat.to_gemini (dict walk)"] = timeit(
        lambda: openai_chat.to_gemini(oa, upstream_model=MODEL, signatures={}), repeat=repeat)
    req["openai_chat bytes->bytes"] = timeit(
        lambda: envelope(openai_chat.to_gemini(orjson.loads(oa_raw), upstream_model=MODEL, signatures={})), repeat=repeat)
    req["anthropic.to_gemini (dict walk)"] = timeit(
        lambda: anthropic.to_gemini(an, upstream_model=MODEL, signatures={}), repeat=repeat)
    req["anthropic bytes->bytes"] = timeit(
        lambda: envelope(anthropic.to_gemini(orjson.loads(an_raw), upstream_model=MODEL, signatures={})), repeat=repeat)
    req["openai_responses to_chat+to_gemini"] = timeit(
        lambda: openai_chat.to_gemini(openai_responses.to_chat(rs, history=None),
                                      upstream_model=MODEL, signatures={}), repeat=repeat)
    req["gemini_native bytes->bytes"] = timeit(lambda: envelope(gemini_native.to_upstream(orjson.loads(gm_raw))),
                                               repeat=repeat)
    results["per_request_us"] = {k: v * 1e6 for k, v in req.items()}

    events = gemini_events(20)
    n = len(events)
    wire = b"".join(b"data: " + orjson.dumps({"response": e, "traceId": "t"}) + b"\r\n\r\n" for e in events)

    def machines() -> dict[str, Callable[[], Any]]:
        return {
            "ChatStream (stream)": lambda: openai_chat.ChatStream(model=MODEL, completion_id="c", created=1, stream=True,
                                                                   include_usage=True, new_id=new_id),
            "ChatStream (collect)": lambda: openai_chat.ChatStream(model=MODEL, completion_id="c", created=1,
                                                                    stream=False, include_usage=False, new_id=new_id),
            "MessagesStream (stream)": lambda: anthropic.MessagesStream(model=MODEL, message_id="m", stream=True,
                                                                         new_id=new_id, upstream_model=MODEL),
            "ResponsesStream (stream)": lambda: openai_responses.ResponsesStream(
                model=MODEL, response_id="r", created_at=1, stream=True, new_id=new_id, request_echo={}),
            "NativeStream (sse)": lambda: gemini_native.NativeStream(mode="sse"),
        }

    ev: dict[str, float] = {}
    for name, make in machines().items():
        def one(make: Callable[[], Any] = make) -> None:
            m = make()
            for e in events:
                m.feed(e)
            m.finish()
            if not getattr(m, "stream", True):
                m.result()

        ev[name] = timeit(one, repeat=repeat) / n

    def upstream_side() -> None:
        dec = SSEDecoder()  # as CloudCodeClient.payloads reads it
        for data in dec.feed_data(wire):
            parse_event(data)

    ev["upstream SSE decode + parse"] = timeit(upstream_side, repeat=repeat) / n
    one_text = text_event(1)
    m = openai_chat.ChatStream(model=MODEL, completion_id="c", created=1, stream=True, include_usage=False, new_id=new_id)
    m.feed(one_text)
    ev["ChatStream one text event (steady state)"] = timeit(lambda: m.feed(one_text), repeat=repeat)
    results["per_event_us"] = {k: v * 1e6 for k, v in ev.items()}
    results["events_per_answer"] = n
    return results


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    res = run(a.repeat)
    if a.json:
        json.dump(res, sys.stdout)
        return
    print(f"request sizes: {res['request_bytes']}")
    for k, v in res["per_request_us"].items():
        print(f"  {k:45s} {v:9.1f} us/request")
    for k, v in res["per_event_us"].items():
        print(f"  {k:45s} {v:9.2f} us/event")


if __name__ == "__main__":
    main()
