from __future__ import annotations

import csv
import io
import json
import threading
import time
import uuid
from pathlib import Path

import pytest

from trayproxy.monitor import Monitor, RequestRecord
from trayproxy.monitor.redact import redact_text
from trayproxy.monitor.report import format_table

SECRETS = ["sk-proxykey-0123456789abcdef", "ya29.a0AfH6SMBx-secret-access-token", "1//0gSecretRefreshToken-abcdefghijk",
           "AIzaSyD-1234567890abcdefghijklmnopqrstuv"]


def rec(i: int = 0, **kw) -> RequestRecord:
    base = dict(id=uuid.uuid4().hex, ts=time.time() + i * 1e-3, method="POST", route="/v1/chat/completions",
                protocol="openai", client_model="gpt-4o", upstream_model="gemini-2.5-flash", account_id="acc-1",
                upstream="google", status=200, outcome="ok", duration_ms=12.5, ttfb_ms=3.0, input_tokens=10,
                output_tokens=5, cached_tokens=2, reasoning_tokens=1, stream=False)
    base.update(kw)
    return RequestRecord(**base)


@pytest.fixture()
def mon(tmp_path: Path):
    m = Monitor(tmp_path / "monitor.db", secrets=lambda: SECRETS[:1])
    m.start()
    yield m
    m.close()


def test_every_record_lands_once_with_its_numbers(mon: Monitor) -> None:
    for i in range(300):
        mon.record(rec(i, status=200 if i % 3 else 502, outcome="ok" if i % 3 else "error", input_tokens=i))
    mon.flush()
    rows = mon.recent(limit=1000)
    assert len(rows) == 300 and len({r["id"] for r in rows}) == 300
    assert sum(r["input_tokens"] for r in rows) == sum(range(300))
    assert mon.summary()["errors"] == 100
    assert len(mon.recent(limit=1000, status="error")) == 100 and len(mon.recent(limit=1000, status="502")) == 100
    page1 = mon.recent(limit=50)
    page2 = mon.recent(limit=50, before_ts=page1[-1]["ts"])
    assert not {r["id"] for r in page1} & {r["id"] for r in page2}


def test_concurrent_writers_lose_nothing(mon: Monitor) -> None:
    def burst() -> None:
        for i in range(250):
            mon.record(rec(i))

    threads = [threading.Thread(target=burst) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    mon.flush()
    assert mon.summary()["requests"] == 2000 and mon.dropped == 0


def test_no_secret_reaches_the_database_file(tmp_path: Path) -> None:
    for store_bodies in (False, True):
        d = tmp_path / f"b{store_bodies}"
        m = Monitor(d / "monitor.db", store_bodies=store_bodies, secrets=lambda: SECRETS[:1])
        m.start()
        body = json.dumps({"api_key": "my-own-plain-key", "messages": [{"content": f"use {SECRETS[1]} and {SECRETS[3]}"}],
                           "refresh_token": SECRETS[2]}).encode()
        for i in range(20):
            m.record(rec(i, error=f"upstream said Bearer {SECRETS[1]} was bad; key {SECRETS[0]}",
                         user_agent=f"client/1.0 (key={SECRETS[0]})", route=f"/v1beta/models/x:generateContent?key={SECRETS[0]}",
                         request_body=body, response_body=b"Authorization: Bearer " + SECRETS[0].encode()))
        m.close()
        blob = b"".join(f.read_bytes() for f in d.iterdir() if f.name.startswith("monitor.db"))
        for s in [*SECRETS, "my-own-plain-key"]:
            assert s.encode() not in blob, (store_bodies, s)
        stored = Monitor(d / "monitor.db").recent(limit=1)[0]
        got = Monitor(d / "monitor.db").get(stored["id"])
        assert got is not None
        assert (got["request_body"] is not None) == store_bodies
        if store_bodies:
            assert "[REDACTED]" in got["request_body"] and "messages" in got["request_body"]


def test_body_cap(tmp_path: Path) -> None:
    m = Monitor(tmp_path / "m.db", store_bodies=True, body_cap=1000)
    m.start()
    r = rec(request_body=b"x" * 5000)
    m.record(r)
    m.close()
    got = Monitor(tmp_path / "m.db").get(r.id)
    assert got is not None and got["request_body"].startswith("x" * 1000) and "truncated 4000 bytes" in got["request_body"]


def test_retention_by_days_and_rows(tmp_path: Path) -> None:
    m = Monitor(tmp_path / "m.db", retention_days=7, max_rows=100)
    m.start()
    now = time.time()
    for i in range(10):
        m.record(rec(ts=now - 10 * 86400 - i))  # too old
    for i in range(150):
        m.record(rec(ts=now - 1000 + i))
    m.flush()
    deleted = m.apply_retention(now=now)
    assert deleted == 60
    rows = m.recent(limit=1000)
    assert len(rows) == 100 and min(r["ts"] for r in rows) == pytest.approx(now - 1000 + 50)
    m.close()


def test_disabled_records_nothing_and_after_close_is_harmless(tmp_path: Path) -> None:
    m = Monitor(tmp_path / "m.db", enabled=False)
    m.start()
    m.record(rec())
    m.flush()
    assert m.recent() == []
    m.configure(enabled=True)
    m.record(rec())
    m.close()
    m.record(rec())  # no exception
    assert len(Monitor(tmp_path / "m.db").recent()) == 1


def test_filters_totals_hourly_export(mon: Monitor) -> None:
    now = time.time()
    mon.record(rec(ts=now - 7200, account_id="a", protocol="anthropic", client_model="claude", upstream_model="m1"))
    mon.record(rec(ts=now - 10, account_id="b", protocol="openai", upstream_model="m2", status=429, outcome="error"))
    mon.record(rec(ts=now - 5, account_id="b", protocol="gemini", upstream_model="m2", output_tokens=7))
    mon.flush()
    assert [r["account_id"] for r in mon.recent(account_id="b")] == ["b", "b"]
    assert len(mon.recent(protocol="anthropic")) == 1 and len(mon.recent(model="m2")) == 2
    by_acc = {r["key"]: r for r in mon.totals("account_id")}
    assert by_acc["b"]["requests"] == 2 and by_acc["b"]["errors"] == 1 and by_acc["b"]["output_tokens"] == 12
    hours = mon.hourly(hours=3, now=now)
    assert len(hours) == 3 and sum(h["requests"] for h in hours) == 3 and hours[-1]["errors"] == 1
    rows = list(csv.DictReader(io.StringIO(mon.export("csv").decode())))
    assert len(rows) == 3 and rows[0]["status"] in ("200", "429")
    assert len(json.loads(mon.export("json", status="error"))) == 1
    table = format_table(mon.recent())
    assert "claude->m1" in table and "429" in table


def test_redaction_patterns() -> None:
    text = 'x-api-key: sk-abcdefghijk {"apiKey": "plain", "password": "hunter2"} ?key=AIzaSomething&x=1'
    out = redact_text(text)
    assert "sk-abcdefghijk" not in out and "plain" not in out and "hunter2" not in out and "AIzaSomething" not in out
    assert "&x=1" in out
