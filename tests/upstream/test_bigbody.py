"""dumps_parts (trayproxy/upstream/bigbody.py) gives exactly orjson.dumps' bytes, in parts;
in_worker restores the switch interval."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trayproxy.upstream import bigbody
from trayproxy.upstream.bigbody import dumps_parts, in_worker

_json = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(1 << 63), max_value=(1 << 64) - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
    max_leaves=30,
)


@given(_json, st.integers(min_value=0, max_value=7), st.sampled_from([1, 3, 64, 1 << 20]))
def test_the_parts_join_to_what_orjson_writes(value: Any, depth: int, part: int) -> None:
    old = bigbody.PART
    bigbody.PART = part  # small parts: long strings are written in slices, parts grouped often
    try:
        parts = dumps_parts(value, depth)
    finally:
        bigbody.PART = old
    assert b"".join(parts) == orjson.dumps(value)
    assert all(parts)


def test_an_envelope_comes_out_in_parts_of_about_a_mebibyte() -> None:
    text = "a line of a long file, with \"quotes\", \\ and \u00e9\u4e2d\U0001f600\n" * 30_000  # ~1.9 MB
    contents = [{"role": "user" if i % 2 else "model", "parts": [{"text": f"turn {i} " + text[: 20_000 * (i % 3)]},
                                                                   {"functionResponse": {"name": "r", "response": {
                                                                       "output": "x" * 5000}}}]}
                for i in range(300)]
    contents.append({"role": "user", "parts": [{"text": text}]})  # one string longer than a part
    env = {"project": "p", "model": "m", "request": {"contents": contents, "generationConfig": {"maxOutputTokens": 5}},
           "requestId": "agent/1", "userAgent": "antigravity", "requestType": "agent"}
    parts = dumps_parts(env)
    whole = orjson.dumps(env)
    assert b"".join(parts) == whole
    assert len(parts) >= len(whole) // bigbody.PART
    assert max(len(p) for p in parts) < 2 * bigbody.PART


@pytest.mark.parametrize("bad", [{1: "int key"}, {"a": [{"b": object()}]}, [1 << 70], {"s": "\ud800"}])
def test_what_orjson_refuses_it_refuses(bad: Any) -> None:
    with pytest.raises(orjson.JSONEncodeError):
        orjson.dumps(bad)
    with pytest.raises(orjson.JSONEncodeError):
        dumps_parts(bad)


def test_in_worker_shortens_the_switch_interval_only_while_work_runs() -> None:
    before = sys.getswitchinterval()
    seen: list[float] = []

    def work(x: int) -> int:
        seen.append(sys.getswitchinterval())
        return x + 1

    async def go() -> list[int]:
        return list(await asyncio.gather(in_worker(work, 1), in_worker(work, 2)))

    assert asyncio.run(go()) == [2, 3]
    assert seen == [min(before, bigbody.WORKER_SWITCH_INTERVAL)] * 2
    assert sys.getswitchinterval() == before

    def boom() -> None:
        raise RuntimeError("x")

    with pytest.raises(RuntimeError):
        asyncio.run(in_worker(boom))
    assert sys.getswitchinterval() == before
