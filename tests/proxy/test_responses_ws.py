"""The Responses WebSocket (GET /v1/responses upgraded) against the proxy's app (in the test's
loop, with the fake upstream): events as text messages, warm-up, connection-local
previous_response_id, Codex's server-side compaction, errors; and Codex itself with its built-in
OpenAI provider pointed at the running proxy (pinned and newest), a long session that compacts,
all over the socket."""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.clients import CLIENT_SETS, find_cli
from tests.fakes.cloudcode import FakeCloudCode
from tests.fakes.replies import Call, Reply
from tests.proxy.app_stack import AppStack, app_stack
from tests.proxy.stack import running_stack
from trayproxy.controller import Controller

MODEL = "gemini-3-flash"
STATE = {"tools": 0}


def scenario(call: Call) -> Reply:
    contents = call.request.get("contents", [])
    if "code-mode" in json.dumps(contents):  # Codex's default model: the exec tool of additional_tools
        if not any("functionResponse" in p for c in contents for p in c.get("parts", [])):
            return Reply.tool_call("exec", {"input": 'text("hi")'})
        return Reply.text("ran it")
    text = json.dumps(contents)
    last = contents[-1] if contents else {}
    last_text = " ".join(p.get("text", "") for p in last.get("parts", []))
    if "handoff summary" in last_text:
        return Reply.text("SUMMARY: the user asked for colours; blue was said.")
    if "long-session" in text:
        tools = [d["name"] for t in call.request.get("tools", []) for d in t.get("functionDeclarations", [])]
        if "exec_command" in tools and STATE["tools"] < 4:
            STATE["tools"] += 1
            return Reply.tool_call("exec_command", {"cmd": "seq 1 400"}, thoughts="Run it.")
        return Reply.text("Done. " + "The numbers went by. " * 40)
    return Reply.text(f"turns={len(contents)}")


QUOTA = {MODEL: 0.9, "gemini-2.5-flash": 0.9}


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[FakeCloudCode, Controller]]:
    """The running proxy, for Codex."""
    with running_stack(QUOTA, reply=scenario) as s:
        yield s


@asynccontextmanager
async def _served(tmp_path: Path, **settings: Any) -> AsyncIterator[tuple[FakeCloudCode, AppStack]]:
    fake = FakeCloudCode()
    fake.strict_models = False
    fake.add_account("a@example.com", quota=QUOTA)
    fake.default_reply = scenario
    async with app_stack(tmp_path, fake=fake, emails=("a@example.com",), auth_mode="strict", **settings) as s:
        yield fake, s


@pytest.fixture()
async def app(tmp_path: Path) -> AsyncIterator[tuple[FakeCloudCode, AppStack]]:
    async with _served(tmp_path) as served:
        yield served


async def exchange(ctl: AppStack, messages: list[Any], *, key: str | None = None) -> list[list[dict[str, Any]]]:
    """Send each message on one socket; collect the events answering it (up to the last one)."""
    answers: list[list[dict[str, Any]]] = []
    async with ctl.client.ws_connect("/v1/responses", headers={"Authorization": f"Bearer {key or ctl.api_key()}"}) as ws:
        for m in messages:
            await ws.send_str(m if isinstance(m, str) else json.dumps(m))
            events: list[dict[str, Any]] = []
            while True:
                ev = json.loads((await ws.receive(timeout=60)).data)
                events.append(ev)
                if ev["type"] in ("response.completed", "response.failed", "response.incomplete", "error"):
                    break
            answers.append(events)
    return answers


def answer(events: list[dict[str, Any]]) -> str:
    return "".join(c.get("text", "") for i in events[-1]["response"]["output"] if i["type"] == "message"
                   for c in i["content"])


def user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


