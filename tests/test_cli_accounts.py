"""`trayproxy accounts add|list|retry|enable|disable` against the fake Google: onboarding at
add, states and links in the listing, the person's actions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.cloudcode import FakeCloudCode
from trayproxy.cli import main

VERIFY_URL = "https://accounts.google.com/signin/continue?sarp=1&scc=1"


@pytest.fixture()
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCloudCode]:
    f = FakeCloudCode()
    f.add_account("new@example.com", project=None, quota={"gemini-3-flash": 0.9})
    f.add_account("old@example.com", quota={"gemini-3-flash": 0.5})
    with f:
        for k, v in f.env().items():
            monkeypatch.setenv(k, v)
        yield f


def run(*args: str) -> int:
    return main(list(args))


def test_add_onboards_a_new_account_and_says_which_tier(fake: FakeCloudCode, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("accounts", "add", "--refresh-token", "rt-new@example.com") == 0
    out = capsys.readouterr().out
    project = fake.account("new@example.com").project
    assert project and f"project {project}" in out
    assert "Gemini Code Assist for individuals" in out and "onboarded just now" in out
    assert [c.body["tierId"] for c in fake.calls_to("onboardUser")] == ["free-tier", "free-tier"]


def test_list_shows_states_links_and_unknown_quota(fake: FakeCloudCode, capsys: pytest.CaptureFixture[str]) -> None:
    fake.account("old@example.com").quota_unreported.add("claude-sonnet-4-6")
    assert run("accounts", "add", "--refresh-token", "rt-old@example.com") == 0
    fake.account("new@example.com").make_ineligible("Verify your account first.", validation_url=VERIFY_URL)
    assert run("accounts", "add", "--refresh-token", "rt-new@example.com") == 1
    err = capsys.readouterr().err
    assert "Verify your account first." in err and VERIFY_URL in err
    assert run("accounts", "list") == 0
    out = capsys.readouterr().out
    assert f"verify: {VERIFY_URL}" in out and "1 ready · 1 needs verification" in out
    assert "Google asks you to verify this account" in out and "trayproxy accounts retry" in out
    old = out.split("old@example.com")[1]
    assert "gemini-3-flash" in old and " 50%" in old.split("gemini-3-flash")[1].splitlines()[0]
    sonnet = old.split("claude-sonnet-4-6 ")[1].splitlines()[0]
    assert "unknown" in sonnet and "%" not in sonnet


def test_disable_enable_and_retry(fake: FakeCloudCode, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("accounts", "add", "--refresh-token", "rt-old@example.com") == 0
    capsys.readouterr()
    assert run("accounts", "disable", "old@example.com") == 0
    assert "accounts enable" in capsys.readouterr().out
    run("accounts", "list")
    out = capsys.readouterr().out
    assert "state: Disabled by you" in out and "trayproxy accounts enable" in out
    assert run("accounts", "enable", "old@example.com") == 0
    run("accounts", "list")
    assert "state: Ready" in capsys.readouterr().out
    assert run("accounts", "retry", "old@example.com") == 0
    assert "old@example.com: Ready" in capsys.readouterr().out
    assert run("accounts", "retry", "nobody@example.com") == 2
    assert "No account matches" in capsys.readouterr().err


def test_list_shows_both_quota_windows_per_group(fake: FakeCloudCode, capsys: pytest.CaptureFixture[str]) -> None:
    old = fake.account("old@example.com")
    old.set_window("gemini", "weekly", 0.0, reset_in=150 * 3600)
    old.set_window("3p", "5h", None)
    assert run("accounts", "add", "--refresh-token", "rt-old@example.com") == 0
    capsys.readouterr()
    assert run("accounts", "list") == 0
    out = capsys.readouterr().out
    gemini = next(line for line in out.splitlines() if "Gemini Models:" in line)
    assert "5 h 100%" in gemini and "weekly 0%" in gemini and "spent: none of its models until" in gemini
    third = next(line for line in out.splitlines() if "Claude and GPT models:" in line)
    assert "5 h unknown" in third and "weekly 100%" in third


def test_doctor_says_which_client_version_and_what_to_do_when_refused(
        fake: FakeCloudCode, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from trayproxy.paths import app_paths

    assert run("accounts", "add", "--refresh-token", "rt-old@example.com") == 0
    capsys.readouterr()
    assert run("doctor") == 0
    out = capsys.readouterr().out
    assert "client:       antigravity/hub/2.9.1 darwin/arm64 (from trayproxy's built-in minimum)" in out
    state = app_paths().client_version_file
    state.write_text(json.dumps({"learned": "2.9.4", "alarm": {
        "kind": "refused", "version": "2.9.4", "text": "This version of Antigravity is no longer supported.",
        "model": "gemini-3-flash", "at": 1.0}}))
    assert run("doctor") == 1
    out = capsys.readouterr().out
    assert "antigravity/hub/2.9.4 darwin/arm64 (from Antigravity's updater)" in out
    assert "PROBLEM: Google refused the client version trayproxy reports (2.9.4)" in out
    assert "set the version Antigravity reports in Settings" in out
    monkeypatch.setenv("TRAYPROXY_CLIENT_VERSION", "3.0.0")  # the version in use moved on: that refusal is over
    assert run("doctor") == 0
    assert "(from your setting)" in capsys.readouterr().out
