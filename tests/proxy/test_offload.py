"""Big request bodies take the worker-thread path (trayproxy/proxy/offload.py) and come out
converted exactly as small ones do; small bodies stay on the inline path."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fakes.cloudcode import FakeCloudCode
from tests.helpers import make_controller, request
from trayproxy.controller import Controller
from trayproxy.proxy import offload
from trayproxy.upstream import bigbody

MODEL = "gemini-2.5-flash"
BIG_TEXT = "line of a very long file read\n" * 40_000  # 1.2 MB, above offload.BIG_BODY


@pytest.fixture(scope="module")
def env() -> Iterator[tuple[FakeCloudCode, Controller]]:
    fake = FakeCloudCode()
    fake.strict_models = False
    fake.add_account("a@example.com", quota={MODEL: 1.0})
    with fake:
        c = make_controller(env=fake.env())
        c.add_refresh_token("rt-a@example.com")
        c.start()
        try:
            yield fake, c
        finally:
            c.close()


@pytest.fixture()
def threads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the functions run in worker threads (all go through bigbody.in_worker)."""
    seen: list[str] = []
    real = asyncio.to_thread

    async def counting(fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        seen.append(getattr(fn, "__name__", repr(fn)))
        return await real(fn, *args, **kwargs)

    monkeypatch.setattr(bigbody.asyncio, "to_thread", counting)
    return seen


def _post(ctl: Controller, path: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, Any]:
    status, _, raw = request(ctl.status().port, "POST", path, body=json.dumps(body).encode(),
                             headers={"Content-Type": "application/json", **(headers or {})})
    return status, json.loads(raw)


def _upstream_texts(fake: FakeCloudCode) -> list[str]:
    req = fake.last().body["request"]
    return [p.get("text") or json.dumps(p.get("functionResponse", {}).get("response", ""))
            for c in req["contents"] for p in c["parts"]]


def test_big_openai_body_is_parsed_and_converted_in_a_worker_thread(env: tuple[FakeCloudCode, Controller],
                                                                       threads: list[str]) -> None:
    fake, ctl = env
    body = {"model": MODEL, "max_tokens": 5, "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Read the file."},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "read_file", "arguments": '{"path": "a.txt"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": BIG_TEXT},
        {"role": "user", "content": "Summarise it."},
    ], "tools": [{"type": "function", "function": {"name": "read_file", "parameters": {
        "type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}}}]}
    status, answer = _post(ctl, "/v1/chat/completions", body)
    assert status == 200, answer
    assert answer["choices"][0]["message"]["role"] == "assistant"
    assert threads == ["join", "loads_sliced", "to_gemini", "dumps_parts"]
    req = fake.last().body["request"]
    assert req["systemInstruction"]["parts"][0]["text"].endswith("Be brief.")
    calls = [p["functionCall"] for c in req["contents"] for p in c["parts"] if "functionCall" in p]
    results = [p["functionResponse"] for c in req["contents"] for p in c["parts"] if "functionResponse" in p]
    assert calls[0]["name"] == "read_file" and calls[0]["args"] == {"path": "a.txt"}
    assert results[0]["name"] == "read_file" and BIG_TEXT.strip() in json.dumps(results[0]["response"]).replace("\\n", "\n")
    assert "Summarise it." in _upstream_texts(fake)[-1]


def test_big_anthropic_and_gemini_bodies_take_the_thread_path(env: tuple[FakeCloudCode, Controller],
                                                              threads: list[str]) -> None:
    fake, ctl = env
    status, answer = _post(ctl, "/v1/messages", {"model": MODEL, "max_tokens": 5, "messages": [
        {"role": "user", "content": [{"type": "text", "text": BIG_TEXT + "What is this?"}]}]},
        {"anthropic-version": "2023-06-01"})
    assert status == 200, answer
    assert answer["type"] == "message"
    assert _upstream_texts(fake)[-1] == BIG_TEXT + "What is this?"
    status, answer = _post(ctl, f"/v1beta/models/{MODEL}:generateContent", {"contents": [
        {"role": "user", "parts": [{"text": BIG_TEXT + "And this?"}]}]})
    assert status == 200, answer
    assert answer["candidates"][0]["content"]["parts"]
    assert _upstream_texts(fake)[-1] == BIG_TEXT + "And this?"
    assert threads == ["join", "loads_sliced", "to_gemini", "dumps_parts", "join", "loads_sliced", "to_upstream",
                       "dumps_parts"]


def test_small_bodies_stay_inline(env: tuple[FakeCloudCode, Controller], threads: list[str]) -> None:
    fake, ctl = env
    status, answer = _post(ctl, "/v1/chat/completions", {"model": MODEL, "max_tokens": 5,
                                                         "messages": [{"role": "user", "content": "hi"}]})
    assert status == 200, answer
    assert threads == []
    assert _upstream_texts(fake)[-1] == "hi"


_json = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(1 << 63), max_value=(1 << 64) - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
    max_leaves=30,
)


@given(_json, st.sampled_from([b"", b" ", b"\n\t "]))
def test_loads_sliced_gives_what_orjson_gives(value: Any, ws: bytes) -> None:
    raw = orjson.dumps(value)
    spaced = raw.replace(b",", ws + b"," + ws).replace(b":", ws + b":" + ws) if b'"' not in raw else raw
    assert offload.loads_sliced(ws + spaced + ws) == orjson.loads(raw)
    pretty = orjson.dumps(value, option=orjson.OPT_INDENT_2)
    assert offload.loads_sliced(pretty) == orjson.loads(pretty)


@pytest.mark.parametrize("raw", [b"[18446744073709551616, -9223372036854775809, 18446744073709551615]",
                                 b'{"a": [1.5e300, -0.0, 1E2]}', b'{"k": "\\ud83d\\ude00", "d": {"d": {"d": [[[]]]}}}',
                                 b'{"dup": 1, "dup": 2}'])
def test_loads_sliced_matches_orjson_at_the_edges(raw: bytes) -> None:
    assert offload.loads_sliced(raw) == orjson.loads(raw)


@pytest.mark.parametrize("bad", [b"", b"{", b'{"a":1,}', b"[1,]", b'{"a" 1}', b"[1 2]", b"{} x", b"NaN",
                                 b'{"a": Infinity}', b"[1e400]", b"\xff\xfe", b'{"a":tru}', b"'a'",
                                 b'{"a":"\\ud800"}'])
def test_loads_sliced_refuses_what_orjson_refuses(bad: bytes) -> None:
    with pytest.raises(ValueError):
        orjson.loads(bad)
    with pytest.raises(ValueError):
        offload.loads_sliced(bad)
