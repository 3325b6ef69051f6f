"""The tray's at-a-glance lines (trayproxy/ui/glance.py), from plain data: the summary and quota
words of the page and `accounts list` (accounts/words.py), in English and in German."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

from trayproxy.i18n import ENGLISH, translator
from trayproxy.ui.glance import accounts_line, header, model_line, problem_notice, problem_words, tooltip

NOW = time.time()
DE = translator("de")
clock = ENGLISH.clock


def status(**kw: Any) -> Any:
    base = {"running": False, "base_url": "http://127.0.0.1:8045", "error": None, "problem": None,
            "active_accounts": 1, "accounts": []}
    base.update(kw)
    return SimpleNamespace(**base)


def test_header_says_state_url_and_why() -> None:
    assert header(status(running=True)) == "Running \u00b7 http://127.0.0.1:8045"
    assert header(status(), starting=True) == "Starting\u2026"
    assert header(status()) == "Stopped"
    p = {"kind": "port", "port": 8045, "reason": "in_use", "message": "Failed ... Address already in use"}
    assert header(status(error="x", problem=p)) == "Stopped: Port 8045 is in use by another program"
    assert header(status(error="y" * 80)).endswith("\u2026") and len(header(status(error="y" * 80))) <= 69
    assert header(status(running=True), tr=DE) == "Läuft \u00b7 http://127.0.0.1:8045"


def test_problem_words() -> None:
    assert problem_words(None) is None
    assert problem_words({"kind": "no_account"}) == "Add a Google account first"
    assert problem_words({"kind": "port", "port": 80, "reason": "denied"}) == "Port 80 needs administrator rights"
    assert problem_words({"kind": "other", "message": "boom"}) == "boom"


def test_a_port_problem_names_the_holder_and_the_free_port() -> None:
    p = {"kind": "port", "port": 8045, "reason": "in_use", "suggested_port": 8046,
         "holder": "Antigravity-Manager (antigravity_tools, pid 4242)", "holder_app": "Antigravity-Manager"}
    assert problem_words(p) == "Port 8045 is in use by Antigravity-Manager (antigravity_tools, pid 4242)"
    assert problem_notice(p) == ("Port 8045 is in use by Antigravity-Manager (antigravity_tools, pid 4242). "
                                 "Port 8046 is free: use it from the menu. "
                                 "(Antigravity-Manager listens on 8045 by default too.)")
    assert problem_notice(None) is None
    german = problem_notice(p, DE) or ""
    assert "Antigravity-Manager (antigravity_tools, pid 4242)" in german and "8046" in german
    assert "is free" not in german and "listens on" not in german


def test_accounts_line_is_the_summary_of_the_views() -> None:
    rows = [
        {"id": "a", "status": "active", "cooldowns": []},
        {"id": "b", "status": "cooling", "cooldowns": [{"model": "*", "until": NOW + 600}]},
        {"id": "c", "status": "cooling", "cooldowns": [{"model": "*", "until": NOW + 300}]},
        {"id": "d", "status": "verify", "cooldowns": []},
        {"id": "e", "status": "disabled", "cooldowns": []},
        {"id": "f", "status": "not_eligible", "cooldowns": []},
    ]
    assert accounts_line(rows) == (
        f"1 ready \u00b7 2 resting until {clock(NOW + 300)} \u00b7 1 needs verification \u00b7 1 disabled"
        " \u00b7 1 not eligible")
    assert accounts_line([]) == "No account yet"
    assert accounts_line([{"id": "a", "status": "active"}]) == "1 account ready"
    assert accounts_line([{"id": "a", "status": "active"}] * 2) == "2 accounts ready"
    assert accounts_line([{"id": "a", "status": "active"}] * 2, DE) == "2 Konten bereit"
    assert accounts_line(rows[3:5], DE) == "0 bereit \u00b7 1 muss bestätigt werden \u00b7 1 deaktiviert"


def test_model_line_uses_the_serving_account_quota() -> None:
    reset_a, reset_b = NOW + 40 * 60, NOW + 3 * 3600
    rows = [
        {"id": "a", "models": {"gemini-2.5-flash": {"remaining": 0.35, "reset_time": reset_a}}},
        {"id": "b", "models": {"gemini-2.5-flash": {"remaining": 0.9, "reset_time": reset_b}}},
    ]
    last = {"upstream_model": "gemini-2.5-flash", "upstream": "google", "account_id": "a"}
    assert model_line(last, rows, NOW) == f"Model in use: gemini-2.5-flash \u00b7 35% left \u00b7 resets at {clock(reset_a)}"
    # served by an account that is gone: the best one left
    last_gone = dict(last, account_id="zzz")
    assert model_line(last_gone, rows, NOW) == f"Model in use: gemini-2.5-flash \u00b7 90% left \u00b7 resets at {clock(reset_b)}"
    # a rate limit with quota left says both, without contradicting itself
    limited = [{"id": "a", "models": {"gemini-2.5-flash": {"remaining": 1.0, "reset_time": NOW + 60,
                                                           "cooldown_until": NOW + 900, "cooldown_kind": "rate_limit"}}}]
    assert model_line(last, limited, NOW) == (
        f"Model in use: gemini-2.5-flash \u00b7 100% left, but rate-limited until {clock(NOW + 900)}")
    spent = [{"id": "a", "models": {"gemini-2.5-flash": {"remaining": 0.0, "cooldown_until": NOW + 900,
                                                         "cooldown_kind": "quota"}}}]
    assert model_line(last, spent, NOW) == f"Model in use: gemini-2.5-flash \u00b7 out of quota until {clock(NOW + 900)}"
    assert model_line({"upstream_model": "glm-4.7", "upstream": "zai"}, rows, NOW) == "Model in use: glm-4.7 (z.ai)"
    assert model_line({"upstream_model": "unknown-model", "upstream": "google"}, rows, NOW) == "Model in use: unknown-model"
    assert model_line(None, rows, NOW) is None and model_line({"upstream_model": None}, rows, NOW) is None
    assert model_line(last, rows, NOW, DE) == (
        f"Modell in Verwendung: gemini-2.5-flash \u00b7 {DE.percent(0.35)} übrig \u00b7 wird um {DE.clock(reset_a)} zurückgesetzt")


def test_tooltip_has_state_url_and_reason() -> None:
    assert tooltip(status(running=True), accounts="2 ready") == "trayproxy: running\nhttp://127.0.0.1:8045\n2 ready"
    p = {"kind": "no_account"}
    # no account yet is the normal first run: stopped, not an error
    assert tooltip(status(error="e", problem=p, active_accounts=0)) == (
        "trayproxy: stopped\nAdd a Google account first\nNo account yet")


def test_the_model_line_shows_the_weekly_window_and_the_version_alarm_has_a_line() -> None:
    from trayproxy.ui.glance import version_line

    rows = [{"id": "a", "models": {"gemini-3-flash": {"remaining": 0.65, "reset_time": None}},
             "windows": [{"family": "gemini", "group": "Gemini Models", "five_hour": {"remaining": 0.65},
                          "weekly": {"remaining": 0.12}, "spent_until": None}]}]
    last = {"upstream_model": "gemini-3-flash", "upstream": "google", "account_id": "a"}
    assert model_line(last, rows, NOW) == "Model in use: gemini-3-flash \u00b7 65% left (5 h), weekly 12%"
    german = model_line(last, rows, NOW, DE) or ""
    assert "65" in german and "12" in german and "weekly" not in german and "left" not in german
    assert version_line(status()) is None
    alarm = {"kind": "refused", "version": "2.9.1", "text": "no longer supported", "model": None, "at": NOW}
    st = status(client_version={"alarm": alarm})
    assert version_line(st) == "\u26a0 Google refuses client version 2.9.1: see Settings"
    assert "Google refuses client version 2.9.1" in tooltip(st)
    assert "2.9.1" in (version_line(st, DE) or "") and "refuses" not in (version_line(st, DE) or "")
