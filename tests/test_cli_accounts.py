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
