from __future__ import annotations

import csv
import io
import json

from trayproxy.monitor.record import COLUMNS
from trayproxy.monitor.report import format_table, to_csv, to_json

ROW = {"id": "abc", "ts": 1_800_000_000.0, "method": "POST", "route": "/v1/messages", "protocol": "anthropic",
       "client_model": "claude-sonnet", "upstream_model": "gemini-2.5-pro", "account_id": "0123456789abcdef",
       "upstream": "google", "status": 200, "outcome": "ok", "duration_ms": 1534.0, "ttfb_ms": 120.0,
       "input_tokens": 1200, "output_tokens": 340, "cached_tokens": 0, "reasoning_tokens": 0, "stream": True,
       "error": None, "user_agent": "claude-cli/1.0"}


def test_table_columns() -> None:
    bad = dict(ROW, id="x", status=502, outcome="error", error="upstream\nbroke off " + "word " * 40 + "END",
               ttfb_ms=None)
    cut = dict(ROW, id="y", outcome="client_disconnect")
    out = format_table([ROW, bad, cut])
    lines = out.splitlines()
    assert lines[0].startswith("time") and "route" in lines[0]
    assert "/v1/messages" in lines[1] and "claude-sonnet->gemini-2.5-pro" in lines[1]
    assert "01234567" in lines[1] and "89abcdef" not in lines[1]
    assert "1.5s" in lines[1] and "120ms" in lines[1] and "1200" in lines[1] and "340" in lines[1]
    # the error in full, newline folded, wrapped under the request
    err_lines = [line.strip() for line in lines[3:] if line.startswith(" ")]
    assert " ".join(err_lines).startswith("upstream broke off word") and " ".join(err_lines).count("END") == 1
    assert "(client disconnect)" in out
    assert all(len(line) <= 120 for line in lines)
    narrow = format_table([ROW, bad], width=80).splitlines()
    assert all(len(line) <= 80 for line in narrow)
    assert any(line.strip().startswith("/v1/messages") for line in narrow)  # the route under the request
    assert "END" in narrow[-1]


def test_table_tolerates_missing_values() -> None:
    out = format_table([{"ts": None, "status": 401}])
    assert "--:--:--" in out and "401" in out
    assert format_table([]).startswith("time")


def test_csv_round_trip() -> None:
    rows = [ROW, dict(ROW, id="b", error='a "quoted", multi\nline error')]
    back = list(csv.DictReader(io.StringIO(to_csv(rows).decode())))
    assert list(back[0]) == list(COLUMNS)
    assert back[1]["error"] == 'a "quoted", multi\nline error' and back[0]["input_tokens"] == "1200"


def test_json_round_trip_with_bodies() -> None:
    rows = [dict(ROW, request_body=b'{"q": 1}', response_body=None)]
    back = json.loads(to_json(rows))
    assert back[0]["request_body"] == '{"q": 1}' and back[0]["stream"] is True and back[0]["ts"] == ROW["ts"]
