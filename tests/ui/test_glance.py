"""The tray's at-a-glance lines (trayproxy/ui/glance.py), from plain data."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

from trayproxy.ui.glance import (
    accounts_line,
    clock,
    header,
    model_line,
    problem_notice,
    problem_words,
    tooltip,
)

NOW = time.time()


def status(**kw: Any) -> Any:
    base = {"running": False, "base_url": "http://127.0.0.1:8045", "error": None, "problem": None,
            "active_accounts": 1}
    base.update(kw)
    return SimpleNamespace(**base)


def test_header_says_state_url_and_why() -> None:
    assert header(status(running=True)) == "Running \u00b7 http://127.0.0.1:8045"
    assert header(status(), starting=True) == "Starting..."
    assert header(status()) == "Stopped"
    p = {"kind": "port", "port": 8045, "reason": "in_use", "message": "Failed ... Address already in use"}
    assert header(status(error="x", problem=p)) == "Stopped: port 8045 is in use by another program"
    assert header(status(error="y" * 80)).endswith("...") and len(header(status(error="y" * 80))) <= 69


def test_problem_words() -> None:
    assert problem_words(None) is None
    assert problem_words({"kind": "no_account"}) == "add a Google account first"
    assert problem_words({"kind": "port", "port": 80, "reason": "denied"}) == "port 80 needs administrator rights"
    assert problem_words({"kind": "other", "message": "boom"}) == "boom"


def test_a_port_problem_names_the_holder_and_the_free_port() -> None:
    p = {"kind": "port", "port": 8045, "reason": "in_use", "suggested_port": 8046,
         "holder": "Antigravity-Manager (antigravity_tools, pid 4242)", "holder_app": "Antigravity-Manager"}
    assert problem_words(p) == "port 8045 is in use by Antigravity-Manager (antigravity_tools, pid 4242)"
    assert problem_notice(p) == ("Port 8045 is in use by Antigravity-Manager (antigravity_tools, pid 4242). "
                                 "Port 8046 is free: use it from the menu. "
                                 "(Antigravity-Manager listens on 8045 by default too.)")
    assert problem_notice(None) is None


def test_accounts_line_with_the_account_view_shape() -> None:
    rows = [
        {"id": "a", "status": "active", "cooldowns": []},
        {"id": "b", "status": "cooling", "cooldowns": [{"model": "*", "until": NOW + 600}]},
        {"id": "c", "status": "cooling", "cooldowns": [{"model": "*", "until": NOW + 300}]},
        {"id": "d", "status": "verify", "cooldowns": []},
        {"id": "e", "status": "disabled", "cooldowns": []},
    ]
    assert accounts_line(rows, NOW) == (
        f"1 active \u00b7 2 cooling, back {clock(NOW + 300)} \u00b7 1 needs verification \u00b7 1 disabled")


def test_accounts_line_with_the_older_shape() -> None:
    rows = [
        {"id": "a", "active": True, "cooldowns": {}},
        {"id": "b", "active": False, "cooldowns": {"*": {"until": NOW + 120, "reason": "rate limited"}}},
        {"id": "c", "active": False, "disabled_reason": "invalid_grant", "cooldowns": {}},
    ]
    assert accounts_line(rows, NOW) == f"1 active \u00b7 1 cooling, back {clock(NOW + 120)} \u00b7 1 disabled"
    assert accounts_line([], NOW) == "No accounts yet"
    assert accounts_line([{"id": "a", "status": "active"}], NOW) == "1 active account"
    assert accounts_line([{"id": "a", "status": "active"}] * 2, NOW) == "2 active accounts"


def test_model_line_uses_the_serving_account_quota() -> None:
    rows = [
        {"id": "a", "models": {"gemini-2.5-flash": {"remaining": 0.35, "reset_time": NOW + 40 * 60}}},
        {"id": "b", "models": {"gemini-2.5-flash": {"remaining": 0.9, "reset_time": NOW + 3 * 3600}}},
    ]
    last = {"upstream_model": "gemini-2.5-flash", "upstream": "google", "account_id": "a"}
    assert model_line(last, rows, NOW) == "Model in use: gemini-2.5-flash \u00b7 35% left, resets in 40 min"
    # served by an account that is gone: the best one left
    last_gone = dict(last, account_id="zzz")
    assert model_line(last_gone, rows, NOW) == "Model in use: gemini-2.5-flash \u00b7 90% left, resets in 3 h 00 min"
    limited = [{"id": "a", "models": {"gemini-2.5-flash": {"remaining": 0.0, "reset_time": NOW + 60,
                                                           "cooldown_until": NOW + 900}}}]
    assert model_line(last, limited, NOW) == (
        f"Model in use: gemini-2.5-flash \u00b7 0% left, rate-limited until {clock(NOW + 900)}")
    assert model_line({"upstream_model": "glm-4.7", "upstream": "zai"}, rows, NOW) == "Model in use: glm-4.7 (z.ai)"
    assert model_line({"upstream_model": "unknown-model", "upstream": "google"}, rows, NOW) == "Model in use: unknown-model"
    assert model_line(None, rows, NOW) is None and model_line({"upstream_model": None}, rows, NOW) is None


def test_tooltip_has_state_url_and_reason() -> None:
    assert tooltip(status(running=True), accounts="2 active") == "trayproxy: running\nhttp://127.0.0.1:8045\n2 active"
    p = {"kind": "no_account"}
    assert tooltip(status(error="e", problem=p, active_accounts=0)) == (
        "trayproxy: stopped (error)\nAdd a Google account first\n0 active accounts")


def test_the_model_line_shows_the_weekly_window_and_the_version_alarm_has_a_line() -> None:
    from trayproxy.ui.glance import version_line

    rows = [{"id": "a", "models": {"gemini-3-flash": {"remaining": 0.65, "reset_time": None}},
             "windows": [{"family": "gemini", "group": "Gemini Models", "five_hour": {"remaining": 0.65},
                          "weekly": {"remaining": 0.12}, "spent_until": None}]}]
    last = {"upstream_model": "gemini-3-flash", "upstream": "google", "account_id": "a"}
    assert model_line(last, rows, NOW) == "Model in use: gemini-3-flash \u00b7 65% left (5 h), weekly 12%"
    assert version_line(status()) is None
    alarm = {"kind": "refused", "version": "2.9.1", "text": "no longer supported", "model": None, "at": NOW}
    st = status(client_version={"alarm": alarm})
    assert version_line(st) == "\u26a0 Google refuses client version 2.9.1: see Settings"
    assert "Google refuses client version 2.9.1" in tooltip(st)
