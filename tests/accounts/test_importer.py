"""Importing accounts from sample Antigravity-Manager and CLIProxyAPI folders through the
Controller (accounts/importer.py), against the fake Google: each file gets a clear state and
line, the chosen ones are imported (disabled ones stay disabled, duplicates and accounts already
here are skipped, revoked ones refused), and the source files stay untouched byte for byte."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.accounts.import_samples import AM_IDS, Samples, sample_world
from tests.fakes.cloudcode import FakeCloudCode
from tests.helpers import make_controller
from trayproxy.controller import Controller
from trayproxy.secrets import refresh_token_name


@pytest.fixture()
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeCloudCode, Controller, Samples]]:
    # the person's home (trayproxy's data dir is tmp_path / "home")
    with sample_world(tmp_path / "user", monkeypatch) as (fake, samples):
        ctl = make_controller(env=fake.env())
        try:
            ctl.add_refresh_token("rt-mine@example.com")  # already signed in to trayproxy
            yield fake, ctl, samples
        finally:
            ctl.close()


def _by_file(scan: dict) -> dict[str, dict]:
    return {Path(c["path"]).name if "team" not in c["path"] else "team/antigravity.json": c
            for c in scan["candidates"]}


def test_scan_says_what_each_file_is(world: tuple[FakeCloudCode, Controller, Samples]) -> None:
    fake, ctl, samples = world
    scan = ctl.scan_imports()
    assert [(s["name"], s["exists"], s["files"]) for s in scan["sources"]] == [
        ("Antigravity-Manager", True, 6), ("CLIProxyAPI", True, 7)]
    c = _by_file(scan)
    state = {name: (row["email"], row["state"]) for name, row in c.items()}
    assert state == {
        f"{AM_IDS['alice']}.json": ("alice@example.com", "ready"),
        f"{AM_IDS['dead']}.json": ("dead@example.com", "refused"),
        f"{AM_IDS['off']}.json": ("off@example.com", "ready"),
        f"{AM_IDS['broken']}.json": (None, "unusable"),
        f"{AM_IDS['notoken']}.json": ("notoken@example.com", "unusable"),
        f"{AM_IDS['mine']}.json": ("mine@example.com", "already"),
        "antigravity-bob@example.com.json": ("bob@example.com", "ready"),
        "antigravity-alice@example.com.json": ("alice@example.com", "duplicate"),
        "antigravity-carol@example.com.json": ("carol@example.com", "ready"),
        "team/antigravity.json": ("eve@example.com", "ready"),  # no e-mail in the file: Google said
        "claude-bob@example.com.json": ("bob@example.com", "unusable"),
        "notes.json": (None, "unusable"),
        "empty.json": (None, "unusable"),
    }
    assert c[f"{AM_IDS['dead']}.json"]["message"].startswith("Google refused its refresh token (revoked or expired)")
    assert c[f"{AM_IDS['off']}.json"]["message"] == (
        "its token refreshes; off in Antigravity-Manager (excluded from the proxy, manual): it stays disabled here")
    assert c["antigravity-alice@example.com.json"]["message"] == (
        f"the same account as ~/.antigravity_tools/accounts/{AM_IDS['alice']}.json: skipped")
    assert c[f"{AM_IDS['broken']}.json"]["message"] == "not valid JSON (line 1, column 29)"
    assert all(c["importable"] == (c["state"] == "ready") for c in scan["candidates"])
    assert "rt-" not in str(scan)  # no refresh token leaves the Controller
    # mine@ (already here) was not refreshed again to be checked; the others once each
    refreshed = [r.account for r in fake.requests if r.rpc == "oauth.token"]
    assert refreshed.count("mine@example.com") == 1 and refreshed.count("bob@example.com") == 1
    assert samples.current() == samples.before


def test_import_the_chosen_ones(world: tuple[FakeCloudCode, Controller, Samples]) -> None:
    fake, ctl, samples = world
    scan = ctl.scan_imports()
    keys = [c["key"] for c in scan["candidates"]]  # everything, importable or not: each gets a result
    results = {Path(r["key"].split(":", 1)[1]).name: r for r in ctl.import_accounts(keys)}
    got = {name: (r["email"], r["result"]) for name, r in results.items()}
    assert got[f"{AM_IDS['alice']}.json"] == ("alice@example.com", "imported")
    assert got[f"{AM_IDS['off']}.json"] == ("off@example.com", "imported_disabled")
    assert got["antigravity-bob@example.com.json"] == ("bob@example.com", "imported")
    assert got["antigravity-carol@example.com.json"] == ("carol@example.com", "imported_disabled")
    assert got["antigravity.json"] == ("eve@example.com", "imported")
    assert got["antigravity-alice@example.com.json"] == ("alice@example.com", "duplicate")
    assert got[f"{AM_IDS['mine']}.json"] == ("mine@example.com", "already")
    assert got[f"{AM_IDS['dead']}.json"][1] == "failed"
    assert "Google rejected this refresh token" in results[f"{AM_IDS['dead']}.json"]["message"]
    assert got["notes.json"] == (None, "unusable") and got[f"{AM_IDS['broken']}.json"][1] == "unusable"
    assert results[f"{AM_IDS['alice']}.json"]["message"] == "imported (tier Google AI Pro, project proj-alice)"

    accounts = {a.email: a for a in ctl.account_records()}
    assert sorted(accounts) == ["alice@example.com", "bob@example.com", "carol@example.com", "eve@example.com",
                                "mine@example.com", "off@example.com"]
    off, carol = accounts["off@example.com"], accounts["carol@example.com"]
    assert off.disabled and off.disabled_by == "user" and "off in Antigravity-Manager" in (off.disabled_reason or "")
    assert carol.disabled and "off in CLIProxyAPI (disabled)" in (carol.disabled_reason or "")
    assert not accounts["alice@example.com"].disabled and accounts["alice@example.com"].project == "proj-alice"
    assert ctl.status().active_accounts == 4  # alice, bob, eve, mine: the disabled ones stay out
    assert ctl.secrets.get(refresh_token_name(accounts["bob@example.com"].id)) == "rt-bob@example.com"
    assert samples.current() == samples.before

    again = ctl.import_accounts([c["key"] for c in scan["candidates"] if c["importable"]])
    assert {r["result"] for r in again} == {"already"}  # a second import changes nothing
    assert len(ctl.account_records()) == 6


def test_a_key_whose_file_went_away(world: tuple[FakeCloudCode, Controller, Samples]) -> None:
    _, ctl, samples = world
    [r] = ctl.import_accounts([f"CLIProxyAPI:{samples.cpa / 'gone.json'}"])
    assert r["result"] == "gone" and "no longer there" in r["message"]


def test_google_unreachable_is_not_a_refusal(world: tuple[FakeCloudCode, Controller, Samples]) -> None:
    fake, ctl, samples = world
    fake.token_unreachable = True
    scan = ctl.scan_imports(str(samples.cpa / "antigravity-bob@example.com.json"))
    [c] = scan["candidates"]
    assert c["state"] == "unchecked" and c["message"].startswith("not checked: ") and not c["importable"]
