"""Bringing accounts over from Antigravity-Manager and CLIProxyAPI, on the engine loop.

1. `check` (what the person sees before choosing): every file import_sources.py read becomes a
   Candidate with a state and one line saying it: `ready` (Google refreshed its token just now),
   `already` (an account with that e-mail is in trayproxy), `duplicate` (the same e-mail earlier
   in the list), `refused` (Google refused the token: revoked, expired, or issued to another
   OAuth client), `unchecked` (Google could not be reached) or `unusable` (the file itself: not
   JSON, another provider's, no token). Accounts already here are not refreshed at all.
2. `import_chosen` (what the person chose, by key): the files are read again, and each chosen
   account is added through AccountService.import_account: a refresh, the e-mail from Google,
   never replacing an account already here, kept disabled when the tool had it off. Each gets
   a result line; one that fails does not stop the others.
3. The source files are only read (import_sources.py); refresh tokens go to the keychain
   through the store and appear in no result.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from trayproxy.accounts.import_sources import Found, Source
from trayproxy.accounts.oauth import OAuthClient, OAuthError
from trayproxy.accounts.service import AccountError, AccountExists, AccountService
from trayproxy.accounts.store import AccountStore

__all__ = ["Candidate", "check", "import_chosen", "READY", "ALREADY", "DUPLICATE", "REFUSED", "UNCHECKED",
           "UNUSABLE"]

READY, ALREADY, DUPLICATE, REFUSED, UNCHECKED, UNUSABLE = (
    "ready", "already", "duplicate", "refused", "unchecked", "unusable")
CONCURRENCY = 4  # refreshes in flight at once while checking


@dataclass
class Candidate:
    found: Found
    state: str
    message: str
    email: str | None = None

    @property
    def importable(self) -> bool:
        return self.state == READY

    def to_dict(self) -> dict[str, Any]:
        return {**self.found.describe(), "email": self.email or self.found.email, "state": self.state,
                "message": self.message, "importable": self.importable}


def _refused(found: Found, e: OAuthError) -> tuple[str, str]:
    if e.code == "network":
        return UNCHECKED, f"not checked: {e}; try again when Google can be reached"
    if e.invalid_grant:
        return REFUSED, ("Google refused its refresh token (revoked or expired): sign in with this account "
                         "instead (trayproxy accounts login)")
    if e.code in ("unauthorized_client", "invalid_client"):
        whose = f" (Antigravity-Manager's {found.oauth_client!r})" if found.oauth_client else ""
        return REFUSED, (f"its refresh token belongs to another OAuth client{whose}, which trayproxy's cannot "
                         "refresh: sign in with this account instead")
    return REFUSED, f"Google did not accept its refresh token ({e})"


def _ready_text(found: Found) -> str:
    text = "its token refreshes"
    if found.disabled:
        text += f"; off in {found.source} ({found.disabled_note}): it stays disabled here"
    return text


async def _check_one(found: Found, oauth: OAuthClient, store: AccountStore, gate: asyncio.Semaphore) -> Candidate:
    if found.skip:
        return Candidate(found, UNUSABLE, found.skip)
    if found.email and store.by_email(found.email) is not None:
        return Candidate(found, ALREADY, "already in trayproxy", found.email)
    assert found.refresh_token
    async with gate:
        try:
            tokens = await oauth.refresh(found.refresh_token)
            email = found.email or str((await oauth.userinfo(tokens.access_token))["email"])
        except OAuthError as e:
            state, text = _refused(found, e)
            return Candidate(found, state, text)
    if store.by_email(email) is not None:
        return Candidate(found, ALREADY, "already in trayproxy", email)
    return Candidate(found, READY, _ready_text(found), email)


async def check(sources: list[Source], oauth: OAuthClient, store: AccountStore) -> list[Candidate]:
    """Every file of every source, checked (refreshes run a few at a time), in the order read."""
    gate = asyncio.Semaphore(CONCURRENCY)
    found = [f for s in sources for f in s.found]
    out = list(await asyncio.gather(*(_check_one(f, oauth, store, gate) for f in found)))
    first: dict[str, Candidate] = {}
    for c in out:
        if c.state != READY or not c.email:
            continue
        earlier = first.setdefault(c.email.lower(), c)
        if earlier is not c:
            c.state = DUPLICATE
            c.message = f"the same account as {earlier.found.describe()['shown_path']}: skipped"
    return out


async def import_chosen(sources: list[Source], keys: list[str], service: AccountService) -> list[dict[str, Any]]:
    """Import the chosen files' accounts, one after the other; a result line for each key."""
    by_key = {f.key: f for s in sources for f in s.found}
    results: list[dict[str, Any]] = []
    seen: set[str] = set()
    for key in dict.fromkeys(keys):  # each once, in the order chosen
        found = by_key.get(key)
        if found is None:
            results.append({"key": key, "email": None, "result": "gone",
                            "message": "the file is no longer there (look again)"})
            continue
        row: dict[str, Any] = {"key": key, "email": found.email, "source": found.source,
                               "shown_path": found.describe()["shown_path"]}
        if found.skip or not found.refresh_token:
            results.append({**row, "result": UNUSABLE, "message": found.skip or "has no refresh token"})
            continue
        if found.email and found.email.lower() in seen:
            results.append({**row, "result": DUPLICATE, "message": "the same account was imported just before"})
            continue
        note = (f"off in {found.source} ({found.disabled_note}), so disabled here: enable it to use it"
                if found.disabled else None)
        try:
            acc, problem = await service.import_account(found.refresh_token, project=found.project,
                                                        disabled_reason=note)
        except AccountExists as e:
            results.append({**row, "email": e.email, "result": ALREADY, "message": "already in trayproxy: skipped"})
            continue
        except AccountError as e:
            results.append({**row, "result": "failed", "message": str(e)})
            continue
        seen.add(acc.email.lower())
        text = f"imported (tier {acc.tier or 'unknown'}, project {acc.project or 'none yet'})"
        if found.disabled:
            text = f"imported, disabled as it was in {found.source}"
        if problem:
            text += f"; but: {problem}"
        results.append({**row, "email": acc.email, "id": acc.id, "result": "imported_disabled" if found.disabled
                        else "imported", "message": text})
    return results
