"""Big request bodies take the worker-thread path (trayproxy/proxy/offload.py) and come out
converted exactly as small ones do; small bodies stay on the inline path. The proxy's app and
the fake Cloud Code run in the test's loop."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fakes.cloudcode import FakeCloudCode
from tests.proxy.app_stack import AppStack, app_stack
from trayproxy.proxy import offload
from trayproxy.upstream import bigbody

MODEL = "gemini-2.5-flash"
BIG_TEXT = "line of a very long file read\n" * 40_000  # 1.2 MB, above offload.BIG_BODY


@pytest.fixture()
async def env(tmp_path: Path) -> AsyncIterator[tuple[FakeCloudCode, AppStack]]:
    fake = FakeCloudCode()
    fake.strict_models = False
    fake.add_account("a@example.com", quota={MODEL: 1.0})
    async with app_stack(tmp_path, fake=fake, emails=("a@example.com",)) as s:
        yield fake, s


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


async def _post(s: AppStack, path: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, Any]:
    status, _, raw = await s.post(path, json.dumps(body).encode(),
                                  headers={"Content-Type": "application/json", **(headers or {})})
    return status, json.loads(raw)


def _upstream_texts(fake: FakeCloudCode) -> list[str]:
    req = fake.last().body["request"]
    return [p.get("text") or json.dumps(p.get("functionResponse", {}).get("response", ""))
            for c in req["contents"] for p in c["parts"]]


async def test_big_openai_body_is_parsed_and_converted_in_a_worker_thread(env: tuple[FakeCloudCode, AppStack],
                                                                       threads: list[str]) -> None:
    fake, s = env
    body = {"model": MODEL, "max_tokens": 5, "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Read the file."},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "read_file", "arguments": '{"path": "a.txt"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": BIG_TEXT},
        {"role": "user", "content": "Summarise it."},
    ], "tools": [{"type": "function", "function": {"name": "read_file", "parameters": {
        "type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}}}]}
    status, answer = await _post(s, "/v1/chat/completions", body)
    assert status == 200, answer
    assert answer["choices"][0]["message"]["role"] == "assistant"
    assert threads == ["join", "loads_sliced", "deeper_than", "convert", "dumps_parts"]
    req = fake.last().body["request"]
    assert req["systemInstruction"]["parts"][0]["text"].endswith("Be brief.")
    calls = [p["functionCall"] for c in req["contents"] for p in c["parts"] if "functionCall" in p]
    results = [p["functionResponse"] for c in req["contents"] for p in c["parts"] if "functionResponse" in p]
    assert calls[0]["name"] == "read_file" and calls[0]["args"] == {"path": "a.txt"}
    assert results[0]["name"] == "read_file" and BIG_TEXT.strip() in json.dumps(results[0]["response"]).replace("\\n", "\n")
    assert "Summarise it." in _upstream_texts(fake)[-1]


async def test_big_anthropic_and_gemini_bodies_take_the_thread_path(env: tuple[FakeCloudCode, AppStack],
                                                              threads: list[str]) -> None:
    fake, s = env
    status, answer = await _post(s, "/v1/messages", {"model": MODEL, "max_tokens": 5, "messages": [
        {"role": "user", "content": [{"type": "text", "text": BIG_TEXT + "What is this?"}]}]},
        {"anthropic-version": "2023-06-01"})
    assert status == 200, answer
    assert answer["type"] == "message"
    assert _upstream_texts(fake)[-1] == BIG_TEXT + "What is this?"
    status, answer = await _post(s, f"/v1beta/models/{MODEL}:generateContent", {"contents": [
        {"role": "user", "parts": [{"text": BIG_TEXT + "And this?"}]}]})
    assert status == 200, answer
    assert answer["candidates"][0]["content"]["parts"]
    assert _upstream_texts(fake)[-1] == BIG_TEXT + "And this?"
    assert threads == ["join", "loads_sliced", "deeper_than", "convert", "dumps_parts", "join", "loads_sliced",
                       "deeper_than", "convert", "dumps_parts"]


async def test_small_bodies_stay_inline(env: tuple[FakeCloudCode, AppStack], threads: list[str]) -> None:
    fake, s = env
    status, answer = await _post(s, "/v1/chat/completions", {"model": MODEL, "max_tokens": 5,
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


def _chat_with(text: str) -> dict[str, Any]:
    return {"model": MODEL, "max_tokens": 5, "messages": [
        {"role": "user", "content": f"Read it. {i}: " + text[: 20_000 * (i % 7)]} if i % 2 == 0
        else {"role": "assistant", "content": f"Read {i}."} for i in range(61)]}


async def test_the_upstream_gets_the_same_envelope_whichever_path_the_body_takes(
        env: tuple[FakeCloudCode, AppStack], threads: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    fake, s = env
    body = _chat_with(BIG_TEXT)
    status, _ = await _post(s, "/v1/chat/completions", body)
    assert status == 200 and "dumps_parts" in threads  # read, parsed, converted, written in slices
    sliced = fake.last().body
    from trayproxy.proxy import body as body_mod
    from trayproxy.proxy import handler

    monkeypatch.setattr(handler, "BIG_BODY", 1 << 30)  # the same body through the inline path
    monkeypatch.setattr(body_mod, "BIG_BODY", 1 << 30)
    monkeypatch.setattr(offload, "BIG_BODY", 1 << 30)
    threads.clear()
    status, _ = await _post(s, "/v1/chat/completions", body)
    assert status == 200 and threads == []
    inline = fake.last().body
    assert len(orjson.dumps(inline)) > 1 << 20
    assert {**sliced, "requestId": None} == {**inline, "requestId": None}


@pytest.mark.parametrize("raw,message", [
    (b'{"model": "m", "messages": [' + b'{"role": "user", "content": "abc"},' * 40_000 + b"]}", "not valid JSON"),
    (b'{"model": "m", "messages": [{"role": "user", "content": "' + b"a" * (1 << 20) + b'}]}', "not valid JSON"),
    (b" " * (1 << 20) + b"\n", "empty"),
    (b"[" + b"1," * (1 << 19) + b"2]", "must be a JSON object"),
], ids=["cut-off-array", "unterminated-string", "whitespace", "array-not-object"])
async def test_a_big_bad_body_is_the_protocols_400(env: tuple[FakeCloudCode, AppStack], raw: bytes, message: str) -> None:
    assert len(raw) >= offload.BIG_BODY
    _, s = env
    status, _, answer = await s.post("/v1/chat/completions", raw, headers={"Content-Type": "application/json"})
    got = json.loads(answer)
    assert status == 400 and message in got["error"]["message"], got
    status, _, answer = await s.post("/v1/messages", raw,
                                       headers={"Content-Type": "application/json", "anthropic-version": "2023-06-01"})
    got = json.loads(answer)
    assert status == 400 and got["type"] == "error" and message in got["error"]["message"], got


@pytest.fixture()
def tiny_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """A window of a few bytes: every value, number and escape lands on a window edge somewhere."""
    monkeypatch.setattr(offload, "WINDOW", 5)
    monkeypatch.setattr(offload, "SLACK", 2)


@contextmanager
def _windows(size: int) -> Iterator[None]:
    old = offload.WINDOW, offload.SLACK
    offload.WINDOW, offload.SLACK = size, size // 2
    try:
        yield
    finally:
        offload.WINDOW, offload.SLACK = old


@given(_json, st.sampled_from([b"", b" ", b"\n\t "]), st.integers(min_value=1, max_value=9))
def test_loads_sliced_in_tiny_windows_gives_what_orjson_gives(value: Any, ws: bytes, window: int) -> None:
    raw = ws + orjson.dumps(value, option=orjson.OPT_INDENT_2) + ws
    with _windows(window):
        assert offload.loads_sliced(raw) == orjson.loads(raw)


@pytest.mark.parametrize("raw", [b"[123456789012345, 1.25e10, true, null]", b'{"abcdefghij": "\\u00e9\\n\\"x"}',
                                 "[\"\u00e9\u4e2d\U0001f600\u00e9\"]".encode(), b'{"k": "\\ud83d\\ude00"}',
                                 b'{"k": "x\\\\ud800"}', b"  [ [ 1 ] , { } ]  "])
def test_values_split_across_windows_parse_whole(tiny_window: None, raw: bytes) -> None:
    assert offload.loads_sliced(raw) == orjson.loads(raw)


@pytest.mark.parametrize("bad", [b"[1234", b'{"a": "\\ud800"}', b'["ab\\u', b"[1, 2", b'{"a" : ', b"\xe4\xb8",
                                 b" \n ", b"[tru]"])
def test_bad_bodies_split_across_windows_are_refused(tiny_window: None, bad: bytes) -> None:
    with pytest.raises(ValueError):
        orjson.loads(bad)
    with pytest.raises(ValueError):
        offload.loads_sliced(bad)


@pytest.mark.parametrize("raw", [
    b"[" + b",".join([b"1"] * 500_000) + b"]",  # 1 MiB of small integers: 2.2 s of CPU before
    b'{"a": [' + b",".join([b"[0]"] * 250_000) + b"]}",
    b'{"messages": [' + b",".join([b'{"r":"u","c":"x"}'] * 60_000) + b"]}",
], ids=["ints", "tiny-arrays", "tiny-messages"])
def test_loads_sliced_does_bounded_python_work_on_a_body_of_tiny_values(raw: bytes,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: a 1 MiB array of small integers took ~2.2 s of CPU (orjson: 27 ms), one
    Python-level step per element: a CPU-exhaustion vector. Python-level steps are bounded by
    the body's size (one per `SLICE_BYTES`), past that orjson parses the body whole."""
    scans = 0
    real = offload._scan

    def counting(s: str, i: int) -> tuple[Any, int]:
        nonlocal scans
        scans += 1
        return real(s, i)

    monkeypatch.setattr(offload, "_scan", counting)
    assert offload.loads_sliced(raw) == orjson.loads(raw)
    assert scans <= offload.MIN_STEPS + len(raw) // offload.SLICE_BYTES + 1, scans


def test_loads_sliced_still_slices_a_body_of_big_values(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = orjson.dumps({"model": "m", "messages": [{"role": "user", "content": BIG_TEXT} for _ in range(8)]})
    whole: list[int] = []
    monkeypatch.setattr(offload, "_whole", lambda b: whole.append(len(b)) or orjson.loads(b))
    assert offload.loads_sliced(raw) == orjson.loads(raw) and whole == []