async def test_events_warm_up_and_follow_up_on_one_socket(app) -> None:
    """As Codex does: a warm-up, then each turn names the previous response (store: false) and
    sends only its new items; the socket supplies the history."""
    fake, ctl = app

    async def talk() -> list[list[dict[str, Any]]]:
        async with ctl.client.ws_connect("/v1/responses", headers={"Authorization": f"Bearer {ctl.api_key()}"}) as ws:
            out: list[list[dict[str, Any]]] = []
            prev = None
            for msg in ({"generate": False, "input": [], "tools": []}, {"input": [user("one")]}, {"input": [user("two")]}):
                msg = {"type": "response.create", "model": MODEL, "store": False, **msg}
                if prev:
                    msg["previous_response_id"] = prev
                await ws.send_str(json.dumps(msg))
                events: list[dict[str, Any]] = []
                while not events or events[-1]["type"] not in ("response.completed", "error"):
                    events.append(json.loads((await ws.receive(timeout=60)).data))
                prev = events[-1].get("response", {}).get("id")
                out.append(events)
            return out

    warm, first, second = await talk()
    assert [e["type"] for e in warm] == ["response.created", "response.completed"]
    types = [e["type"] for e in first]
    assert types[0] == "response.created" and "response.output_text.delta" in types and types[-1] == "response.completed"
    assert answer(first) == "turns=1"
    assert answer(second) == "turns=3"  # one, its answer, two
    assert "one" in json.dumps(fake.last().body) and "two" in json.dumps(fake.last().body)


ADDITIONAL_TOOLS = {"type": "additional_tools", "id": "at_1", "role": "developer", "tools": [
    {"type": "namespace", "name": "functions", "tools": [
        {"type": "custom", "name": "exec", "description": "Run JavaScript",
         "format": {"type": "grammar", "syntax": "lark", "definition": "start: /[\\s\\S]+/"}}]},
    {"type": "namespace", "name": "clock", "tools": [
        {"type": "function", "name": "sleep", "parameters": {"type": "object", "properties": {}}}]}]}


async def test_codex_default_models_tools_over_the_socket_and_its_compaction(app) -> None:
    """Codex 0.171's default model declares its tools in an additional_tools item, sent once with
    the full input; the follow-up names the previous response and sends only the exec output:
    the declarations come from the socket's history, and the call goes back as a custom_tool_call.
    /v1/responses/compact reads the same items."""
    fake, ctl = app
    first = {"type": "response.create", "model": "gpt-6.2-sol", "store": False,
             "input": [ADDITIONAL_TOOLS, user("code-mode: say hi")]}
    async with ctl.client.ws_connect("/v1/responses", headers={"Authorization": f"Bearer {ctl.api_key()}"}) as ws:
        await ws.send_str(json.dumps(first))
        events: list[dict[str, Any]] = []
        while not events or events[-1]["type"] not in ("response.completed", "error"):
            events.append(json.loads((await ws.receive(timeout=60)).data))
        done = events[-1]["response"]
        [call] = done["output"][-1:]
        assert (call["type"], call["name"], call["namespace"], call["input"]) == ("custom_tool_call", "exec",
                                                                                  "functions", 'text("hi")')
        out = {"type": "custom_tool_call_output", "call_id": call["call_id"],
               "output": [{"type": "input_text", "text": "hi"}]}
        await ws.send_str(json.dumps({"type": "response.create", "model": "gpt-6.2-sol", "store": False,
                                      "previous_response_id": done["id"], "input": [out]}))
        events = []
        while not events or events[-1]["type"] not in ("response.completed", "error"):
            events.append(json.loads((await ws.receive(timeout=60)).data))
    assert events[-1]["type"] == "response.completed"
    req = fake.last().body["request"]
    assert [d["name"] for t in req["tools"] for d in t["functionDeclarations"]] == ["exec", "sleep"]
    assert req["contents"][-1]["parts"][0]["functionResponse"]["name"] == "exec"
    status, _, raw = await ctl.post("/v1/responses/compact", {"model": "gpt-6.2-sol", "input": [
        ADDITIONAL_TOOLS, user("code-mode: say hi"), call, out]}, headers={"Authorization": f"Bearer {ctl.api_key()}"})
    assert status == 200, raw
    assert [i["type"] for i in json.loads(raw)["output"]] == ["compaction"]
    assert "tools" not in fake.last().body["request"]  # a compaction offers no tool


