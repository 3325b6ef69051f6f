"""Account operations on the engine loop: access tokens, adding accounts (with onboarding),
quota refresh, and the person's actions on an account (retry, enable, disable).

The quota is read in two calls, always together: the catalog (`fetchAvailableModels`, whose
per-model number is the 5-hour window, from the first host that answers: daily by default) and
`retrieveUserQuotaSummary` (both windows per model group). A quota rest ends early only when both
windows have quota again (accounts/quota_windows.py). When the summary cannot be read, the windows
stay as last known and the 5-hour numbers alone speak for short rests.

Access tokens live in memory only. They are refreshed ahead of expiry (5 minutes early) with
at most one refresh in flight per account; concurrent requests wait for that one. A refresh that
fails with `invalid_grant` disables the account with the reason, so it leaves the rotation and
shows up in `accounts list` and the settings page. A token endpoint that cannot be reached is
a network problem, reported as one (never as a rejected token), and the account stays enabled.
Messages that can reach API clients name the account by its short id, never its e-mail.
Keychain reads and writes and the accounts.json writes happen in worker threads (the store's
`a_*` methods); the records themselves change here, on the loop.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from trayproxy.accounts import onboarding
from trayproxy.accounts.catalog import apply_catalog, id_for_display, learn_retired, parse_catalog
from trayproxy.accounts.cooldown import QUOTA_RECHECK
from trayproxy.accounts.oauth import LoginFlow, OAuthClient, OAuthError, Tokens
from trayproxy.accounts.pool import AccountPool
from trayproxy.accounts.quota import parse_credits, parse_load_code_assist
from trayproxy.accounts.quota_windows import FIVE_HOURS, learn_spent, may_end_rest, parse_quota_summary
from trayproxy.accounts.store import Account, AccountStore
from trayproxy.accounts.triage import classify
from trayproxy.accounts.words import DISABLED_BY_YOU
from trayproxy.upstream.cloudcode import CloudCodeClient
from trayproxy.upstream.errors import describe_network_error
from trayproxy.upstream.transport import TransportError

__all__ = ["AccountService", "AccountError", "AccountExists", "AddedButUnusable", "TokenUnavailable"]

log = logging.getLogger("trayproxy.accounts")
REFRESH_SKEW = 300.0


class AccountError(Exception):
    """An account operation failed; the message is for the user."""


class AddedButUnusable(AccountError):
    """The account was saved, but Google will not serve it yet; the message says so and why."""

    def __init__(self, account: Account, message: str) -> None:
        super().__init__(message)
        self.account = account


class AccountExists(AccountError):
    """An import found the account already here (it is left as it is)."""

    def __init__(self, email: str) -> None:
        super().__init__(f"{email} is already in trayproxy")
        self.email = email


class TokenUnavailable(Exception):
    """No access token could be had for an account (network, revoked, ...)."""

    def __init__(self, message: str, *, revoked: bool = False, network: bool = False) -> None:
        super().__init__(message)
        self.revoked = revoked
        self.network = network


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
        self._last_probe: dict[str, float] = {}
        self.sleep: Callable[[float], Any] = asyncio.sleep
        self.onboard_interval = onboarding.POLL_INTERVAL

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
            raise TokenUnavailable(f"account {account.label}: token refresh failed: {e}") from e

    async def _do_refresh(self, account: Account) -> str:
        rt = await asyncio.to_thread(self.store.refresh_token, account.id)  # the keychain: off the loop
        if not rt:
            self.pool.disable(account.id, "no refresh token stored: sign in again", by="sign-in")
            raise TokenUnavailable(f"account {account.label} has no refresh token", revoked=True)
        try:
            t = await self.oauth.refresh(rt)
        except OAuthError as e:
            if e.invalid_grant:
                log.warning("Refresh token of %s was rejected (invalid_grant); account disabled", account.email)
                self.pool.disable(account.id, f"{e} (sign in again to restore it)", by="sign-in")
                self._tokens.pop(account.id, None)
                raise TokenUnavailable(f"account {account.label}: sign-in expired or revoked", revoked=True) from e
            if e.code == "network":
                raise TokenUnavailable(f"account {account.label}: {e}", network=True) from e
            raise TokenUnavailable(f"account {account.label}: token refresh failed: {e}") from e
        if t.refresh_token and t.refresh_token != rt:
            await self.store.a_set_refresh_token(account.id, t.refresh_token)
        self._tokens[account.id] = _Token(t.access_token, t.expires_at)
        return t.access_token

    def forget_token(self, account_id: str) -> None:
        self._tokens.pop(account_id, None)

    # -- adding accounts ---------------------------------------------------------------------
    async def add_refresh_token(self, refresh_token: str) -> Account:
        return await self._add(await self._checked(refresh_token))

    async def _checked(self, refresh_token: str) -> Tokens:
        """The tokens a refresh gives, with the refresh token to keep; AccountError says why not."""
        refresh_token = refresh_token.strip()
        if not refresh_token:
            raise AccountError("The refresh token is empty")
        try:
            tokens = await self.oauth.refresh(refresh_token)
        except OAuthError as e:
            if e.code == "network":
                raise AccountError(f"{e}. The refresh token was not checked; try again when Google can be "
                                   "reached.") from e
            raise AccountError(f"Google rejected this refresh token ({e}). Copy it again or sign in with the browser.") from e
        tokens.refresh_token = tokens.refresh_token or refresh_token
        return tokens

    async def import_account(self, refresh_token: str, *, project: str | None = None,
                             disabled_reason: str | None = None) -> tuple[Account, str | None]:
        """An account another tool signed in (accounts/importer.py): checked with a refresh and
        added under the e-mail Google gives, never replacing one already here (AccountExists).
        `disabled_reason`: the tool had it off, so it is added disabled, with that reason.
        Returns the account and what setting it up could not do (not onboarded, Cloud Code
        unreachable): the account is added all the same, as `accounts add` leaves it."""
        tokens = await self._checked(refresh_token)
        email = await self._email(tokens)
        if self.store.by_email(email) is not None:
            raise AccountExists(email)
        acc = Account.new(email, now=self.clock())
        acc.project = project
        assert tokens.refresh_token
        await self.store.a_put(acc, refresh_token=tokens.refresh_token)
        self._tokens[acc.id] = _Token(tokens.access_token, tokens.expires_at)
        if disabled_reason:
            self.pool.disable(acc.id, disabled_reason, by="user")
        try:
            await self.refresh_account(acc, resume=False)
        except AccountError as e:
            return acc, str(e)
        return acc, None

    async def login(self, open_url: Callable[[str], object], timeout: float = 300.0) -> Account:
        flow = LoginFlow(self.oauth)
        url = await flow.start()
        open_url(url)
        try:
            tokens = await flow.wait(timeout)
        except OAuthError as e:
            raise AccountError(str(e)) from e
        return await self._add(tokens)

    async def _email(self, tokens: Tokens) -> str:
        try:
            info = await self.oauth.userinfo(tokens.access_token)
        except OAuthError as e:
            raise AccountError(f"Could not read the account's e-mail address: {e}") from e
        return str(info["email"])

    async def _add(self, tokens: Tokens) -> Account:
        email = await self._email(tokens)
        existing = self.store.by_email(email)
        acc = existing or Account.new(email, now=self.clock())
        if existing is not None:  # signed in again: whatever stopped it is worth another try
            acc.disabled, acc.disabled_reason, acc.disabled_at = False, None, None
            acc.disabled_by = acc.disabled_link = None
            acc.verify_at = acc.verify_url = acc.verify_text = acc.verify_message = None
            self.pool.clear_cooldowns(acc.id)
        assert tokens.refresh_token
        await self.store.a_put(acc, refresh_token=tokens.refresh_token)
        self._tokens[acc.id] = _Token(tokens.access_token, tokens.expires_at)
        try:
            await self.refresh_account(acc)
        except AccountError as e:  # kept with what stops it (its card says what to do): never silently
            raise AddedButUnusable(acc, f"{email} was added, but it cannot be used yet. {e}") from e
        return acc

    # -- project, tier, quota ----------------------------------------------------------------
    async def refresh_account(self, acc: Account, *, resume: bool = True) -> Account:
        """Resolve the project (loadCodeAssist, onboarding an account that never used Code
        Assist) and fetch tier and quota (fetchAvailableModels). With `resume`, a clean answer
        also ends a verification pause (the person refreshed after verifying); the background
        refresh passes False, so the link stays shown until the person acts or a request works."""
        try:
            token = await self.access_token(acc)
        except TokenUnavailable as e:
            raise AccountError(str(e).replace(f"account {acc.label}", acc.email)) from e
        try:
            status, data, raw = await self.upstream.load_code_assist(token)
        except TransportError as e:
            raise AccountError(f"Cloud Code could not be reached: {describe_network_error(e)}") from e
        ok = status == 200
        if status == 200:
            if onboarding.needs_onboarding(data) and not acc.project:
                await self._onboard(acc, token, data)
            else:
                project, tier = parse_load_code_assist(data)
                acc.project = project or acc.project
                if acc.project:
                    acc.setup_problem = acc.setup_link = None
                acc.tier = tier or acc.tier
                acc.credits = parse_credits(data)
                bad = [i for i in onboarding.ineligible_tiers(data) if i.url]
                if bad and not acc.project:
                    self.pool.pause_for_verification(acc.id, link=bad[0].url, link_text=bad[0].url_text,
                                                     message=bad[0].reason)
                    ok = False
        else:
            ok = False
            log.warning("loadCodeAssist for %s answered %s", acc.email, status)
            self._triage_account_answer(acc, status, raw)
        if acc.project:
            try:
                status, raw = await self._read_quota(acc, token)
            except TransportError as e:
                raise AccountError(f"Cloud Code could not be reached: {describe_network_error(e)}") from e
            if status != 200:
                ok = False
                self._triage_account_answer(acc, status, raw)
        if ok and resume and acc.verify_at is not None:
            self.pool.resume(acc.id)
        await self.store.a_put(acc)
        if not acc.project:
            raise AccountError(
                f"{acc.email} is signed in but not set up for Gemini Code Assist"
                + (f": {acc.setup_problem}" if acc.setup_problem else " (no Cloud Code project yet)")
            )
        return acc

    async def _read_quota(self, acc: Account, token: str) -> tuple[int, bytes]:
        """The catalog (with the 5-hour numbers) and both quota windows, then the quota rests
        that may end. Returns the catalog call's status and body."""
        status, data, raw, host = await self.upstream.fetch_available_models(token, acc.project)
        if status != 200:
            return status, raw
        apply_catalog(acc, parse_catalog(data), self.clock(), host)
        try:
            s_status, s_data, _ = await self.upstream.quota_summary(token, acc.project)
        except TransportError as e:
            log.info("quota summary of %s could not be read: %s", acc.email, e)
        else:
            windows = parse_quota_summary(s_data) if s_status == 200 else []
            if windows:
                acc.quota_windows, acc.windows_updated = windows, self.clock()
            else:  # gated or failing: the 5-hour numbers alone, the windows as last known
                log.info("quota summary of %s: HTTP %s", acc.email, s_status)
        self._end_quota_rests(acc)
        return status, raw

    def _end_quota_rests(self, acc: Account) -> None:
        """Quota rests that end early: the model's own number shows quota again and both windows
        of its group do (not a 404's rest, nor another kind)."""
        cooling = self.pool.cooldowns(acc.id)
        now = self.clock()
        for name, q in acc.models.items():
            c = cooling.get(name)
            if c is None or c.kind != "quota" or not q.remaining:
                continue
            if may_end_rest(acc.quota_windows, name, c.until - now):
                self.pool.clear_cooldowns(acc.id, name, kinds=frozenset({"quota"}))

    def quota_spent(self, acc: Account, model: str, seconds: float) -> None:
        """A 429 QUOTA_EXHAUSTED whose reset is longer than a 5-hour window: the model's group
        has spent its weekly quota on this account, so none of its ids is tried there until then
        (saved with the record)."""
        if seconds > FIVE_HOURS + 60:
            acc.quota_windows = learn_spent(acc.quota_windows, model, self.clock() + seconds)
            self.store.save()

    def retire(self, model: str, replacement: str, mapping: dict[str, str]) -> str | None:
        """Google answered that `model` is no longer available and to switch to `replacement` (a
        display name): every account listing it forwards it to the id it serves under that name
        from now on. Returns the id on the first such account (None: no account serves one)."""
        first: str | None = None
        for acc in self.store.all():
            if model not in acc.models and model not in acc.retired:
                continue
            new = id_for_display(acc, replacement, mapping)
            if new is None or new == model:
                acc.models = {m: q for m, q in acc.models.items() if m != model}
                continue
            learn_retired(acc, model, new)
            first = first or new
        self.store.save()
        return first

    def _triage_account_answer(self, acc: Account, status: int, raw: bytes) -> None:
        """A 403 on an account call means the same as on generation (verification, API off,
        licence); other statuses change nothing here."""
        if status != 403:
            return
        v = classify(status, {}, raw, now=self.clock())
        if v.pause:
            self.pool.pause_for_verification(acc.id, link=v.link, link_text=v.link_text, message=v.summary)
        elif v.disable:
            self.pool.disable(acc.id, v.summary, link=v.link, by="google")
        elif v.cooldown:
            self.pool.cool_down(acc.id, None, v.cooldown, f"{v.summary}: {v.message[:200]}", kind=v.kind)

    async def _onboard(self, acc: Account, token: str, data: Any) -> None:
        try:
            res = await onboarding.onboard(
                data, lambda tier_id: self.upstream.onboard_user(token, tier_id), self.sleep, email=acc.email,
                interval=self.onboard_interval)
        except onboarding.OnboardingError as e:
            if e.link:
                self.pool.pause_for_verification(acc.id, link=e.link, link_text=e.link_text, message=str(e))
            elif not e.transient:  # kept, shown as "not eligible" with Google's reason (accounts/words.py)
                acc.setup_problem, acc.setup_link = str(e), None
            await self.store.a_put(acc)
            raise AccountError(str(e)) from e
        except TransportError as e:
            raise AccountError(f"Cloud Code could not be reached while onboarding {acc.email}: "
                               f"{describe_network_error(e)}") from e
        acc.project, acc.tier, acc.onboarded_at = res.project, res.tier_name, self.clock()
        acc.setup_problem = acc.setup_link = None
        log.info("onboarded %s to %s (project %s)", acc.email, res.tier_name, res.project)

    async def recheck_quota(self) -> int:
        """Re-read the live quota of accounts cooling down for quota (at most every
        QUOTA_RECHECK per account), so an early reset frees them. Returns how many were read."""
        n = 0
        now = self.clock()
        for account_id in self.pool.quota_cooldowns():
            acc = self.store.get(account_id)
            if acc is None or acc.disabled or not acc.project:
                continue
            if now - self._last_probe.get(acc.id, -1e9) < QUOTA_RECHECK:
                continue
            self._last_probe[acc.id] = now
            try:
                token = await self.access_token(acc)
                status, _ = await self._read_quota(acc, token)
            except (TokenUnavailable, TransportError) as e:
                log.info("quota re-check of %s failed: %s", acc.email, e)
                continue
            if status == 200:
                await self.store.a_put(acc)
                n += 1
        return n

    # -- the person's actions ----------------------------------------------------------------
    async def retry(self, acc: Account) -> Account:
        """"Retry now": clear cooldowns and the verification pause, lift a disable Google
        caused (the person says it is fixed), then check the account with a refresh."""
        self.pool.resume(acc.id, enable=acc.disabled_by == "google")
        self.forget_token(acc.id)
        self._last_probe.pop(acc.id, None)
        return await self.refresh_account(acc)

    def set_enabled(self, acc: Account, enabled: bool) -> Account:
        if enabled:
            self.pool.resume(acc.id, enable=True)
        else:
            self.pool.disable(acc.id, DISABLED_BY_YOU, by="user")
        return acc

    async def refresh_all(self, *, resume: bool = True) -> list[tuple[Account, str | None]]:
        out: list[tuple[Account, str | None]] = []
        for acc in self.store.all():
            if acc.disabled and (acc.disabled_by == "sign-in" or (
                    acc.disabled_reason and acc.disabled_reason.startswith("invalid_grant"))):
                out.append((acc, acc.disabled_reason))
                continue
            try:
                await self.refresh_account(acc, resume=resume)
                out.append((acc, None))
            except AccountError as e:
                out.append((acc, str(e)))
        return out
