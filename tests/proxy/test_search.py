"""Web search through the proxy's app over the fake upstream (which models Google Search from the
reference): each protocol's search request runs as a `web_search` request on a model the account
lists in webSearchModelIds, its links resolved through the fake's redirector; a search no
account can run is a clear error in the client's shape, before anything reaches Google."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson

from tests.fakes.cloudcode import FakeCloudCode
from tests.proxy.app_stack import app_stack
from trayproxy.protocols.sse import SSEDecoder

A = "a@example.com"
CLAUDE_CODE_SEARCH = {
    "model": "claude-opus-5-5", "max_tokens": 128000, "stream": True,
    "system": [{"type": "text", "text": "You run a web search for another Claude model. Search once."}],
    "messages": [{"role": "user", "content": [{"type": "text", "text": "Perform a web search for the query: trayproxy"}]}],
    "tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 8}],
    "tool_choice": {"type": "auto"}, "output_config": {"effort": "medium"},
}


def fake_with_search(search: list[str] | None = None) -> FakeCloudCode:
    fake = FakeCloudCode()
    fake.add_account(A, quota={"gemini-2.5-flash": 0.9, "gemini-3-flash": 0.9, "claude-opus-4-6-thinking": 0.9})
    if search is not None:
        fake.web_search_models = search
    return fake


def events(raw: bytes) -> list[Any]:
    dec = SSEDecoder()
    return [orjson.loads(d) for d in dec.feed_data(raw) + dec.close_data()]


async def test_claude_codes_websearch_runs_on_a_listed_model_with_real_links(tmp_path: Path) -> None:
    fake = fake_with_search(["gemini-3-flash"])
    async with app_stack(tmp_path, fake=fake, emails=(A,)) as s:
        status, headers, raw = await s.post("/v1/messages", CLAUDE_CODE_SEARCH)
    assert status == 200, raw
    [gen] = fake.calls_to()
    assert gen.body["model"] == "gemini-3-flash"  # not the Claude model the name resolves to
    assert gen.body["requestType"] == "web_search" and "sessionId" not in gen.body["request"]
    assert gen.body["request"]["tools"] == [{"googleSearch": {}}]
    evs = events(raw)
    starts = [e["content_block"] for e in evs if e["type"] == "content_block_start"]
    assert [b["type"] for b in starts[:2]] == ["server_tool_use", "web_search_tool_result"]
    urls = [r["url"] for r in starts[1]["content"]]
    expected = [url for url, _ in fake.search_results("Perform a web search for the query: trayproxy")]
    assert urls == expected  # resolved through the redirector
    assert len(fake.calls_to("grounding-redirect")) == 3
    cites = [e["delta"]["citation"] for e in evs if e["type"] == "content_block_delta"
             and e["delta"]["type"] == "citations_delta"]
    assert cites and all(c["url"] in urls for c in cites)
    assert evs[-2]["usage"]["server_tool_use"] == {"web_search_requests": 1}
    assert headers["x-trayproxy-model"] == "gemini-3-flash"


async def test_the_chat_model_is_used_when_the_account_lists_it(tmp_path: Path) -> None:
    fake = fake_with_search(["gemini-2.5-flash", "gemini-3-flash"])
    body = {**CLAUDE_CODE_SEARCH, "model": "gemini-3-flash", "stream": False}
    async with app_stack(tmp_path, fake=fake, emails=(A,)) as s:
        status, _, raw = await s.post("/v1/messages", body)
        again = await s.post("/v1/messages", body)
    assert status == 200 and again[0] == 200
    assert [c.body["model"] for c in fake.calls_to()] == ["gemini-3-flash", "gemini-3-flash"]
    # the second answer's links came from the cache: no more trips to the redirector
    assert len(fake.calls_to("grounding-redirect")) == 3
    msg = json.loads(raw)
    assert msg["usage"]["server_tool_use"]["web_search_requests"] == 1


async def test_no_account_lists_a_search_model_is_a_clear_error_and_nothing_is_sent(tmp_path: Path) -> None:
    fake = fake_with_search([])
    async with app_stack(tmp_path, fake=fake, emails=(A,)) as s:
        status, _, raw = await s.post("/v1/messages", {**CLAUDE_CODE_SEARCH, "stream": False})
        st2, _, raw2 = await s.post("/v1/responses", {"model": "gpt-5", "input": "q", "tools": [{"type": "web_search"}]})
    assert status == 400 and st2 == 400
    err = json.loads(raw)
    assert err["type"] == "error" and err["error"]["type"] == "invalid_request_error"
    assert "webSearchModelIds" in err["error"]["message"]
    assert json.loads(raw2)["error"]["code"] == "web_search_unavailable"
    assert fake.calls_to() == []
    assert len(fake.calls_to("fetchAvailableModels")) >= 2  # the catalog was read again first


async def test_google_refusing_a_listed_model_is_planned_again_not_passed_through(tmp_path: Path) -> None:
    fake = fake_with_search(["gemini-2.5-flash", "gemini-3-flash"])
    async with app_stack(tmp_path, fake=fake, emails=(A,)) as s:
        fake.web_search_models = ["gemini-3-flash"]  # the catalog moved after it was read
        status, _, raw = await s.post("/v1/messages", {**CLAUDE_CODE_SEARCH, "stream": False})
        fake.web_search_models = []
        s.account(A).web_search_models = ["gemini-2.5-flash"]  # stale again, and nothing left upstream
        status2, _, raw2 = await s.post("/v1/messages", {**CLAUDE_CODE_SEARCH, "stream": False})
    assert status == 200, raw
    assert [c.body["model"] for c in fake.calls_to()][:2] == ["gemini-2.5-flash", "gemini-3-flash"]
    assert status2 == 400
    message = json.loads(raw2)["error"]["message"]
    assert "webSearchModelIds" in message and "grounding is not supported" not in message  # ours, not Google's


async def test_gemini_clis_google_web_search(tmp_path: Path) -> None:
    fake = fake_with_search(["gemini-3-flash"])
    body = {"contents": [{"role": "user", "parts": [{"text": "trayproxy"}]}], "tools": [{"googleSearch": {}}],
            "systemInstruction": {"parts": [{"text": "You are Gemini CLI"}]}}
    async with app_stack(tmp_path, fake=fake, emails=(A,)) as s:
        status, _, raw = await s.post("/v1beta/models/gemini-3-flash-preview:generateContent", body)
        st2, h2, raw2 = await s.post("/v1beta/models/gemini-3-flash-preview:streamGenerateContent?alt=sse", body)
    assert status == 200 and st2 == 200 and h2["content-type"].startswith("text/event-stream")
    meta = json.loads(raw)["candidates"][0]["groundingMetadata"]
    assert meta["webSearchQueries"] == ["trayproxy"]
    assert meta["groundingChunks"][0]["web"]["uri"] == "https://example.com/trayproxy"
    assert events(raw2)[0]["candidates"][0]["groundingMetadata"]["groundingChunks"][1]["web"]["uri"] == \
        "https://docs.example.org/trayproxy"
    assert fake.last().body["request"]["systemInstruction"]["parts"][0]["text"] == "You are Gemini CLI"


async def test_responses_web_search_and_a_follow_up(tmp_path: Path) -> None:
    fake = fake_with_search(["gemini-3-flash"])
    async with app_stack(tmp_path, fake=fake, emails=(A,)) as s:
        status, _, raw = await s.post("/v1/responses", {"model": "gpt-5", "input": "trayproxy", "tools": [
            {"type": "web_search", "filters": {"allowed_domains": ["example.org"]}}]})
        first = json.loads(raw)
        st2, _, raw2 = await s.post("/v1/responses", {"model": "gpt-5", "previous_response_id": first["id"],
                                                      "input": "thanks, summarise"})
    assert status == 200, raw
    call, message = first["output"]
    assert call["type"] == "web_search_call" and call["action"]["sources"] == [
        {"type": "url", "url": "https://docs.example.org/trayproxy"}]
    assert {a["url"] for a in message["content"][0]["annotations"]} == {"https://docs.example.org/trayproxy"}
    assert "site:example.org" in json.dumps(fake.calls_to()[0].body["request"]["systemInstruction"])
    assert st2 == 200, raw2
    follow = fake.calls_to()[-1].body
    assert follow["requestType"] == "agent"
    assert "(web search: trayproxy)" in json.dumps(follow["request"]["contents"])