async def test_compaction_trigger_gives_one_compaction_item_that_comes_back_as_the_summary(app) -> None:
    fake, ctl = app
    history = [user("name a colour"), {"type": "message", "role": "assistant",
                                       "content": [{"type": "output_text", "text": "blue"}]}]
    (compacted,) = await exchange(ctl, [{"type": "response.create", "model": MODEL, "store": False,
                                         "input": [*history, {"type": "compaction_trigger"}], "tools": []}])
    done = compacted[-1]["response"]
    assert done["status"] == "completed" and [i["type"] for i in done["output"]] == ["compaction"]
    assert done["output"][0]["encrypted_content"].startswith("SUMMARY: the user asked for colours")
    assert [e["type"] for e in compacted if e["type"].startswith("response.output_item")] == [
        "response.output_item.added", "response.output_item.done"]
    (after,) = await exchange(ctl, [{"type": "response.create", "model": MODEL, "store": False,
                                     "input": [done["output"][0], user("and another?")]}])
    assert after[-1]["type"] == "response.completed"
    sent = json.dumps(fake.last().body)
    assert "SUMMARY: the user asked for colours" in sent and "compaction" not in sent.replace("compacted", "")


async def test_errors_are_events_and_the_handshake_needs_the_key(app) -> None:
    _, ctl = app
    (bad_json,) = await exchange(ctl, ["{not json"])
    assert bad_json[0]["type"] == "error" and bad_json[0]["status"] == 400
    (wrong_type,) = await exchange(ctl, [{"type": "session.update"}])
    assert wrong_type[0]["type"] == "error" and "response.create" in wrong_type[0]["error"]["message"]
    (bad_req,) = await exchange(ctl, [{"type": "response.create", "model": MODEL, "input": [{"type": "message", "role": "robot", "content": "x"}]}])
    assert bad_req[0]["type"] == "error" and bad_req[0]["status"] == 400 and bad_req[0]["error"]["message"]
    with pytest.raises(aiohttp.WSServerHandshakeError) as ei:
        await exchange(ctl, [], key="sk-wrong-0000000000")
    assert ei.value.status == 401
    status, _, _ = await ctl.get("/v1/responses", headers={"Authorization": f"Bearer {ctl.api_key()}"})
    assert status == 405


