"""Account operations on the engine loop: access tokens, adding accounts, quota refresh.

Access tokens live in memory only. They are refreshed ahead of expiry (5 minutes early) with
at most one refresh in flight per account; concurrent requests wait for that one. A refresh that
fails with `invalid_grant` disables the account with the reason, so it leaves the rotation and
shows up in `accounts list` and the settings page.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass

from trayproxy.accounts.catalog import apply_catalog, parse_catalog
from trayproxy.accounts.oauth import LoginFlow, OAuthClient, OAuthError, Tokens
from trayproxy.accounts.pool import AccountPool
from trayproxy.accounts.quota import parse_load_code_assist
from trayproxy.accounts.store import Account, AccountStore
from trayproxy.upstream.cloudcode import CloudCodeClient
from trayproxy.upstream.transport import TransportError

__all__ = ["AccountService", "AccountError", "TokenUnavailable"]

log = logging.getLogger("trayproxy.accounts")
REFRESH_SKEW = 300.0


class AccountError(Exception):
    """An account operation failed; the message is for the user."""


class TokenUnavailable(Exception):
    """No access token could be had for an account (network, revoked, ...)."""

    def __init__(self, message: str, *, revoked: bool = False) -> None:
        super().__init__(message)
        self.revoked = revoked


@dataclass
class _Token:
    access_token: str
    expires_at: float


class AccountService:
    def __init__(
        self,
        store: AccountStore,
        pool: AccountPool,
        oauth: OAuthClient,
        upstream: CloudCodeClient,
        clock: Callable[[], float],
    ) -> None:
        self.store = store
        self.pool = pool
        self.oauth = oauth
        self.upstream = upstream
        self.clock = clock
        self._tokens: dict[str, _Token] = {}
        self._inflight: dict[str, asyncio.Future[str]] = {}

    # -- access tokens -----------------------------------------------------------------------
    async def access_token(self, account: Account, *, force: bool = False) -> str:
        tok = self._tokens.get(account.id)
        if tok is not None and not force and tok.expires_at - REFRESH_SKEW > self.clock():
            return tok.access_token
        task = self._inflight.get(account.id)
        if task is None:
            # The refresh belongs to no request: a client that goes away cancels only its own
            # wait, never the refresh the other requests are waiting for.
            task = asyncio.ensure_future(self._refresh(account))
            self._inflight[account.id] = task
            task.add_done_callback(functools.partial(self._done_refresh, account.id))
        return await asyncio.shield(task)

    def _done_refresh(self, account_id: str, task: asyncio.Future[str]) -> None:
        if self._inflight.get(account_id) is task:
            del self._inflight[account_id]
        if not task.cancelled():
            task.exception()  # retrieved here, so an unawaited failure is not reported as lost

    async def _refresh(self, account: Account) -> str:
        try:
            return await self._do_refresh(account)
        except TokenUnavailable:
            raise
        except Exception as e:  # keychain trouble, odd token answers, disk errors: not revoked
            log.warning("token refresh for %s failed: %s", account.email, e)
            raise TokenUnavailable(f"{account.email}: token refresh failed: {e}") from e

    async def _do_refresh(self, account: Account) -> str:
        rt = self.store.refresh_token(account.id)
        if not rt:
            self.pool.disable(account.id, "no refresh token stored: sign in again")
            raise TokenUnavailable(f"{account.email} has no refresh token", revoked=True)
        try:
            t = await self.oauth.refresh(rt)
        except OAuthError as e:
            if e.invalid_grant:
                log.warning("Refresh token of %s was rejected (invalid_grant); account disabled", account.email)
                self.pool.disable(account.id, f"{e} (sign in again to restore it)")
                self._tokens.pop(account.id, None)
                raise TokenUnavailable(f"{account.email}: sign-in expired or revoked", revoked=True) from e
            raise TokenUnavailable(f"{account.email}: token refresh failed: {e}") from e
        if t.refresh_token and t.refresh_token != rt:
            self.store.set_refresh_token(account.id, t.refresh_token)
        self._tokens[account.id] = _Token(t.access_token, t.expires_at)
        return t.access_token

    def forget_token(self, account_id: str) -> None:
        self._tokens.pop(account_id, None)

    # -- adding accounts ---------------------------------------------------------------------
    async def add_refresh_token(self, refresh_token: str) -> Account:
        refresh_token = refresh_token.strip()
        if not refresh_token:
            raise AccountError("The refresh token is empty")
        try:
            tokens = await self.oauth.refresh(refresh_token)
        except OAuthError as e:
            raise AccountError(f"Google rejected this refresh token ({e}). Copy it again or sign in with the browser.") from e
        tokens.refresh_token = tokens.refresh_token or refresh_token
        return await self._add(tokens)

    async def login(self, open_url: Callable[[str], object], timeout: float = 300.0) -> Account:
        flow = LoginFlow(self.oauth)
        url = await flow.start()
        open_url(url)
        try:
            tokens = await flow.wait(timeout)
        except OAuthError as e:
            raise AccountError(str(e)) from e
        return await self._add(tokens)

    async def _add(self, tokens: Tokens) -> Account:
        try:
            info = await self.oauth.userinfo(tokens.access_token)
        except OAuthError as e:
            raise AccountError(f"Could not read the account's e-mail address: {e}") from e
        email = str(info["email"])
        existing = self.store.by_email(email)
        acc = existing or Account.new(email, now=self.clock())
        if existing is not None:
            acc.disabled, acc.disabled_reason, acc.disabled_at = False, None, None
        assert tokens.refresh_token
        self.store.put(acc, refresh_token=tokens.refresh_token)
        self._tokens[acc.id] = _Token(tokens.access_token, tokens.expires_at)
        await self.refresh_account(acc)
        return acc

    # -- project, tier, quota ----------------------------------------------------------------
    async def refresh_account(self, acc: Account) -> Account:
        """Resolve the project (loadCodeAssist) and fetch tier and quota (fetchAvailableModels)."""
        try:
            token = await self.access_token(acc)
        except TokenUnavailable as e:
            raise AccountError(str(e)) from e
        try:
            status, data, raw = await self.upstream.load_code_assist(token)
        except TransportError as e:
            raise AccountError(f"Cloud Code could not be reached: {e}") from e
        if status == 200:
            project, tier = parse_load_code_assist(data)
            acc.project = project or acc.project
            acc.tier = tier or acc.tier
        else:
            log.warning("loadCodeAssist for %s answered %s", acc.email, status)
        if acc.project:
            try:
                status, data, raw = await self.upstream.fetch_available_models(token, acc.project)
            except TransportError as e:
                raise AccountError(f"Cloud Code could not be reached: {e}") from e
            if status == 200:
                apply_catalog(acc, parse_catalog(data), self.clock())
                for name, q in acc.models.items():
                    if q.remaining:
                        self.pool.clear_cooldowns(acc.id, name)
            elif status == 403:
                self.pool.disable(acc.id, f"forbidden: fetchAvailableModels answered 403: {raw[:300].decode('utf-8', 'replace')}")
        self.store.put(acc)
        if not acc.project:
            raise AccountError(
                f"{acc.email} is signed in but not onboarded for Gemini Code Assist / Antigravity "
                "(no Cloud Code project). Open Antigravity or Gemini Code Assist once with this "
                "account, accept the terms, then run 'trayproxy accounts refresh'."
            )
        return acc

    async def refresh_all(self) -> list[tuple[Account, str | None]]:
        out: list[tuple[Account, str | None]] = []
        for acc in self.store.all():
            if acc.disabled and acc.disabled_reason and acc.disabled_reason.startswith("invalid_grant"):
                out.append((acc, acc.disabled_reason))
                continue
            try:
                await self.refresh_account(acc)
                out.append((acc, None))
            except AccountError as e:
                out.append((acc, str(e)))
        return out
