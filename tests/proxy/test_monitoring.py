"""The monitor loses nothing: 1,000 mixed requests through the proxy (successes,
streams, bad input, auth failures, upstream errors, clients that hang up mid-stream) give
exactly 1,000 rows with the right statuses and tokens, and no secret in the database file. The
proxy's app (with its monitor) and the fake Cloud Code run in the test's loop."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path

from tests.fakes.cloudcode import FakeCloudCode
from tests.fakes.replies import Call, Reply
from tests.proxy.app_stack import AppStack, app_stack

QUOTA = {"gemini-3-flash": 0.9, "claude-sonnet-4-6": 0.9}


def reply(call: Call) -> Reply:
    text = call.last_user_text()
    if text.startswith("slow"):
        return Reply.stream(n_chunks=400, delay_ms=25)
    return Reply.echo()


async def hang_up_mid_stream(s: AppStack, key: str) -> None:
    body = json.dumps({"contents": [{"role": "user", "parts": [{"text": "slow stream"}]}]}).encode()
    async with s.client.post("/v1beta/models/gemini-3-flash:streamGenerateContent?alt=sse", data=body,
                             headers={"x-goog-api-key": key, "Content-Type": "application/json"}) as r:
        async for line in r.content:
            if line.startswith(b"data: "):
                break
        else:
            raise AssertionError("closed before the first event")
        r.close()  # the connection goes, mid-stream


async def test_thousand_mixed_requests_one_row_each_refused_counted(tmp_path: Path) -> None:
    fake = FakeCloudCode()
    fake.strict_models = True
    for e in ("a@example.com", "b@example.com"):
        fake.add_account(e, quota=QUOTA)
    fake.default_reply = reply
    async with app_stack(tmp_path, fake=fake, emails=("a@example.com", "b@example.com"), monitor=True,
                         auth_mode="strict") as stack:
        key = stack.api_key()
        hdr = {"x-api-key": key, "User-Agent": f"test-client/1.0 (secret {key})"}
        expected: Counter[int] = Counter()
        tokens = {"in": 0, "out": 0}

        async def one(i: int) -> None:
            kind = i % 10
            if kind in (0, 1, 2, 3):
                s, _, b = await stack.post("/v1beta/models/gemini-3-flash:generateContent", headers=hdr,
                                           body={"contents": [{"role": "user", "parts": [{"text": f"question {i} ya29.tok{i}"}]}]})
                u = json.loads(b)["usageMetadata"]
                tokens["in"] += u["promptTokenCount"]
                tokens["out"] += u["candidatesTokenCount"] + u.get("thoughtsTokenCount", 0)
            elif kind in (4, 5):
                s, _, b = await stack.post("/v1/messages", headers=hdr,
                                           body={"model": "claude-sonnet-4-6", "max_tokens": 50, "stream": True,
                                                 "messages": [{"role": "user", "content": f"stream {i}"}]})
                assert b.rstrip().endswith(b'{"type":"message_stop"}'), b[-200:]
            elif kind == 6:
                s, _, _ = await stack.post("/v1/messages", headers=hdr, body=b"{not json")
            elif kind == 7:
                s, _, _ = await stack.post("/v1/chat/completions", headers={"x-api-key": "sk-wrong-" + key[9:]},
                                           body={"model": "x", "messages": []})
            elif kind == 8:
                await hang_up_mid_stream(stack, key)
                s = 200
            else:
                s, _, _ = await stack.post("/v1beta/models/gemini-9-missing:generateContent", headers=hdr,
                                           body={"contents": [{"role": "user", "parts": [{"text": "x"}]}]})
            expected[s] += 1

        clients = asyncio.Semaphore(8)  # eight clients at a time

        async def client(i: int) -> None:
            async with clients:
                await one(i)

        await asyncio.gather(*(client(i) for i in range(1000)))
        assert expected == Counter({200: 700, 400: 100, 401: 100, 404: 100})

        mon = stack.monitor
        await stack.close_server()  # the handlers of the streams whose clients left have finished
        mon.flush()
        rows = mon.recent(limit=5000)
        refused = mon.refused()

    # the 100 wrong-key requests are counted as refused, not logged one row each
    assert len(rows) == 900
    assert Counter(r["status"] for r in rows) == expected - Counter({401: 100})
    assert [(r["kind"], r["status"], r["count"]) for r in refused] == [("auth", 401, 100)]
    outcomes = Counter(r["outcome"] for r in rows)
    assert outcomes["client_disconnect"] == 100 and outcomes["error"] == 200 and outcomes["ok"] == 600
    gem = [r for r in rows if r["route"].endswith("gemini-3-flash:generateContent")]
    assert len(gem) == 400
    assert sum(r["input_tokens"] for r in gem) == tokens["in"]
    assert sum(r["output_tokens"] for r in gem) == tokens["out"]
    anth = [r for r in rows if r["route"] == "/v1/messages" and r["status"] == 200]
    assert len(anth) == 200 and all(r["output_tokens"] > 0 and r["stream"] for r in anth)
    assert all(r["account_id"] for r in rows if r["status"] == 200)
    assert {r["protocol"] for r in rows} == {"gemini", "anthropic"}  # the openai calls were the refused ones
    blob = b"".join(f.read_bytes() for f in tmp_path.iterdir() if f.name.startswith("monitor.db"))
    assert key.encode() not in blob and b"ya29.tok" not in blob
