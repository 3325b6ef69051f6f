"""Web search answers in each client protocol's shape (goldens in tests/protocols/golden/search/:
a grounded Gemini answer, the resolved links and the client's request -> the exact answer and
stream frames), checked again by the official SDKs reading them."""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.protocols.test_anthropic import _sdk_client
from tests.protocols.test_openai_responses import sdk_client
from trayproxy.protocols import search, search_answers
from trayproxy.protocols.gemini import Usage
from trayproxy.protocols.openai_responses import request_echo, tool_set
from trayproxy.protocols.sse import SSEDecoder

GOLDEN = Path(__file__).parent / "golden" / "search"
REGEN = os.environ.get("TRAYPROXY_REGEN_GOLDEN") == "1"
CASES = sorted(GOLDEN.glob("*.json"))


def ids() -> Any:
    n = itertools.count(1)
    return lambda prefix: f"{prefix}{next(n)}"


def answer(case: dict[str, Any]) -> tuple[Any, list[bytes]]:
    body, proto = case["body"], case["protocol"]
    if proto == "anthropic":
        ask = search.anthropic_ask(body)
    elif proto == "responses":
        tools = tool_set(body, None)
        ask = search.responses_ask(body, tools.search, bool(tools.chat), [{"type": "message", "role": "user",
                                                                          "content": body["input"]}])
    else:
        ask = search.gemini_ask(body)
    assert ask is not None
    f = search.filtered(search.with_links(search.found(case["response"]), case["resolved"]), ask)
    usage = Usage.from_metadata(case["response"]["response"]["usageMetadata"])
    if proto == "anthropic":
        msg = search_answers.anthropic_message(f, query=ask.query, model=body["model"], message_id="msg_1",
                                               new_id=ids(), usage=usage)
        return msg, search_answers.anthropic_frames(msg) if case["stream"] else []
    if proto == "responses":
        resp = search_answers.responses_object(f, query=ask.query, model=body["model"], response_id="resp_1",
                                               created_at=1_700_000_000, new_id=ids(), echo=request_echo(body),
                                               usage=usage)
        return resp, search_answers.responses_frames(resp) if case["stream"] else []
    return search_answers.gemini_response(f, case["resolved"]), []


def decoded(frames: list[bytes]) -> list[Any]:
    dec = SSEDecoder()
    return [orjson.loads(d) for d in dec.feed_data(b"".join(frames)) + dec.close_data()]


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_search_answer_golden(path: Path) -> None:
    case = orjson.loads(path.read_bytes())
    got, frames = answer(case)
    out = {"answer": got, "frames": decoded(frames)}
    if REGEN:
        case["expected"] = out
        path.write_bytes(orjson.dumps(case, option=orjson.OPT_INDENT_2) + b"\n")
    assert out == case["expected"]


@pytest.mark.parametrize("path", [p for p in CASES if p.stem.startswith("anthropic")], ids=lambda p: p.stem)
def test_the_anthropic_sdk_reads_the_search_answer(path: Path) -> None:
    case = orjson.loads(path.read_bytes())
    msg, frames = answer({**case, "stream": True})
    client = _sdk_client(b"".join(frames), "text/event-stream")
    with client.messages.stream(model="m", max_tokens=10, messages=[{"role": "user", "content": "x"}]) as st:
        final = st.get_final_message()
    assert [b.type for b in final.content] == [b["type"] for b in msg["content"]]
    assert final.usage.server_tool_use is not None and final.usage.server_tool_use.web_search_requests == 1
    cited = [b for b in final.content if b.type == "text" and b.citations]
    assert [c.url for b in cited for c in b.citations] == [c["url"] for b in msg["content"] if b.get("citations")
                                                          for c in b["citations"]]
    whole = _sdk_client(orjson.dumps(msg), "application/json").messages.create(
        model="m", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert whole.model_dump(mode="json", exclude_none=True)["content"] == final.model_dump(
        mode="json", exclude_none=True)["content"]


def test_the_openai_sdk_reads_the_search_answer() -> None:
    case = orjson.loads((GOLDEN / "responses_web_search.json").read_bytes())
    resp, frames = answer(case)
    with sdk_client(b"".join(frames)).responses.stream(model="gpt-5", input="q", tools=[{"type": "web_search"}]) as s:
        seen = [ev.type for ev in s]
        final = s.get_final_response()
    assert "response.web_search_call.searching" in seen and "response.output_text.annotation.added" in seen
    assert [o.type for o in final.output] == ["web_search_call", "message"]
    assert final.output_text == resp["output"][1]["content"][0]["text"]
    ann = final.output[1].content[0].annotations
    assert [(a.url, final.output_text[a.start_index:a.end_index]) for a in ann][0] == (
        "https://www.python.org/downloads/release/python-3140/", "Python 3.14 was released in October 2025.")
