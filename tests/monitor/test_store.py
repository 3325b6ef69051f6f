from __future__ import annotations

import csv
import io
import json
import logging
import sqlite3
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

from trayproxy.monitor import COLUMNS, Monitor, RequestRecord
from trayproxy.monitor.store import SCHEMA_VERSION

PROXY_KEY = "sk-proxykey-0123456789abcdef"
ACCESS = "ya29.a0AfH6SMBx-secret-access-token"
REFRESH = "1//0gSecretRefreshToken-abcdefghijk"
AIZA = "AIzaSyD-1234567890abcdefghijklmnopqrstuv"
SECRETS = [PROXY_KEY, ACCESS, REFRESH, AIZA]
NOW = 1_800_000_000.0  # fixed clock: no wall-time dependence


def rec(i: int = 0, **kw: Any) -> RequestRecord:
    base: dict[str, Any] = dict(
        id=uuid.uuid4().hex, ts=NOW + i * 1e-3, method="POST", route="/v1/chat/completions", protocol="openai",
        client_model="gpt-4o", upstream_model="gemini-2.5-flash", account_id="acc-1", upstream="google",
        status=200, outcome="ok", duration_ms=12.5, ttfb_ms=3.0, input_tokens=10, output_tokens=5,
        cached_tokens=2, reasoning_tokens=1, stream=False,
    )
    base.update(kw)
    return RequestRecord(**base)


@pytest.fixture()
def mon(tmp_path: Path):
    m = Monitor(tmp_path / "monitor.db", secrets=lambda: SECRETS[:1])
    m.start()
    yield m
    m.close()


