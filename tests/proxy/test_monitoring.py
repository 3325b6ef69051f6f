"""The monitor loses nothing: 1,000 mixed requests through the running proxy (successes,
streams, bad input, auth failures, upstream errors, clients that hang up mid-stream) give
exactly 1,000 rows with the right statuses and tokens, and no secret in the database file."""

from __future__ import annotations

import json
import socket
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from tests.fakes.cloudcode import FakeCloudCode
from tests.fakes.replies import Call, Reply
from tests.helpers import make_controller, request

QUOTA = {"gemini-3-flash": 0.9, "claude-sonnet-4-6": 0.9}


def reply(call: Call) -> Reply:
    text = call.last_user_text()
    if text.startswith("slow"):
        return Reply.stream(n_chunks=400, delay_ms=25)
    return Reply.echo()


def hang_up_mid_stream(port: int, key: str) -> None:
    body = json.dumps({"contents": [{"role": "user", "parts": [{"text": "slow stream"}]}]}).encode()
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(b"POST /v1beta/models/gemini-3-flash:streamGenerateContent?alt=sse HTTP/1.1\r\n"
              + f"Host: 127.0.0.1:{port}\r\nx-goog-api-key: {key}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    got = b""
    while b"data: " not in got:
        chunk = s.recv(4096)
        assert chunk, "closed before the first event"
        got += chunk
    s.close()


def test_thousand_mixed_requests_one_row_each_refused_counted(trayproxy_home) -> None:
    fake = FakeCloudCode()
    fake.strict_models = True
    for e in ("a@example.com", "b@example.com"):
        fake.add_account(e, quota=QUOTA)
    fake.default_reply = reply
    with fake:
        ctl = make_controller(env=fake.env(), auth_mode="strict")
        for e in ("a@example.com", "b@example.com"):
            ctl.add_refresh_token(f"rt-{e}")
        port = ctl.start().port
        key = ctl.api_key()
        hdr = {"x-api-key": key, "User-Agent": f"test-client/1.0 (secret {key})"}
        expected: Counter[int] = Counter()
        tokens = {"in": 0, "out": 0}

        def one(i: int) -> None:
            kind = i % 10
            if kind in (0, 1, 2, 3):
                s, _, b = request(port, "POST", "/v1beta/models/gemini-3-flash:generateContent", headers=hdr,
                                  body={"contents": [{"role": "user", "parts": [{"text": f"question {i} ya29.tok{i}"}]}]})
                u = json.loads(b)["usageMetadata"]
                tokens["in"] += u["promptTokenCount"]
                tokens["out"] += u["candidatesTokenCount"] + u.get("thoughtsTokenCount", 0)
            elif kind in (4, 5):
                s, _, b = request(port, "POST", "/v1/messages", headers=hdr,
                                  body={"model": "claude-sonnet-4-6", "max_tokens": 50, "stream": True,
                                        "messages": [{"role": "user", "content": f"stream {i}"}]})
                assert b.rstrip().endswith(b'{"type":"message_stop"}'), b[-200:]
            elif kind == 6:
                s, _, _ = request(port, "POST", "/v1/messages", headers=hdr, body=b"{not json")
            elif kind == 7:
                s, _, _ = request(port, "POST", "/v1/chat/completions", headers={"x-api-key": "sk-wrong-" + key[9:]},
                                  body={"model": "x", "messages": []})
            elif kind == 8:
                hang_up_mid_stream(port, key)
                s = 200
            else:
                s, _, _ = request(port, "POST", "/v1beta/models/gemini-9-missing:generateContent", headers=hdr,
                                  body={"contents": [{"role": "user", "parts": [{"text": "x"}]}]})
            expected[s] += 1

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(one, range(1000)))
        assert expected == Counter({200: 700, 400: 100, 401: 100, 404: 100})

        mon = ctl.monitor
        deadline = time.monotonic() + 60
        while mon.summary()["requests"] < 900 and time.monotonic() < deadline:
            mon.flush()
            time.sleep(0.05)
        rows = mon.recent(limit=5000)
        refused = mon.refused()
        ctl.close()

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
    blob = b"".join(f.read_bytes() for f in trayproxy_home.iterdir() if f.name.startswith("monitor.db"))
    assert key.encode() not in blob and b"ya29.tok" not in blob
