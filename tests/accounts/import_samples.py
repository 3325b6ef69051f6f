"""Sample Antigravity-Manager and CLIProxyAPI folders, written the way those tools write them
(upstream-and-imports.md §1-2, antigravity-proxy-facts.md §6.1): valid, revoked, duplicate,
disabled and malformed files, plus the fake Google accounts behind them.

    home = tmp_path / "home"
    samples = write_samples(home)        # ~/.antigravity_tools and ~/.cli-proxy-api under `home`
    add_sample_accounts(fake)            # the Google side: who exists, who is revoked
    samples.current() == samples.before  # nothing in them changed, byte for byte (and mtime)
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.cloudcode import FakeCloudCode

__all__ = ["Samples", "write_samples", "add_sample_accounts", "fingerprint", "sample_world", "AM_IDS"]

AM_IDS = {
    "alice": "3f6c2a9e-8b1d-4c7e-9a55-0d2b7e41c9aa",
    "dead": "0b8e5d1c-2f3a-4e6b-8c9d-1a2b3c4d5e6f",
    "off": "7d2e9f40-1c3b-4a5d-9e8f-6a7b8c9d0e1f",
    "broken": "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b",
    "notoken": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
    "mine": "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f",
}


@dataclass
class Samples:
    am: Path
    cpa: Path
    before: dict[str, tuple[str, int]]

    def current(self) -> dict[str, tuple[str, int]]:
        """Every file of both tools' folders now (compare with `before`)."""
        return {**fingerprint(self.am, "am/"), **fingerprint(self.cpa, "cpa/")}


def _am_account(key: str, email: str, **extra: Any) -> dict[str, Any]:
    acc: dict[str, Any] = {
        "id": AM_IDS[key], "email": email, "name": email.split("@")[0].title(),
        "token": {"access_token": "ya29.a0FAKE-access-token-for-tests-only", "refresh_token": f"rt-{email}",
                  "expires_in": 3599, "expiry_timestamp": 1787403599, "token_type": "Bearer", "email": email,
                  "project_id": f"proj-{email.split('@')[0]}", "oauth_client_key": "antigravity_enterprise",
                  "is_gcp_tos": False},
        "quota": {"models": [{"name": "gemini-3-flash", "percentage": 100, "reset_time": "2026-08-22T18:00:00Z"}],
                  "last_updated": 1787400000, "is_forbidden": False, "forbidden_reason": None,
                  "subscription_tier": "PRO", "model_forwarding_rules": {}},
        "disabled": False, "proxy_disabled": False, "validation_blocked": False,
        "created_at": 1786000000, "last_used": 1787400000,
    }
    acc.update(extra)
    return acc


def _cpa(email: str, **extra: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"access_token": "ya29.a0FAKE-access-token-for-tests-only", "disabled": False,
                         "email": email, "expired": "2026-08-23T00:32:23+08:00", "expires_in": 3599,
                         "project_id": f"proj-{email.split('@')[0]}", "refresh_token": f"rt-{email}",
                         "timestamp": 1787412744000, "type": "antigravity"}
    d.update(extra)
    return d


def _write(path: Path, data: Any, *, pretty: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=2) if pretty else json.dumps(data, separators=(",", ":"), sort_keys=True)
    path.write_text(text if isinstance(data, (dict, list)) else str(data))
    os.chmod(path, 0o600)


def write_samples(home: Path) -> Samples:
    am, cpa = home / ".antigravity_tools", home / ".cli-proxy-api"
    accounts = am / "accounts"
    # Antigravity-Manager: pretty-printed, one file per account, plus its index and settings
    _write(accounts / f"{AM_IDS['alice']}.json", _am_account("alice", "alice@example.com"), pretty=True)
    _write(accounts / f"{AM_IDS['dead']}.json", _am_account(
        "dead", "dead@example.com", disabled=True, disabled_reason="invalid_grant: Token has been expired or revoked.",
        disabled_at=1787401234), pretty=True)
    _write(accounts / f"{AM_IDS['off']}.json", _am_account(
        "off", "off@example.com", proxy_disabled=True, proxy_disabled_reason="manual"), pretty=True)
    (accounts / f"{AM_IDS['broken']}.json").write_text('{"id": "5e6f7a8b", "email": "broken@exa')  # cut off mid-write
    notoken = _am_account("notoken", "notoken@example.com")
    del notoken["token"]["refresh_token"]
    _write(accounts / f"{AM_IDS['notoken']}.json", notoken, pretty=True)
    _write(accounts / f"{AM_IDS['mine']}.json", _am_account("mine", "mine@example.com"), pretty=True)
    _write(am / "accounts.json", {"version": "2.0", "accounts": [{"id": AM_IDS["alice"], "email": "alice@example.com"}],
                                  "current_account_id": AM_IDS["alice"], "current_target_ide": None}, pretty=True)
    _write(am / "gui_config.json", {"proxy": {"port": 8045, "enabled": True}}, pretty=True)
    # CLIProxyAPI: compact, keys sorted (Go's json.Marshal of a map), every *.json below the folder
    _write(cpa / "antigravity-bob@example.com.json", _cpa("bob@example.com"), pretty=False)
    _write(cpa / "antigravity-alice@example.com.json", _cpa("alice@example.com"), pretty=False)  # AM's alice too
    _write(cpa / "antigravity-carol@example.com.json", _cpa("carol@example.com", disabled=True), pretty=False)
    eve = _cpa("eve@example.com")
    del eve["email"]
    _write(cpa / "team" / "antigravity.json", eve, pretty=False)  # no e-mail in it: Google says whose it is
    _write(cpa / "claude-bob@example.com.json", {"type": "claude", "email": "bob@example.com",
                                                 "refresh_token": "claude-rt"}, pretty=False)
    (cpa / "notes.json").write_text("not json at all\n")
    (cpa / "empty.json").write_text("")
    samples = Samples(am, cpa, {})
    samples.before = samples.current()
    return samples


def add_sample_accounts(fake: FakeCloudCode) -> None:
    """The Google side of the samples: refresh tokens `rt-<email>`; dead@ revoked."""
    for name in ("alice", "bob", "carol", "eve", "off", "mine", "dead"):
        fake.add_account(f"{name}@example.com", quota={"gemini-3-flash": 0.6})
    fake.account("dead@example.com").revoke()


def fingerprint(root: Path, prefix: str = "") -> dict[str, tuple[str, int]]:
    """Every file below root: its SHA-256 and mtime (ns)."""
    out: dict[str, tuple[str, int]] = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            out[prefix + str(p.relative_to(root))] = (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
    return out


@contextmanager
def sample_world(user: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeCloudCode, Samples]]:
    """The samples in `user` (made the home folder: HOME points there, ABV_DATA_DIR unset) and
    the fake Google behind them, running."""
    samples = write_samples(user)
    monkeypatch.setenv("HOME", str(user))
    monkeypatch.delenv("ABV_DATA_DIR", raising=False)
    fake = FakeCloudCode()
    add_sample_accounts(fake)
    with fake:
        yield fake, samples