def _all(m: Monitor, page: int = 97, **filters: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    last: dict[str, Any] | None = None
    while True:
        rows = m.recent(limit=page, before_ts=last["ts"] if last else None, before_id=last["id"] if last else None,
                        **filters)
        out += rows
        if len(rows) < page:
            return out
        last = rows[-1]


def _mixed(i: int) -> RequestRecord:
    kind = i % 10
    stream = i % 2 == 0
    if kind in (0, 1, 2, 3):
        return rec(i, stream=stream, input_tokens=i, output_tokens=2 * i, cached_tokens=i % 7, reasoning_tokens=i % 3)
    if kind == 4:
        return rec(i, status=400, outcome="rejected", input_tokens=0, output_tokens=0, cached_tokens=0,
                   reasoning_tokens=0, error="bad request", stream=stream)
    if kind == 5:
        return rec(i, status=401, outcome="rejected", upstream_model=None, account_id=None, input_tokens=0,
                   output_tokens=0, cached_tokens=0, reasoning_tokens=0, error="invalid API key", stream=stream)
    if kind == 6:
        return rec(i, status=502, outcome="error", input_tokens=i, output_tokens=0, cached_tokens=0,
                   reasoning_tokens=0, error="upstream 500", ttfb_ms=None, stream=stream)
    if kind == 7:  # 200 started, then the upstream stream broke
        return rec(i, status=200, outcome="error", stream=True, input_tokens=i, output_tokens=3, cached_tokens=0,
                   reasoning_tokens=0, error="upstream stream broke")
    if kind == 8:  # client went away mid-stream: the tokens seen so far
        return rec(i, status=200, outcome="client_disconnect", stream=True, input_tokens=i, output_tokens=4,
                   cached_tokens=1, reasoning_tokens=0, error="client closed")
    return rec(i, status=200, outcome="shutdown", stream=True, input_tokens=i, output_tokens=6, cached_tokens=0,
               reasoning_tokens=2, error="trayproxy stopped")


def test_thousand_mixed_requests_give_thousand_rows(mon: Monitor) -> None:
    recs = [_mixed(i) for i in range(1000)]
    by_id = {r.id: (r.status, r.outcome, r.input_tokens, r.output_tokens, r.cached_tokens, r.reasoning_tokens,
                    r.stream) for r in recs}
    for r in recs:
        mon.record(r)
    mon.flush()
    rows = _all(mon)
    assert len(rows) == 1000 and {r["id"] for r in rows} == set(by_id)
    for r in rows:
        assert by_id[r["id"]] == (r["status"], r["outcome"], r["input_tokens"], r["output_tokens"],
                                  r["cached_tokens"], r["reasoning_tokens"], r["stream"])
    s = mon.summary()
    assert s["requests"] == 1000
    assert s["input_tokens"] == sum(r.input_tokens for r in recs)
    assert s["output_tokens"] == sum(r.output_tokens for r in recs)
    assert s["cached_tokens"] == sum(r.cached_tokens for r in recs)
    assert s["reasoning_tokens"] == sum(r.reasoning_tokens for r in recs)
    # errors: 400, 401, 502, stream broken, shutdown (a client hanging up is not an error)
    assert s["errors"] == 500
    assert len(_all(mon, status="error")) == 500
    assert len(_all(mon, status="ok")) == 400
    assert len(_all(mon, status="client_disconnect")) == 100
    assert len(_all(mon, status="401")) == 100 and len(_all(mon, status=502)) == 100
    assert mon.dropped == 0


def test_pagination_does_not_skip_rows_sharing_a_timestamp(mon: Monitor) -> None:
    for _ in range(30):
        mon.record(rec(0))  # all the same ts
    mon.flush()
    assert len(_all(mon, page=7)) == 30
    first = mon.recent(limit=10)
    assert len(mon.recent(limit=100, before_ts=first[-1]["ts"])) == 0  # plain before_ts is strict


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


def _db_bytes(d: Path) -> bytes:
    return b"".join(f.read_bytes() for f in d.iterdir() if f.name.startswith("monitor.db"))


@pytest.mark.parametrize("store_bodies", [False, True])
@pytest.mark.parametrize("closed", [False, True])
def test_no_secret_reaches_the_database_file(tmp_path: Path, store_bodies: bool, closed: bool) -> None:
    m = Monitor(tmp_path / "monitor.db", store_bodies=store_bodies, secrets=lambda: [PROXY_KEY, "plain-zai-key-xyz"])
    m.start()
    body = json.dumps({
        "api_key": "my-own-plain-key", "apiKey": "k2-plain", "key": "k3-plain", "access_token": "tok-plain-1",
        "refresh_token": REFRESH, "authorization": "Basic plainauth", "x-api-key": "xapi-plain",
        "x-goog-api-key": "xgoog-plain", "client_secret": "csecret-plain", "password": "hunter2-plain",
        "id_token": "idtok-plain", "messages": [{"content": f"use {ACCESS} and {AIZA} and plain-zai-key-xyz"}],
    }).encode()
    for i in range(20):
        m.record(rec(
            i, error=f"upstream said Bearer {ACCESS} was bad; key {PROXY_KEY}; refresh {REFRESH}",
            user_agent=f"client/1.0 (key={PROXY_KEY}) {AIZA}",
            route=f"/v1beta/models/x:generateContent?key={PROXY_KEY}",
            client_model=f"model-{AIZA}",
            request_body=body, response_body=b"Authorization: Bearer " + PROXY_KEY.encode() + b"\n" + REFRESH.encode(),
        ))
    m.flush()
    if closed:
        m.close()
    blob = _db_bytes(tmp_path)
    plains = ["my-own-plain-key", "k2-plain", "k3-plain", "tok-plain-1", "plainauth", "xapi-plain", "xgoog-plain",
              "csecret-plain", "hunter2-plain", "idtok-plain", "plain-zai-key-xyz"]
    for s in [*SECRETS, *plains]:
        assert s.encode() not in blob, (store_bodies, s)
    got = Monitor(tmp_path / "monitor.db").get(m.recent(limit=1)[0]["id"])
    assert got is not None and got["route"] == "/v1beta/models/x:generateContent"
    if store_bodies:
        assert "[REDACTED]" in got["request_body"] and "messages" in got["request_body"]
        assert "[REDACTED]" in got["response_body"]
    else:
        assert got["request_body"] is None and got["response_body"] is None
        with sqlite3.connect(tmp_path / "monitor.db") as c:
            assert c.execute("SELECT COUNT(*) FROM bodies").fetchone()[0] == 0
    m.close()


def test_bodies_follow_the_setting_live(tmp_path: Path) -> None:
    m = Monitor(tmp_path / "m.db")
    m.start()
    a = rec(0, request_body=b'{"q":1}', response_body=b'{"a":2}')
    m.record(a)
    m.configure(store_bodies=True)
    b = rec(1, request_body=b'{"q":1}', response_body=b'{"a":2}')
    m.record(b)
    m.close()
    ga, gb = m.get(a.id), m.get(b.id)
    assert ga is not None and ga["request_body"] is None
    assert gb is not None and gb["request_body"] == '{"q":1}' and gb["response_body"] == '{"a":2}'
    assert m.get("nope") is None


def test_body_cap(tmp_path: Path) -> None:
    m = Monitor(tmp_path / "m.db", store_bodies=True, body_cap=1000)
    m.start()
    r = rec(request_body=b"x" * 5000, response_body=b"short")
    m.record(r)
    m.close()
    got = Monitor(tmp_path / "m.db").get(r.id)
    assert got is not None and got["request_body"].startswith("x" * 1000) and "truncated 4000 bytes" in got["request_body"]
    assert len(got["request_body"].encode()) < 1100 and got["response_body"] == "short"


def test_retention_by_days_and_rows_deletes_exactly_the_oldest(tmp_path: Path) -> None:
    m = Monitor(tmp_path / "m.db", retention_days=7, max_rows=100, store_bodies=True)
    m.start()
    old = [rec(ts=NOW - 10 * 86400 - i, request_body=b"old") for i in range(10)]
    young = [rec(ts=NOW - 1000 + i, request_body=b"young") for i in range(150)]
    for r in old + young:
        m.record(r)
    m.flush()
    # the row limit already held while writing: the 60 oldest are gone before any retention run
    rows = _all(m)
    assert {r["id"] for r in rows} == {r.id for r in young[50:]}
    assert m.apply_retention(now=NOW) == 0
    with sqlite3.connect(tmp_path / "m.db") as c:
        assert c.execute("SELECT COUNT(*) FROM bodies").fetchone()[0] == 100
    m.configure(retention_days=1)
    assert m.apply_retention(now=NOW + 86400 - 1000 + 75.5) == 26  # young[50..75]: ts < cutoff only
    m.close()


def test_retention_runs_at_start(tmp_path: Path) -> None:
    m = Monitor(tmp_path / "m.db")
    m.start()
    m.record(rec(ts=1000.0))  # 1970: far past any retention
    m.close()
    m2 = Monitor(tmp_path / "m.db")
    m2.start()
    assert m2.recent() == []
    m2.close()


def test_disabled_records_nothing_and_after_close_is_harmless(tmp_path: Path) -> None:
    m = Monitor(tmp_path / "m.db", enabled=False)
    m.start()
    m.record(rec())
    m.flush()
    assert m.recent() == [] and m.summary()["requests"] == 0
    assert not (tmp_path / "m.db").exists()  # disabled: not even a file
    m.configure(enabled=True)
    m.record(rec())
    m.close()
    m.record(rec())  # no exception, nothing written
    m.flush()
    m.close()
    assert len(Monitor(tmp_path / "m.db").recent()) == 1


def test_queries_on_a_missing_database_are_empty(tmp_path: Path) -> None:
    m = Monitor(tmp_path / "none.db")
    assert m.recent() == [] and m.get("x") is None and m.totals("protocol") == []
    assert m.summary()["requests"] == 0 and m.apply_retention() == 0 and m.clear() == 0
    assert not (tmp_path / "none.db").exists()


def test_schema_version_and_wal(mon: Monitor) -> None:
    with sqlite3.connect(mon.db_path) as c:
        assert c.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        idx = {r[1] for r in c.execute("PRAGMA index_list(requests)")}
        assert "requests_ts" in idx
        assert not {"requests_status", "requests_account", "requests_model"} & idx


def test_indexes_an_older_log_had_on_status_account_and_model_are_dropped(tmp_path: Path) -> None:
    """Each cost every insert; a log written by an older version loses them at the next start."""
    db = tmp_path / "old.db"
    m = Monitor(db)
    m.start()
    m.close()
    with sqlite3.connect(db) as c:
        for name, col in (("requests_status", "status"), ("requests_account", "account_id"),
                          ("requests_model", "upstream_model")):
            c.execute(f"CREATE INDEX {name} ON requests({col})")
    m = Monitor(db)
    m.start()
    m.record(rec(1))
    m.flush()
    m.close()
    with sqlite3.connect(db) as c:
        idx = {r[1] for r in c.execute("PRAGMA index_list(requests)")}
        assert c.execute("SELECT COUNT(*) FROM requests").fetchone()[0] == 1
    assert "requests_ts" in idx and not {"requests_status", "requests_account", "requests_model"} & idx


def test_filters_totals_hourly_summary_export_clear(mon: Monitor) -> None:
    hour = NOW - NOW % 3600
    mon.record(rec(ts=hour - 7200 + 5, account_id="a", protocol="anthropic", client_model="claude",
                   upstream_model="m1", input_tokens=100))
    mon.record(rec(ts=hour + 10, account_id="b", protocol="openai", upstream_model="m2", status=429, outcome="error"))
    mon.record(rec(ts=hour + 20, account_id="b", protocol="gemini", upstream_model="m2", output_tokens=7))
    mon.flush()
    assert [r["account_id"] for r in mon.recent(account_id="b")] == ["b", "b"]
    assert len(mon.recent(protocol="anthropic")) == 1 and len(mon.recent(model="m2")) == 2
    assert len(mon.recent(model="claude")) == 1 and len(mon.recent(before_ts=hour)) == 1
    with pytest.raises(ValueError):
        mon.recent(status="bogus")
    by_acc = {r["key"]: r for r in mon.totals("account_id")}
    assert by_acc["b"]["requests"] == 2 and by_acc["b"]["errors"] == 1 and by_acc["b"]["output_tokens"] == 12
    assert by_acc["a"]["input_tokens"] == 100 and by_acc["a"]["errors"] == 0
    assert {r["key"] for r in mon.totals("upstream_model")} == {"m1", "m2"}
    assert {r["key"] for r in mon.totals("client_model")} == {"claude", "gpt-4o"}
    assert {r["key"] for r in mon.totals("protocol")} == {"anthropic", "openai", "gemini"}
    with pytest.raises(ValueError):
        mon.totals("error; DROP TABLE requests")
    hours = mon.hourly(hours=3, now=hour + 100)
    assert [h["hour_ts"] for h in hours] == [hour - 7200, hour - 3600, hour]
    assert [h["requests"] for h in hours] == [1, 0, 2] and [h["errors"] for h in hours] == [0, 0, 1]
    assert hours[0]["input_tokens"] == 100 and hours[2]["output_tokens"] == 12
    assert mon.summary() == {"requests": 3, "errors": 1, "input_tokens": 120, "output_tokens": 17,
                             "cached_tokens": 6, "reasoning_tokens": 3}
    rows = list(csv.DictReader(io.StringIO(mon.export("csv").decode())))
    assert len(rows) == 3 and {r["status"] for r in rows} == {"200", "429"}
    exported = json.loads(mon.export("json", status="error"))
    assert len(exported) == 1 and exported[0]["status"] == 429 and exported[0]["stream"] is False
    assert len(json.loads(mon.export("json", account_id="b", limit=1))) == 1
    with pytest.raises(ValueError):
        mon.export("xml")
    assert mon.clear() == 3 and mon.recent() == [] and mon.summary()["requests"] == 0


def test_cleared_rows_leave_no_trace_in_the_file(tmp_path: Path) -> None:
    m = Monitor(tmp_path / "monitor.db", store_bodies=True)
    m.start()
    for i in range(50):
        m.record(rec(i, error="distinctive-error-text", request_body=b"distinctive-body-text"))
    m.flush()
    assert m.clear() == 50
    m.close()
    blob = _db_bytes(tmp_path)
    assert b"distinctive-error-text" not in blob and b"distinctive-body-text" not in blob


def test_record_before_start_is_written_at_start(tmp_path: Path) -> None:
    m = Monitor(tmp_path / "m.db")
    m.record(rec())
    m.start()
    m.flush()
    assert len(m.recent()) == 1
    m.close()


def test_odd_values_are_normalised_not_fatal(mon: Monitor) -> None:
    weird = rec(input_tokens=None, output_tokens="12", cached_tokens=10**30, reasoning_tokens=-3, ttfb_ms="x",
                status="404", route="/v1/x?key=abc")
    good = rec(1)
    mon.record(weird)
    mon.record(good)
    mon.flush()
    got = mon.get(weird.id)
    assert got is not None and got["input_tokens"] == 0 and got["output_tokens"] == 12 and got["reasoning_tokens"] == 0
    assert got["cached_tokens"] > 0 and got["ttfb_ms"] is None and got["status"] == 404 and got["route"] == "/v1/x"
    assert mon.get(good.id) is not None and mon.dropped == 0


def test_one_unwritable_record_does_not_cost_its_batch(mon: Monitor) -> None:
    recs = [rec(i) for i in range(50)]
    recs[17].ts = "not a time"  # type: ignore[assignment]
    for r in recs:
        mon.record(r)
    mon.flush()
    assert mon.summary()["requests"] == 49 and mon.dropped == 1


class _Broken:
    """A write connection whose every write fails like a full disk."""

    def __init__(self, real: sqlite3.Connection) -> None:
        self.real = real
        self.fail = True

    def __enter__(self) -> _Broken:
        return self

    def __exit__(self, *a: object) -> None:
        if a[0] is None:
            self.real.commit()
        else:
            self.real.rollback()

    def executemany(self, *a: Any) -> Any:
        if self.fail:
            raise sqlite3.OperationalError("database or disk is full")
        return self.real.executemany(*a)

    def execute(self, *a: Any) -> Any:
        if self.fail:
            raise sqlite3.OperationalError("database or disk is full")
        return self.real.execute(*a)

    def close(self) -> None:
        self.real.close()


def test_disk_full_is_survived_counted_and_logged_once(mon: Monitor, caplog: pytest.LogCaptureFixture) -> None:
    mon.record(rec(0))
    mon.flush()
    broken = _Broken(mon._conn)  # type: ignore[arg-type]
    mon._conn = broken  # type: ignore[assignment]
    caplog.set_level(logging.ERROR, logger="trayproxy.monitor")
    for i in range(5):
        mon.record(rec(i + 1))
        mon.flush()
    assert mon.dropped == 5
    assert len([r for r in caplog.records if r.name == "trayproxy.monitor" and r.levelno >= logging.ERROR]) == 1
    broken.fail = False
    mon.record(rec(10))
    mon.flush()
    assert mon.summary()["requests"] == 2


def test_unopenable_database_does_not_raise_and_recovers(tmp_path: Path) -> None:
    (tmp_path / "m.db").mkdir()  # a directory where the file should be: cannot be opened
    m = Monitor(tmp_path / "m.db")
    m.start()
    m.record(rec())
    m.flush(timeout=2)
    assert m.dropped == 1 and m.recent() == []
    (tmp_path / "m.db").rmdir()  # the disk comes back
    m.record(rec())
    m.flush(timeout=2)
    assert len(m.recent()) == 1 and m.dropped == 1
    m.close()


def test_secrets_are_looked_up_off_the_request_thread_and_may_fail(tmp_path: Path) -> None:
    callers: list[int] = []

    def secrets() -> list[str]:
        callers.append(threading.get_ident())
        if len(callers) == 1:
            raise RuntimeError("keychain locked")
        return ["plain-zai-key-xyz"]

    m = Monitor(tmp_path / "monitor.db", secrets=secrets)
    m.start()
    m.record(rec(0, error=f"bad key {PROXY_KEY}"))  # first lookup fails: shape patterns still apply
    m.flush()
    m.record(rec(1, error="bad key plain-zai-key-xyz"))
    m.close()
    assert callers and threading.get_ident() not in callers
    assert [r["error"] for r in m.recent()] == ["bad key [REDACTED]", "bad key [REDACTED]"]
    assert m.dropped == 0


def test_row_limit_holds_while_writing(tmp_path: Path) -> None:
    """Regression (attack run): the row limit held only at the hourly retention."""
    m = Monitor(tmp_path / "m.db", max_rows=100)
    m.start()
    for i in range(1200):
        m.record(rec(ts=NOW + i))
        if i % 97 == 0:
            m.flush()
            assert len(_all(m)) <= 100
    m.flush()
    rows = _all(m)
    assert len(rows) == 100 and min(r["ts"] for r in rows) == NOW + 1100
    m.close()


def test_refused_requests_are_counted_not_logged(tmp_path: Path) -> None:
    m = Monitor(tmp_path / "m.db")
    m.start()
    for i in range(5000):
        m.count_refused("origin", "http://evil.example", 403, ts=NOW + i)
    m.count_refused("auth", None, 401, ts=NOW)
    m.count_refused("origin", "http://caf\udce9.example", 403, ts=NOW)  # bytes that were not UTF-8
    m.flush()
    assert _all(m) == []  # no request rows
    got = {(r["kind"], r["origin"], r["status"]): r for r in m.refused()}
    assert got[("origin", "http://evil.example", 403)]["count"] == 5000
    assert got[("origin", "http://evil.example", 403)]["last_ts"] == NOW + 4999
    assert got[("auth", "-", 401)]["count"] == 1
    assert ("origin", "http://caf\ufffd.example", 403) in got
    m.count_refused("origin", "http://evil.example", 403, ts=NOW + 9999)
    m.flush()
    assert {r["origin"]: r["count"] for r in m.refused()}["http://evil.example"] == 5001
    m.clear()
    assert m.refused() == []
    m.close()


def test_refused_origins_are_bounded(tmp_path: Path) -> None:
    from trayproxy.monitor.refused import MAX_KEYS, OTHER

    m = Monitor(tmp_path / "m.db")
    m.start()
    for i in range(MAX_KEYS + 50):
        m.count_refused("origin", f"http://site{i}.example", 403, ts=NOW)
    m.flush()
    rows = m.refused(limit=10 * MAX_KEYS)
    assert len(rows) <= MAX_KEYS + 1 and sum(r["count"] for r in rows) == MAX_KEYS + 50
    assert any(r["origin"] == OTHER for r in rows)
    m.close()


@pytest.mark.parametrize("user_agent,error,route", [
    ("OpenAI/Python 1.99.0", None, "/v1/chat/completions"),
    ("curl sk-secretvalue1234567890", None, "/v1/chat/completions"),
    ("claude-cli", "upstream said: Bearer abcdefghijklmnop", "/v1/messages"),
    ("ua", "the key was SEKRIT-KEY-123", "/v1beta/models/gemini-3-flash:generateContent"),
    ("ua \u00e9t\u00e9", "x" * 2000, "/r\u00e9sum\u00e9"),
])
def test_a_row_is_redacted_alike_whether_it_takes_the_quick_look_or_not(tmp_path: Path, user_agent: str,
                                                                      error: str | None, route: str) -> None:
    from trayproxy.monitor.redact import redact_text, secret_forms

    mon = Monitor(tmp_path / "m.db")
    rec = RequestRecord(id="r1", ts=1.0, method="POST", route=route + "?key=AIzaSyD-1234567890abcdefghijklmnopqrstuv",
                        protocol="openai", client_model="gemini-3-flash", upstream_model="gemini-3-flash",
                        account_id="acc-1", upstream="google", status=200, outcome="ok", duration_ms=1.0,
                        ttfb_ms=None, error=error, user_agent=user_agent)
    secrets = ["SEKRIT-KEY-123"]
    row, _ = mon._prepare(rec, secret_forms(secrets), False)
    cols = dict(zip(COLUMNS, row, strict=True))
    assert cols["route"] == redact_text(route, secrets)
    assert cols["user_agent"] == redact_text(user_agent, secrets)[:300]
    assert cols["error"] == (None if error is None else redact_text(error, secrets)[:1000])
    assert "SEKRIT" not in str(row) and "sk-secret" not in str(row) and "abcdefghijklmnop" not in str(row)


def test_a_remembered_clean_row_text_is_looked_at_again_when_the_secrets_change(tmp_path: Path) -> None:
    """The writer remembers, per distinct row text, that it needs no redaction; a new secret
    (the key changed) must not let that text through unredacted."""
    from trayproxy.monitor.redact import secret_forms

    mon = Monitor(tmp_path / "m.db")
    r = rec(1, user_agent="client NEWSECRET-4242")
    row, _ = mon._prepare(r, secret_forms(["OLDSECRET-1111"]), False)
    assert dict(zip(COLUMNS, row, strict=True))["user_agent"] == "client NEWSECRET-4242"
    again, _ = mon._prepare(rec(2, user_agent="client NEWSECRET-4242"), secret_forms(["NEWSECRET-4242"]), False)
    assert dict(zip(COLUMNS, again, strict=True))["user_agent"] == "client [REDACTED]"


def test_client_text_is_stored_and_read_with_its_controls_escaped(tmp_path: Path) -> None:
    """Regression (issue #27, finding 5): routes were stored and printed raw, so any web page
    could plant terminal escape sequences in the request log with an `<img src>` GET. Every
    text column is stored with its control characters escaped, and rows an older version stored
    raw are escaped when read."""
    m = Monitor(tmp_path / "monitor.db")
    m.start()
    try:
        m.record(rec(route="/v1/\x1b]0;pwned\x07\x1b[2J", user_agent="curl\x9b31m\u202eevil", error="bad\nline",
                     client_model="m\x1b[5m"))
        m.flush()
        conn = sqlite3.connect(tmp_path / "monitor.db")
        (stored,) = conn.execute("SELECT route FROM requests").fetchone()
        assert stored == "/v1/\\x1b]0;pwned\\x07\\x1b[2J"
        conn.execute("INSERT INTO requests (id, ts, method, route, status, outcome) VALUES "
                     "('old', ?, 'GET', ?, 404, 'error')", (NOW + 10, "/old/\x1b[31mred"))
        conn.commit()
        conn.close()
        rows = m.recent(limit=5)
        assert rows[0]["route"] == "/old/\\x1b[31mred"
        assert rows[1]["user_agent"] == "curl\\x9b31m\\u202eevil" and rows[1]["error"] == "bad\\x0aline"
        assert rows[1]["client_model"] == "m\\x1b[5m"
        assert m.get("old")["route"] == "/old/\\x1b[31mred"  # type: ignore[index]
        export = m.export("csv").decode() + m.export("json").decode()
        assert "\x1b" not in export
    finally:
        m.close()
