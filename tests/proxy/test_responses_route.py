"""`/v1/responses` through the proxy's app (in the test's loop) with a scripted Cloud Code behind
MockTransport: error shapes, streaming and non-streaming answers, previous_response_id chains
(history, model, account stickiness, store:false), GET /v1/responses/{id}; and the openai SDK as
the client of the real running proxy."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from tests.helpers import add_fake_account, make_controller
from tests.proxy.app_stack import AppStack, app_stack
from trayproxy.controller import Controller
from trayproxy.upstream.transport import MockTransport, UpstreamRequest

Reply = tuple[int, dict[str, str], bytes | list[bytes]]


def sse(*events: dict[str, Any]) -> list[bytes]:
    return [b"data: " + json.dumps({"response": e}).encode() + b"\r\n\r\n" for e in events]


def answer(*parts: dict[str, Any], finish: str = "STOP") -> list[bytes]:
    return sse(
        {"candidates": [{"content": {"role": "model", "parts": list(parts[:1])}}]},
        {"candidates": [{"content": {"role": "model", "parts": list(parts[1:])}, "finishReason": finish}],
         "usageMetadata": {"promptTokenCount": 11, "candidatesTokenCount": 4, "thoughtsTokenCount": 2,
                           "totalTokenCount": 17}},
    )


class Upstream:
    def __init__(self) -> None:
        self.script: list[list[bytes]] = []
        self.generations: list[tuple[str, dict[str, Any]]] = []  # (account e-mail, envelope)
        self.refreshes: dict[str, int] = defaultdict(int)
        self.transport = MockTransport(self.handle)

    async def handle(self, req: UpstreamRequest) -> Reply:
        if req.url.endswith("/token"):
            email = parse_qs((req.body or b"").decode())["refresh_token"][0].removeprefix("rt-")
            self.refreshes[email] += 1
            body = {"access_token": f"at-{email}-{self.refreshes[email]}", "expires_in": 3600}
            return 200, {}, json.dumps(body).encode()
        email = req.headers["Authorization"].removeprefix("Bearer at-").rsplit("-", 1)[0]
        self.generations.append((email, json.loads(req.body or b"{}")))
        chunks = self.script.pop(0) if self.script else answer({"text": "Hi "}, {"text": f"from {email}"})
        return 200, {"content-type": "text/event-stream"}, chunks


@pytest.fixture()
def up() -> Upstream:
    return Upstream()


EMAILS = ("a@x.com", "b@x.com", "c@x.com")


@pytest.fixture()
async def stack(up: Upstream, tmp_path: Path) -> AsyncIterator[AppStack]:
    async with app_stack(tmp_path, transport=up.transport) as s:
        for email in EMAILS:
            s.add_account(email, f"proj-{email[0]}")
        yield s


@pytest.fixture()
def ctl(up: Upstream) -> Iterator[Controller]:
    """The running proxy, for the SDK."""
    c = make_controller(transport=up.transport)
    for email in EMAILS:
        add_fake_account(c, email, f"proj-{email[0]}")
    c.start()
    yield c
    c.close()


@pytest.fixture()
def chat_converter() -> None:
    pytest.importorskip("trayproxy.protocols.openai_chat")


async def post(s: AppStack, body: Any, path: str = "/v1/responses") -> tuple[int, dict[str, str], bytes]:
    return await s.post(path, body, headers={"Authorization": "Bearer sk-x"})


def events(raw: bytes) -> list[dict[str, Any]]:
    out = []
    for frame in raw.split(b"\n\n"):
        lines = [ln for ln in frame.split(b"\n") if ln and not ln.startswith(b":")]
        if not lines:
            continue
        assert lines[0].startswith(b"event: ") and lines[1].startswith(b"data: ")
        ev = json.loads(lines[1][6:])
        assert ev["type"] == lines[0][7:].decode()
        out.append(ev)
    assert [e["sequence_number"] for e in out] == list(range(len(out)))
    return out


def upstream_texts(envelope: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c["role"], p["text"]) for c in envelope["request"]["contents"] for p in c["parts"] if "text" in p]


# -- no generation needed ---------------------------------------------------------------------------


async def test_unknown_previous_response_id_is_400_in_openai_shape(stack: AppStack, up: Upstream) -> None:
    s, _, b = await post(stack, {"model": "gemini-3-flash", "input": "hi", "previous_response_id": "resp_gone"})
    assert s == 400
    err = json.loads(b)["error"]
    assert err["code"] == "previous_response_not_found" and "resp_gone" in err["message"]
    assert err["type"] == "invalid_request_error"
    assert up.generations == []


@pytest.mark.parametrize(("body", "word"), [({"input": "hi"}, "model"), ({"model": "gemini-3-flash"}, "input")])
async def test_missing_fields_are_400_naming_the_field(stack: AppStack, body: dict[str, Any], word: str) -> None:
    s, _, b = await post(stack, body)
    assert s == 400 and json.loads(b)["error"]["message"].startswith(word)


async def test_get_unknown_response_is_404(stack: AppStack) -> None:
    s, _, b = await stack.get("/v1/responses/resp_nope", headers={"Authorization": "Bearer sk-x"})
    assert s == 404 and "resp_nope" in json.loads(b)["error"]["message"]


# -- generation ---------------------------------------------------------------------------------------


async def test_non_streaming_then_previous_response_id_chain(stack: AppStack, up: Upstream,
                                                             chat_converter: None) -> None:
    s, h, b = await post(stack, {"model": "gemini-3-flash", "instructions": "Be nice.", "input": "first question"})
    assert s == 200 and h["content-type"].startswith("application/json")
    first = json.loads(b)
    assert first["object"] == "response" and first["status"] == "completed" and first["id"].startswith("resp_")
    assert first["model"] == "gemini-3-flash" and first["instructions"] == "Be nice."
    msg = first["output"][-1]
    assert msg["type"] == "message" and msg["content"][0]["text"].startswith("Hi from ")
    assert first["usage"]["total_tokens"] == 17 and first["usage"]["output_tokens_details"]["reasoning_tokens"] == 2
    email = up.generations[0][0]

    s, _, b = await stack.get(f"/v1/responses/{first['id']}", headers={"Authorization": "Bearer x"})
    assert s == 200 and json.loads(b) == first

    # the follow-up names no model: it is inherited; the history goes upstream; same account
    s, _, b = await post(stack, {"previous_response_id": first["id"], "input": "second question"})
    assert s == 200, b
    second = json.loads(b)
    assert second["previous_response_id"] == first["id"] and second["model"] == "gemini-3-flash"
    acc, env = up.generations[1]
    assert acc == email
    texts = upstream_texts(env)
    assert ("user", "first question") in texts and ("user", "second question") in texts
    assert any(role == "model" and text.startswith("Hi from") for role, text in texts)

    # a third link sees the whole chain
    s, _, b = await post(stack, {"previous_response_id": second["id"], "input": "third", "model": "gemini-3-flash"})
    assert s == 200
    texts = upstream_texts(up.generations[2][1])
    assert [t for r, t in texts if r == "user"][-3:] == ["first question", "second question", "third"]

    s, _, b = await stack.get(f"/v1/responses/{second['id']}/input_items?order=asc",
                              headers={"Authorization": "Bearer x"})
    items = json.loads(b)["data"]
    assert items[0]["content"] == "first question" and items[-1]["content"] == "second question"


async def test_streaming_events_and_store_false(stack: AppStack, up: Upstream, chat_converter: None) -> None:
    up.script.append(answer({"text": "hmm", "thought": True},
                            {"functionCall": {"name": "lookup", "args": {"q": "x"}}, "thoughtSignature": "SIG"}))
    body = {"model": "gemini-3-flash", "input": "look it up", "stream": True, "store": False,
            "tools": [{"type": "function", "name": "lookup", "parameters": {"type": "object"}}]}
    s, h, b = await post(stack, body, path="/responses")
    assert s == 200 and h["content-type"].startswith("text/event-stream")
    assert h["x-trayproxy-model"] == "gemini-3-flash"  # no catalog read yet: the built-in defaults list it
    evs = events(b)
    assert [e["type"] for e in evs][:2] == ["response.created", "response.in_progress"]
    assert evs[-1]["type"] == "response.completed"
    out = evs[-1]["response"]["output"]
    assert [o["type"] for o in out] == ["reasoning", "function_call"]
    call_id = out[1]["call_id"]
    assert stack.ctx.signatures.get(call_id) == "SIG"  # remembered for the next turn
    # store:false: nothing to continue from
    s, _, b = await post(stack, {"model": "gemini-3-flash", "input": "x", "previous_response_id": evs[-1]["response"]["id"]})
    assert s == 400 and json.loads(b)["error"]["code"] == "previous_response_not_found"


def test_openai_sdk_streams_and_chains(ctl: Controller, up: Upstream, chat_converter: None) -> None:
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(api_key="sk-x", base_url=f"http://127.0.0.1:{ctl.status().port}/v1", max_retries=0)
    with client.responses.stream(model="gemini-3-flash", input="hello there sdk") as s:
        deltas = [ev.delta for ev in s if ev.type == "response.output_text.delta"]
        final = s.get_final_response()
    assert final.status == "completed" and final.output_text == "".join(deltas)
    nxt = client.responses.create(model="gemini-3-flash", input="again", previous_response_id=final.id)
    assert nxt.status == "completed" and nxt.output_text.startswith("Hi from")
    assert client.responses.retrieve(nxt.id).id == nxt.id
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="gemini-3-flash", input="x", previous_response_id="resp_missing")