@pytest.mark.npm
@pytest.mark.parametrize("clients", CLIENT_SETS)
def test_codex_with_its_openai_provider_uses_the_socket_and_compacts(stack, tmp_path: Path, clients: str) -> None:
    codex = find_cli("codex", clients)
    fake, ctl = stack
    home = tmp_path / "home"
    (home / ".codex").mkdir(parents=True)
    (home / ".codex" / "config.toml").write_text(
        f'model = "{MODEL}"\nopenai_base_url = "{ctl.status().openai_base_url}"\nmodel_auto_compact_token_limit = 1000\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CODEX_"))}
    env.update({"HOME": str(home), "CODEX_HOME": str(home / ".codex"), "NO_COLOR": "1"})
    login = subprocess.run([codex, "login", "--with-api-key"], input=ctl.api_key(), env=env, capture_output=True,
                           text=True, timeout=60)
    assert login.returncode == 0, login.stderr[-1000:]
    STATE["tools"] = 0
    calls_before = len(fake.calls_to())
    ctl.monitor.flush()
    seen = {r["id"] for r in ctl.monitor.recent(limit=2000)}
    work = tmp_path / "work"
    work.mkdir()
    p = subprocess.run([codex, "exec", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox",
                        "long-session: run `seq 1 400` a few times and summarise"],
                       cwd=work, env=env, capture_output=True, text=True, timeout=400, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, (p.stdout[-1500:], p.stderr[-2500:])
    assert "Falling back from WebSockets" not in p.stderr and "compaction" not in p.stderr.lower(), p.stderr[-2500:]
    ctl.monitor.flush()
    routes = Counter((r["route"], r["status"]) for r in ctl.monitor.recent(limit=2000) if r["id"] not in seen)
    # one row per message on the socket, nothing else: the socket itself is no row, and the
    # client closing it at the end of the session is no error (no 101, no 499)
    assert routes[("/v1/responses", 200)] >= 3 and set(routes) == {("/v1/responses", 200)}, routes
    assert {r["method"] for r in ctl.monitor.recent(limit=2000) if r["id"] not in seen} == {"WS"}
    later = fake.calls_to()[calls_before:]
    assert any("handoff summary" in json.dumps(c.body) for c in later), "no server-side compaction happened"
    # after it, the turns carry the summary in place of the compacted history
    assert any("SUMMARY: the user asked for colours" in json.dumps(c.body) for c in later)


# -- issue #27 --------------------------------------------------------------------------------------


@pytest.fixture()
async def recorded(tmp_path: Path) -> AsyncIterator[tuple[FakeCloudCode, AppStack]]:
    async with _served(tmp_path, monitor=True) as served:
        yield served


async def test_a_session_the_client_closes_leaves_one_row_per_message_and_no_error(recorded) -> None:
    """Regression: every Codex WebSocket session left a false 499 error row when Codex closed
    it. The socket is no row; each message is one, and a client closing an idle socket is the
    normal end of a session."""
    _, ctl = recorded
    await exchange(ctl, [{"type": "response.create", "model": MODEL, "input": [user("one")]},
                         {"type": "response.create", "model": MODEL, "input": [user("two")]}])
    async with ctl.client.ws_connect("/v1/responses", headers={"Authorization": f"Bearer {ctl.api_key()}"}):
        pass  # opened and closed without a message
    await ctl.close_server()  # waits for the socket handlers to end
    ctl.monitor.flush()
    rows = ctl.monitor.recent(limit=10)
    assert [(r["method"], r["status"], r["outcome"]) for r in rows] == [("WS", 200, "ok"), ("WS", 200, "ok")]
    assert ctl.monitor.recent(limit=10, status="error") == []


async def test_an_event_bigger_than_512_kib_goes_out_as_one_message(app) -> None:
    """Regression: an SSE line over 512 KiB broke the socket (the loopback client's line limit;
    a 500 written onto the upgraded socket). The socket now runs in process: re-tested."""
    fake, ctl = app
    big = "0123456789abcdef" * (1 << 16)  # 1 MiB of answer in one upstream event
    fake.default_reply = lambda call: Reply.text(big, chunks=1)
    (events,) = await exchange(ctl, [{"type": "response.create", "model": MODEL, "input": [user("go")]}])
    assert events[-1]["type"] == "response.completed", str(events[-1])[:300]
    assert answer(events) == big
    assert max(len(e.get("delta", "")) for e in events) == len(big)


async def test_a_message_nested_too_deep_is_an_error_event_not_a_500(app) -> None:
    """Regression: JSON nested past orjson's limit was a RecursionError / 500 on the socket."""
    _, ctl = app
    args = json.dumps({"a": json.loads("[" * 300 + "]" * 300)})
    (deep,) = await exchange(ctl, [{"type": "response.create", "model": MODEL, "input": [
        {"type": "function_call", "call_id": "c", "name": "f", "arguments": args},
        {"type": "function_call_output", "call_id": "c", "output": "ok"}]}])
    assert deep[0]["type"] == "error" and deep[0]["status"] == 400 and "nested" in deep[0]["error"]["message"]
    (whole,) = await exchange(ctl, ['{"type": "response.create", "x": ' + "[" * 2000 + "]" * 2000 + "}"])
    assert whole[0]["type"] == "error" and whole[0]["status"] == 400


async def test_the_socket_does_not_take_compressed_messages(app) -> None:
    """permessage-deflate would inflate a small frame into a message of max_msg_size (100 MiB),
    a bomb six sockets wide; on loopback compression buys nothing, so it is not offered."""
    _, ctl = app
    async with ctl.client.ws_connect("/v1/responses", compress=15,
                                     headers={"Authorization": f"Bearer {ctl.api_key()}"}) as ws:
        assert ws.compress == 0
        await ws.send_str(json.dumps({"type": "response.create", "model": MODEL, "input": [user("hi")]}))
        events = []
        while not events or events[-1]["type"] not in ("response.completed", "error"):
            events.append(json.loads((await ws.receive(timeout=60)).data))
        assert events[-1]["type"] == "response.completed"
