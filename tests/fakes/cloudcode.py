"""A faithful fake of Google's Cloud Code `v1internal` API and Google OAuth, for tests and benchmarks.

One aiohttp server plays several upstream "hosts" as path prefixes, so base-URL failover can be
tested: `http://127.0.0.1:PORT/<host>/v1internal:<method>` (any host name works). OAuth lives at
`/oauth/token`, `/oauth/auth` and `/oauth/userinfo`.

    fake = FakeCloudCode()
    a = fake.add_account("a@example.com", refresh_token="rt-a", project="proj-a", tier="PRO",
                         quota={"gemini-3-flash": 0.9})
    a.script(Reply.text("Hello there", chunks=3), Reply.error(429, reason="QUOTA_EXHAUSTED", reset_delay="30s"))
    fake.use_catalog(CATALOG_2025)    # an older catalog (default: September 2026's)
    fake.add_account("free@example.com", models=FREE_TIER_2026_09)   # an account that lists fewer ids
    fake.host("daily").fail_with(503)
    with fake:                        # serves on 127.0.0.1:<free port> in a background thread
        monkeypatch env with fake.env()  (base URLs daily,prod,sandbox + OAuth + updater URLs)
        ...
    assert a.calls == 2 and fake.last().host == "prod"

Catalog: `fetchAvailableModels` lists the account's ids (`account.models`, default: every id of
`fake.models`) with limits and quota, plus `deprecatedModelIds`, `defaultAgentModelId`,
`agentModelSorts` and `webSearchModelIds` (`fake.web_search_models`, or `account.web_search_models`);
generation with an id the account does not list answers 404 "Requested entity was not found."
(unless `strict_models` is off). `fake.retire(old, new)` retires an id; `fake.retired_texts` are ids
still listed that answer a 200 whose only text says they are no longer available and what to
switch to. Each host serves its own catalog (`ModelSpec.hosts`: new ids on the daily host first;
`host.hide()`), the others answer 404 for them.

Client version (upstream-as-it-is §7): the User-Agent `antigravity/hub/<x.y.z> <os>/<arch>` is
the version Google gates on; ids with a `min_version` are left out of the catalog and answer 404
for a lower version or another family (`antigravity/cli/...`, an Electron-style UA), and a UA
without "antigravity" is refused with 403. `fake.refuse_versions_below(v)` makes every
generation from an older client a 200 whose only text is "This version of Antigravity is no
longer supported..." (with `model=`: "<model> is not available on this version..." for that
model). The updater manifest (electron-builder YAML, `version: x.y.z`) is served at
`fake.manifest_url`; `fake.updater_version` sets it.

Thinking: models with `levels` (the tiered Flash ids) take `thinkingConfig.thinkingLevel`
LOW / MEDIUM / HIGH and return no thought parts (reasoning tokens by level); a level on any
other model, or a level and a budget together, is refused with 400.

Quota: `fetchAvailableModels`' per-model `remainingFraction` is the 5-hour window (omitted for
ids in `quota_unreported_fraction`: "unknown"); `retrieveUserQuotaSummary` (`{"project": ...}`)
lists a 5-hour and a weekly bucket per group ("Gemini Models", "Claude and GPT models";
`account.set_window()`; `fake.summary_style` varies the `window` field as peers saw it). Both
windows apply: an empty weekly bucket answers 429 QUOTA_EXHAUSTED with a reset days away, whatever
the 5-hour window says. With `enabledCreditTypes: ["GOOGLE_ONE_AI"]` in the envelope a spent
quota is paid from `account.credits` (loadCodeAssist lists the balance), else 429
INSUFFICIENT_G1_CREDITS_BALANCE.

Search (reference §7): a `googleSearch` tool on an id the account does not list in
webSearchModelIds answers 400; a grounded answer (`Reply.grounded`, and the default reply to a
search request: `fake.search_results(query)`) carries `groundingMetadata` whose chunk URIs are
Google's `vertexaisearch.cloud.google.com/grounding-api-redirect/<token>` links; the fake serves
them too (`HEAD|GET /<any host>/grounding-api-redirect/<token>` -> 302 to the real URL;
`TRAYPROXY_GROUNDING_REDIRECT_URL` in `fake.env()` points trayproxy's resolver at it).

Scripting: `FakeAccount.script(*replies, method="generate")` queues `Reply`s (consumed in
order; `fake.default_reply(call)` answers when the queue is empty, by default an echo of the
last user text). Error bodies follow Google's (Reply.error / bare_429 / bad_signature: quota,
rate limit, capacity exhausted / exceeded, credits, "limit: 0", per-day QuotaFailure, 499,
VALIDATION_REQUIRED with the link in metadata or a Help detail, SERVICE_DISABLED, licence, terms,
refusal texts in a 200). Accounts:
`revoke()`, `expire_tokens()`, `set_quota()`, `require_verification()` / `verify()`,
`make_ineligible()`; `project=None` is a never-onboarded account that `onboardUser` (a
long-running operation, `done: false` first) gives a project. Hosts: `fail_with()`,
`drop_connections()`, `heal()`; OAuth: `sign_in_as()`, `deny_sign_in()`, `issue_access_token()`.
Observations: `fake.requests`, `fake.calls_to(rpc)`, `fake.last()`, `fake.accounts_used()`,
`account.calls`, `account.requests`, `host.calls`.

Requests are validated like Google does (see `validation.py`): envelope, GenerateContentRequest
fields, parts, function declarations and their schemas, function call/response pairing, and
thought signatures for thinking models. Run standalone for benchmarks:
`python -m tests.fakes.cloudcode --port 9100 [--accounts N] [--chunks N --delay-ms MS]`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import itertools
import re
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import orjson
from aiohttp import web

from .catalog import (
    AGENT_SORTS_2026_09,
    ALLOWED_TIERS,
    DEFAULT_AGENT_MODEL_2026_09,
    DEFAULT_HOSTS,
    DEFAULT_MODELS,
    DEFAULT_WEB_SEARCH,
    DEPRECATED_2026_09,
    GENERATE,
    GROUNDING_REDIRECT,
    RETIRED_2026_09,
    THINKING_MARKERS,
    TIERS,
    ModelSpec,
    provider_of,
    quota_group,
)
from .oauth import OAuthMixin
from .replies import (
    VERSION_REFUSAL,
    Call,
    Reply,
    google_error,
    is_image_model,
    merge_chunks,
    prompt_tokens,
    rfc3339,
)
from .runner import ServerThread
from .validation import (
    GoogleError,
    check_claude_identity,
    check_claude_thinking,
    check_claude_tools,
    check_image_request,
    check_signatures,
    first,
    model_family,
    validate_count_tokens,
    validate_generate,
    validate_load_code_assist,
)

__all__ = ["FakeCloudCode", "FakeAccount", "FakeHost", "ModelSpec", "RecordedRequest", "GENERATE", "main"]

_Handler = Callable[[web.Request, "FakeAccount", Any, str], Awaitable[web.StreamResponse]]
_FAILOVER_BODY = {404: google_error(404, "Method not found."), 408: google_error(408)}
_CLIENT_RE = re.compile(r"^antigravity/(hub|cli)/(\d+)\.(\d+)\.(\d+) (darwin|windows|linux)/(arm64|amd64)\b")
_LEVELS = ("LOW", "MEDIUM", "HIGH")
_GROUPS = {"gemini": ("Gemini Models", "Models within this group: Gemini Flash, Gemini Pro"),
           "3p": ("Claude and GPT models", "Models within this group: Claude, GPT-OSS")}
_WINDOWS = {"5h": (5 * 3600.0, "Five Hour Limit", "FIVE_HOUR"), "weekly": (7 * 86400.0, "Weekly Limit", "WEEKLY")}


def client_version(user_agent: str) -> tuple[str, tuple[int, int, int]] | None:
    """(family, version) of an `antigravity/<family>/<x.y.z> <os>/<arch>` User-Agent; None for
    anything else (an Electron-style UA, a bare API client)."""
    m = _CLIENT_RE.match(user_agent.strip())
    if m is None:
        return None
    return m.group(1), (int(m.group(2)), int(m.group(3)), int(m.group(4)))


def _version(text: str) -> tuple[int, int, int]:
    a, b, c = (int(x) for x in text.split("."))
    return a, b, c


@dataclass
class RecordedRequest:
    """One request the fake received. `rpc` is the v1internal method (`streamGenerateContent`, ...)
    or `oauth.token` / `oauth.auth` / `oauth.userinfo`; `host` the path prefix (None for OAuth)."""

    rpc: str
    host: str | None
    http_method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    time: float
    account: str | None = None
    status: int | None = None

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


class FakeAccount:
    """A Google account on the fake: OAuth identity, Code Assist project/tier, per-model quota and
    a script of replies consumed in order (per method; `generate` covers both generation RPCs)."""

    def __init__(self, fake: FakeCloudCode, email: str, *, refresh_token: str, project: str | None,
                 tier: str, quota: dict[str, float], name: str, expires_in: int,
                 models: list[str] | None = None) -> None:
        self.fake = fake
        self.email = email
        self.refresh_token = refresh_token
        self.project = project
        self.tier = tier
        self.name = name
        self.id = str(int(hashlib.sha256(email.encode()).hexdigest()[:15], 16))
        self.expires_in = expires_in
        self.quota: dict[str, float] = dict(quota)
        self.quota_reset: dict[str, float] = {}
        self.quota_unreported: set[str] = set()  # models listed without quotaInfo
        self.quota_unreported_fraction: set[str] = set()  # quotaInfo with a resetTime only ("unknown")
        now = fake.clock()
        # retrieveUserQuotaSummary: group -> window -> [remaining fraction (None: omitted), reset at]
        self.windows: dict[str, dict[str, list[Any]]] = {
            g: {w: [1.0, now + span] for w, (span, _, _) in _WINDOWS.items()} for g in _GROUPS}
        self.credits = 0  # Google One AI credits (GOOGLE_ONE_AI), spent one per paid request
        self.models: list[str] | None = models  # the ids this account lists; None: all of the fake's
        self.web_search_models: list[str] | None = None  # its webSearchModelIds; None: the fake's
        self.load_code_assist_extra: dict[str, Any] = {}
        self.onboard_pending = 1  # onboardUser answers `done: false` this many times first
        self.onboarded_project: str | None = None  # the project onboarding creates (default derived)
        self.verification_url: str | None = None  # set: generation answers 403 VALIDATION_REQUIRED
        self.revoked = False
        self.access_tokens: list[str] = []
        self.requests: list[RecordedRequest] = []
        self._scripts: dict[str, deque[Reply]] = {}
        self._calls = 0

    def __repr__(self) -> str:
        return f"FakeAccount({self.email!r}, project={self.project!r}, calls={self.calls})"

    # -- scripting ---------------------------------------------------------------------------
    def script(self, *replies: Reply, method: str = "generate") -> FakeAccount:
        """Queue replies for the next calls of `method`: `generate` (both generation RPCs),
        `streamGenerateContent`, `generateContent`, `countTokens`, `loadCodeAssist`,
        `fetchAvailableModels` or `token` (OAuth refresh: error replies only)."""
        self._scripts.setdefault(method, deque()).extend(replies)
        return self

    def pending(self, method: str = "generate") -> int:
        return len(self._scripts.get(method, ()))

    def next_reply(self, rpc: str) -> Reply | None:
        for key in (rpc, "generate") if rpc in GENERATE else (rpc,):
            q = self._scripts.get(key)
            if q:
                return q.popleft()
        return None

    def revoke(self) -> None:
        """The refresh token stops working (invalid_grant) and issued access tokens die."""
        self.revoked = True
        self.expire_tokens()

    def expire_tokens(self) -> None:
        """Every access token issued so far expires now (refreshing gives a new one)."""
        for tok in self.access_tokens:
            self.fake.expire_token(tok)

    def require_verification(self, url: str = "https://accounts.google.com/signin/continue?sarp=1&scc=1") -> None:
        """Google wants the person to verify this account: every generation call answers 403
        VALIDATION_REQUIRED with this link until `verify()`."""
        self.verification_url = url

    def verify(self) -> None:
        """The person followed the link and verified the account."""
        self.verification_url = None

    def make_ineligible(self, reason: str = "Your account is not eligible for Gemini Code Assist for individuals.",
                        *, validation_url: str | None = None) -> None:
        """loadCodeAssist offers no free tier: it lists it under `ineligibleTiers` with Google's
        reason (and a validation link), and only the tier that needs a Cloud project is allowed."""
        tier: dict[str, Any] = {"reasonCode": "INELIGIBLE_ACCOUNT", "reasonMessage": reason, "tierId": "free-tier",
                                "tierName": "Gemini Code Assist for individuals"}
        if validation_url:
            tier.update(reasonCode="VALIDATION_REQUIRED", validationUrl=validation_url,
                        validationUrlLinkText="Verify your account",
                        validationErrorMessage="Verify your account to use Gemini Code Assist.")
        self.load_code_assist_extra = {
            "allowedTiers": [{**ALLOWED_TIERS[1], "isDefault": True}], "ineligibleTiers": [tier]}
    def served(self) -> list[str]:
        """The ids this account can use right now (what fetchAvailableModels lists)."""
        ids = self.fake.models if self.models is None else self.models
        return [m for m in ids if m in self.fake.models]

    def search_ids(self) -> list[str]:
        """The ids this account may run Google Search on (webSearchModelIds), among those it serves."""
        ids = self.fake.web_search_models if self.web_search_models is None else self.web_search_models
        served = set(self.served())
        return [m for m in ids if m in served]

    def set_quota(self, model: str, remaining: float, reset_in: float = 3600.0) -> None:
        """Remaining fraction for a model; 0 makes generation answer 429 QUOTA_EXHAUSTED."""
        self.quota[model] = remaining
        self.quota_reset[model] = self.fake.clock() + reset_in

    def set_window(self, group: str, window: str, remaining: float | None, reset_in: float | None = None) -> None:
        """One bucket of retrieveUserQuotaSummary: `group` "gemini" or "3p" (Claude and GPT),
        `window` "5h" or "weekly"; `remaining` None leaves the fraction out. An empty bucket
        makes every generation of the group answer 429 QUOTA_EXHAUSTED until its reset."""
        bucket = self.windows[group][window]
        bucket[0] = remaining
        if reset_in is not None:
            bucket[1] = self.fake.clock() + reset_in

    def spent_window(self, model: str) -> float | None:
        """Seconds until the latest reset of the model's group windows that are empty (None: none is)."""
        now = self.fake.clock()
        empty = [reset for remaining, reset in self.windows[quota_group(model)].values()
                 if remaining is not None and remaining <= 0 and reset > now]
        return max(empty) - now if empty else None

    # -- observations ------------------------------------------------------------------------
    @property
    def calls(self) -> int:
        """Authenticated generation calls made with this account's tokens."""
        return self._calls

    def calls_to(self, rpc: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.rpc == rpc]


class FakeHost:
    """One base-URL host prefix; can be told to fail so a client fails over to the next."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.calls = 0
        self._failure: int | str | None = None
        self._times: int | None = None
        self._lock = threading.Lock()
        self.hidden: set[str] = set()  # ids this host does not serve (catalog and generation)

    def hide(self, *models: str) -> FakeHost:
        """This host does not serve these ids (its catalog leaves them out, generation 404s)."""
        self.hidden.update(models)
        return self

    def fail_with(self, status: int, times: int | None = None) -> FakeHost:
        """Answer every request (or the next `times`) with Google's error body for `status`."""
        self._failure, self._times = status, times
        return self

    def drop_connections(self, times: int | None = None) -> FakeHost:
        """Close the connection without answering (a transport error for the client)."""
        self._failure, self._times = "drop", times
        return self

    def heal(self) -> FakeHost:
        self._failure, self._times = None, None
        return self

    def take_failure(self) -> int | str | None:
        with self._lock:
            self.calls += 1
            if self._failure is None:
                return None
            failure = self._failure
            if self._times is not None:
                self._times -= 1
                if self._times <= 0:
                    self._failure, self._times = None, None
            return failure


class FakeCloudCode(OAuthMixin):
    """The fake upstream. Build accounts and scripts, then serve `app()` (or use `with fake:`)."""

    def __init__(self, *, clock: Callable[[], float] = time.time, hosts: tuple[str, ...] = DEFAULT_HOSTS) -> None:
        super().__init__()
        self.clock = clock
        self.default_hosts = hosts
        self.accounts: dict[str, FakeAccount] = {}
        self.requests: list[RecordedRequest] = []
        self.models: dict[str, ModelSpec] = dict(DEFAULT_MODELS)
        self.strict_models = True  # ids the account does not list answer 404 NOT_FOUND
        self.deprecated: dict[str, str] = dict(DEPRECATED_2026_09)  # deprecatedModelIds: retired id -> replacement
        self.default_agent_model: str | None = DEFAULT_AGENT_MODEL_2026_09
        self.agent_sorts: list[dict[str, Any]] = list(AGENT_SORTS_2026_09)
        self.retired_texts: dict[str, str] = dict(RETIRED_2026_09)  # listed ids that answer only this text
        self.version_refusals: list[tuple[tuple[int, int, int], str | None]] = []  # (below, model or None)
        self.updater_version = "2.9.1"  # the version the updater manifest announces
        self.summary_style = "window"  # "window" (5h/weekly), "upper" (FIVE_HOUR/WEEKLY), "none" (no field)
        self.summary_wrapper: str | None = None  # "response" (the IDE's language server) or "quotaSummary"
        self.summary_enabled = True  # False: retrieveUserQuotaSummary answers 404 (gated)
        self.web_search_models: list[str] = list(DEFAULT_WEB_SEARCH)
        self.search_results: Callable[[str], list[tuple[str, str]]] = _search_results
        self._redirects: dict[str, str] = {}  # grounding-api-redirect token -> real URL
        self.thinking_markers: list[str] = list(THINKING_MARKERS)
        self.default_reply: Callable[[Call], Reply] = lambda call: Reply.echo()
        self.quota_per_call = 0.0  # remaining fraction each successful generation uses up
        self.max_recorded: int | None = None  # keep only the last N requests (long benchmarks)
        self.url = ""
        self._hosts: dict[str, FakeHost] = {}
        self._issued: dict[str, str] = {}  # thought signature -> model family
        self._ids = itertools.count(1)
        self._closing = threading.Event()
        self._server: ServerThread | None = None
        self._lock = threading.Lock()

    # -- set-up ------------------------------------------------------------------------------
    def add_account(self, email: str, *, refresh_token: str | None = None, project: str | None = "",
                    tier: str = "PRO", quota: dict[str, float] | None = None, name: str | None = None,
                    expires_in: int = 3599, models: list[str] | tuple[str, ...] | None = None) -> FakeAccount:
        """`project=None` makes a not-onboarded account (loadCodeAssist has no project);
        the default derives `proj-<local part>`. Unknown quota models are added to the catalog.
        `models` limits the ids this account lists (default: the whole catalog)."""
        if project == "":
            project = "proj-" + email.split("@")[0].replace(".", "-")
        acc = FakeAccount(self, email, refresh_token=refresh_token or f"rt-{email}", project=project,
                          tier=tier.upper(), quota=quota or {}, name=name or email.split("@")[0].title(),
                          expires_in=expires_in, models=list(models) if models is not None else None)
        for model in acc.quota:
            self.models.setdefault(model, ModelSpec(model))
            acc.quota_reset.setdefault(model, self.clock() + 3600)
        self.accounts[email] = acc
        return acc

    def use_catalog(self, models: dict[str, ModelSpec], deprecated: dict[str, str] | None = None, *,
                    default_model: str | None = None, sorts: list[dict[str, Any]] | None = None,
                    web_search: tuple[str, ...] | list[str] | None = None,
                    retired: dict[str, str] | None = None) -> None:
        """Serve another catalog (e.g. catalog.CATALOG_2025, or CATALOG_2026 with DEPRECATED_2026 and
        WEB_SEARCH_2026)."""
        self.models = dict(models)
        if web_search is not None:
            self.web_search_models = list(web_search)
        self.deprecated = dict(deprecated or {})
        self.default_agent_model = default_model
        self.agent_sorts = list(sorts or [])
        self.retired_texts = dict(retired or {})

    def refuse_versions_below(self, version: str, model: str | None = None) -> None:
        """Generation from a client reporting a lower version (or none) answers 200 with only a
        refusal text: "This version of Antigravity is no longer supported..." or, for `model`,
        "<display name> is not available on this version. Please upgrade to the latest version."."""
        self.version_refusals.append((_version(version), model))

    def client_at_least(self, user_agent: str, version: str) -> bool:
        """Whether the User-Agent is the hub family at `version` or newer (Google's gate)."""
        found = client_version(user_agent)
        return found is not None and found[0] == "hub" and found[1] >= _version(version)

    def serves(self, model: str, host: str, user_agent: str) -> bool:
        """Whether `model` exists for a client with this User-Agent on this host."""
        spec = self.models.get(model)
        if spec is None:
            return False
        if (spec.hosts is not None and host not in spec.hosts) or model in self.host(host).hidden:
            return False
        return spec.min_version is None or self.client_at_least(user_agent, spec.min_version)

    def version_refusal(self, model: str, user_agent: str) -> str | None:
        found = client_version(user_agent)
        for below, only in self.version_refusals:
            if only is not None and only != model:
                continue
            if found is None or found[1] < below:
                if only is None:
                    return VERSION_REFUSAL
                name = self.models[only].display_name if only in self.models else only
                return f"{name} is not available on this version. Please upgrade to the latest version."
        return None

    @property
    def manifest_url(self) -> str:
        """Antigravity's updater manifest (electron-builder YAML), as the fake serves it."""
        return f"{self.url}/updater/manifest/latest-arm64-mac.yml"

    def retire(self, old: str, new: str | None = None) -> None:
        """Google retires `old` (forwarding to `new`, when given): it leaves every catalog."""
        self.models.pop(old, None)
        if new is not None:
            self.deprecated[old] = new

    def account(self, email: str) -> FakeAccount:
        return self.accounts[email]

    def host(self, name: str) -> FakeHost:
        with self._lock:
            return self._hosts.setdefault(name, FakeHost(name))

    def is_thinking(self, model: str) -> bool:
        m = model.lower()
        return any(marker in m for marker in self.thinking_markers)

    # -- observations ------------------------------------------------------------------------
    def calls_to(self, rpc: str | tuple[str, ...] = GENERATE) -> list[RecordedRequest]:
        rpcs = (rpc,) if isinstance(rpc, str) else rpc
        return [r for r in self.requests if r.rpc in rpcs]

    def accounts_used(self) -> list[str | None]:
        """E-mails whose tokens made each generation call, in order."""
        return [r.account for r in self.calls_to(GENERATE)]

    def last(self, rpc: str | tuple[str, ...] = GENERATE) -> RecordedRequest:
        found = self.calls_to(rpc)
        if not found:
            raise AssertionError(f"no {rpc} request was recorded")
        return found[-1]

    def issue_signature(self, model: str) -> str:
        """A thought signature the fake accepts for this model's family (as a reply would carry)."""
        family = model_family(model)
        n = next(self._ids)
        raw = f"{family}:{n}:".encode() + hashlib.sha256(f"{family}{n}".encode()).digest() * 2
        sig = base64.b64encode(raw).decode()
        self._issued[sig] = family
        return sig

    def signature_family(self, sig: str) -> str | None:
        """The family a signature was issued for. Signatures are proto `bytes`, so, like Google's
        JSON parser, accept standard and URL-safe base64, with or without padding."""
        if sig in self._issued:
            return self._issued[sig]
        try:
            raw = base64.urlsafe_b64decode(sig.replace("+", "-").replace("/", "_") + "=" * (-len(sig) % 4))
        except (ValueError, TypeError):
            return None
        return self._issued.get(base64.b64encode(raw).decode())

    # -- serving -----------------------------------------------------------------------------
    def start(self) -> str:
        """Serve on 127.0.0.1:<free port> in a background thread; returns the root URL."""
        if self._server is None:
            self._closing.clear()
            self._server = ServerThread(self.app)
            self.url = self._server.start()
        return self.url

    def stop(self) -> None:
        self._closing.set()
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> FakeCloudCode:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def base_url(self, host: str) -> str:
        return f"{self.url}/{host}/v1internal"

    def base_urls(self, *hosts: str) -> list[str]:
        return [self.base_url(h) for h in (hosts or self.default_hosts)]

    @property
    def token_url(self) -> str:
        return f"{self.url}/oauth/token"

    @property
    def userinfo_url(self) -> str:
        return f"{self.url}/oauth/userinfo"

    @property
    def auth_url(self) -> str:
        return f"{self.url}/oauth/auth"

    def env(self, *hosts: str) -> dict[str, str]:
        """trayproxy's environment variables pointing at this fake."""
        return {
            "TRAYPROXY_CLOUDCODE_BASE_URLS": ",".join(self.base_urls(*hosts)),
            "TRAYPROXY_OAUTH_TOKEN_URL": self.token_url,
            "TRAYPROXY_OAUTH_USERINFO_URL": self.userinfo_url,
            "TRAYPROXY_OAUTH_AUTH_URL": self.auth_url,
            "TRAYPROXY_CLIENT_VERSION_URL": self.manifest_url,
            "TRAYPROXY_GROUNDING_REDIRECT_URL": self.redirect_base,
        }

    @property
    def redirect_base(self) -> str:
        """Where the fake serves Google's grounding redirect links (stands for GROUNDING_REDIRECT)."""
        return f"{self.url}/vertexaisearch/grounding-api-redirect/"

    def grounding_link(self, url: str) -> str:
        """Google's redirect link to `url`, as a grounding chunk carries it."""
        token = base64.urlsafe_b64encode(hashlib.sha256(url.encode()).digest()[:24]).decode().rstrip("=")
        self._redirects[token] = url
        return GROUNDING_REDIRECT + token

    def app(self) -> web.Application:
        app = web.Application(client_max_size=256 * 1024 * 1024)
        self.add_oauth_routes(app)
        app.router.add_get("/updater/manifest/{name}", self._manifest)
        app.router.add_route("*", "/{host}/{tail:.*}", self._handle)

        async def on_shutdown(_: web.Application) -> None:
            self._closing.set()

        app.on_shutdown.append(on_shutdown)
        return app

    # -- request plumbing --------------------------------------------------------------------
    async def record(self, request: web.Request, rpc: str, host: str | None, body: Any) -> RecordedRequest:
        rec = RecordedRequest(rpc=rpc, host=host, http_method=request.method, path=request.path,
                              query=dict(request.query), headers=dict(request.headers), body=body,
                              time=self.clock())
        self.requests.append(rec)
        if self.max_recorded is not None and len(self.requests) > self.max_recorded:
            del self.requests[: len(self.requests) - self.max_recorded]
        return rec

    @staticmethod
    def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
        """JSON (or, for bytes/str bodies, the literal bytes) with Google's content type unless
        `headers` name another one."""
        hdrs = dict(headers or {})
        if not any(k.lower() == "content-type" for k in hdrs):
            hdrs["Content-Type"] = "application/json; charset=UTF-8"
        data = body.encode() if isinstance(body, str) else body if isinstance(body, bytes) else orjson.dumps(body)
        return web.Response(status=status, body=data, headers=hdrs)

    @staticmethod
    async def drop(request: web.Request, started: web.StreamResponse | None = None) -> web.StreamResponse:
        """Abort the TCP connection: before any response (a transport error for the client) or,
        with `started`, in the middle of a stream (an incomplete chunked body)."""
        if request.transport is not None:
            request.transport.abort()
        await asyncio.sleep(0)
        return started if started is not None else web.Response(status=599)

    async def _manifest(self, request: web.Request) -> web.StreamResponse:
        """The electron-builder update manifest Antigravity's updater serves (YAML)."""
        rec = await self.record(request, "updater.manifest", None, None)
        rec.status = 200
        body = (f"version: {self.updater_version}\nfiles:\n  - url: Antigravity-arm64-mac.zip\n"
                f"    sha512: {base64.b64encode(hashlib.sha512(self.updater_version.encode()).digest()).decode()}\n"
                f"path: Antigravity-arm64-mac.zip\nreleaseDate: '2026-09-01T10:00:00.000Z'\n")
        return web.Response(status=200, text=body, content_type="text/yaml")

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        host = request.match_info["host"]
        tail = request.match_info["tail"]
        rpc = tail.split(":", 1)[1] if tail.startswith("v1internal:") else tail
        if tail.startswith("grounding-api-redirect/"):
            return await self._redirect(request, host, tail)
        raw = await request.read()
        try:
            body: Any = orjson.loads(raw) if raw else None
            bad_json = False
        except orjson.JSONDecodeError:
            body, bad_json = raw.decode("utf-8", "replace"), True
        rec = await self.record(request, rpc, host, body)
        failure = self.host(host).take_failure()
        if failure == "drop":
            rec.status = 599
            return await self.drop(request)
        if isinstance(failure, int):
            rec.status = failure
            return self.json_response(failure, _FAILOVER_BODY.get(failure) or google_error(failure))
        try:
            resp = await self._dispatch(request, rec, rpc, body, bad_json)
        except GoogleError as e:
            rec.status = e.status
            return self.json_response(e.status, google_error(e.status, e.message, e.details))
        rec.status = resp.status
        return resp

    async def _redirect(self, request: web.Request, host: str, tail: str) -> web.StreamResponse:
        """Google's grounding redirector: 302 to the real page (no body needed, HEAD or GET)."""
        rec = await self.record(request, "grounding-redirect", host, None)
        target = self._redirects.get(tail.removeprefix("grounding-api-redirect/"))
        rec.status = 302 if target else 404
        if target is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(status=302, headers={"Location": target})

    def authenticate(self, request: web.Request) -> FakeAccount:
        auth = request.headers.get("Authorization", "")
        if not auth:
            raise GoogleError(401, "Request is missing required authentication credential. Expected OAuth 2 access "
                                   "token, login cookie or other valid authentication credential. See "
                                   "https://developers.google.com/identity/sign-in/web/devconsole-project.")
        token = auth[7:] if auth.startswith("Bearer ") else ""
        account = self.account_for_token(token)
        if account is None:
            raise GoogleError(401, google_error(401)["error"]["message"])
        return account

    async def _dispatch(self, request: web.Request, rec: RecordedRequest, rpc: str, body: Any,
                        bad_json: bool) -> web.StreamResponse:
        handlers: dict[str, _Handler] = {
            "streamGenerateContent": self._generate, "generateContent": self._generate,
            "countTokens": self._count_tokens, "loadCodeAssist": self._load_code_assist,
            "fetchAvailableModels": self._fetch_models, "onboardUser": self._onboard_user,
            "retrieveUserQuotaSummary": self._quota_summary,
        }
        if request.method != "POST" or rpc not in handlers:
            raise GoogleError(404, "Method not found." if rpc in handlers or ":" not in rpc else
                              "Requested entity was not found.")
        account = self.authenticate(request)
        rec.account = account.email
        account.requests.append(rec)
        if rpc in GENERATE:
            account._calls += 1
        if self.max_recorded is not None and len(account.requests) > self.max_recorded:
            del account.requests[: len(account.requests) - self.max_recorded]
        ctype = request.headers.get("Content-Type", "")
        if not ctype.lower().startswith("application/json"):
            raise GoogleError(400, f"Invalid Content-Type {ctype!r}: expected application/json.")
        if not request.headers.get("User-Agent"):
            raise GoogleError(400, "Request is missing a User-Agent header.")
        if "antigravity" not in request.headers["User-Agent"].lower():  # a bare API client (CPA #5087)
            raise GoogleError(403, "The caller does not have permission")
        if bad_json or not isinstance(body, dict):
            raise GoogleError(400, "Invalid JSON payload received. Unexpected token.\n"
                                   f"{str(body)[:40]}\n^")
        scripted = account.next_reply(rpc) if rpc not in GENERATE else None
        if scripted is not None:
            if scripted.gate is None or scripted.then is not None:
                return await self._send(request, scripted, None, stream=False)
            # a bare hang on an account RPC: wait, then answer normally
            if not await scripted.gate.wait(self._closing, scripted.hang_limit):
                return await self.drop(request)
        return await handlers[rpc](request, account, body, rpc)

    # -- account RPCs ------------------------------------------------------------------------
    async def _load_code_assist(self, request: web.Request, account: FakeAccount, body: Any,
                                rpc: str) -> web.StreamResponse:
        validate_load_code_assist(body)
        current, paid = TIERS.get(account.tier, TIERS["FREE"])
        out: dict[str, Any] = {"allowedTiers": ALLOWED_TIERS, "gcpManaged": False,
                               "manageSubscriptionUri": "https://accounts.google.com/AccountChooser"}
        if account.project is not None:
            out["currentTier"] = dict(current)
            out["cloudaicompanionProject"] = account.project
            if paid is not None:
                out["paidTier"] = dict(paid)
                if account.credits:
                    out["paidTier"]["availableCredits"] = [{"creditType": "GOOGLE_ONE_AI",
                                                            "creditAmount": str(account.credits),
                                                            "minimumCreditAmountForUsage": "1"}]
        out.update(account.load_code_assist_extra)
        return self.json_response(200, out)

    async def _onboard_user(self, request: web.Request, account: FakeAccount, body: dict[str, Any],
                            rpc: str) -> web.StreamResponse:
        """A long-running operation: `{name, done: false}` until the set-up is finished, then
        `done: true` with `response.cloudaicompanionProject`. The free tier takes no project; a
        tier with `userDefinedCloudaicompanionProject` needs one."""
        unknown = [k for k in body if k not in ("tierId", "metadata", "cloudaicompanionProject")]
        if unknown:
            raise GoogleError(400, f'Invalid JSON payload received. Unknown name "{unknown[0]}": Cannot find field.')
        validate_load_code_assist({"metadata": body.get("metadata")})
        allowed = account.load_code_assist_extra.get("allowedTiers", ALLOWED_TIERS)
        tier = next((t for t in allowed if t["id"] == body.get("tierId")), None)
        if tier is None:
            raise GoogleError(400, f"Tier {body.get('tierId')!r} is not available for this user.")
        if tier.get("userDefinedCloudaicompanionProject") and not body.get("cloudaicompanionProject"):
            raise GoogleError(400, "This tier requires a Google Cloud project (cloudaicompanionProject).")
        name = f"operations/onboard-{account.id}"
        if account.project is None and account.onboard_pending > 0:
            account.onboard_pending -= 1
            return self.json_response(200, {"name": name, "done": False})
        if account.project is None:
            local = account.email.split("@")[0].replace(".", "-")
            account.project = account.onboarded_project or (
                body.get("cloudaicompanionProject") or f"{local}-codeassist-{account.id[:6]}")
            account.tier = "FREE" if tier["id"] == "free-tier" else "STANDARD"
        return self.json_response(200, {"name": name, "done": True, "response": {
            "@type": "type.googleapis.com/google.internal.cloud.code.v1internal.OnboardUserResponse",
            "cloudaicompanionProject": {"id": account.project, "name": account.project}}})

    def _check_project(self, account: FakeAccount, project: Any) -> None:
        if project and project != account.project:
            raise GoogleError(403, f"Permission 'cloudaicompanion.companions.generateChat' denied on resource "
                                   f"'//cloudaicompanion.googleapis.com/projects/{project}/locations/global' "
                                   f"(or it may not exist).")

    async def _fetch_models(self, request: web.Request, account: FakeAccount, body: dict[str, Any],
                            rpc: str) -> web.StreamResponse:
        unknown = [k for k in body if k != "project"]
        if unknown:
            raise GoogleError(400, f'Invalid JSON payload received. Unknown name "{unknown[0]}": Cannot find field.')
        self._check_project(account, body.get("project"))
        models: dict[str, Any] = {}
        now = self.clock()
        host, ua = request.match_info["host"], request.headers.get("User-Agent", "")
        for name in account.served():
            if not self.serves(name, host, ua):  # another host's id, or newer than this client may see
                continue
            spec = self.models[name]
            remaining = account.quota.get(name, 1.0)
            quota: dict[str, Any] = {"resetTime": rfc3339(account.quota_reset.get(name, now + 3600))}
            if name not in account.quota_unreported_fraction:
                # a fresh free-tier Claude quota lists only a resetTime (§7): "unknown", not "empty"
                quota = {"remainingFraction": remaining, **quota}
            models[name] = {
                "displayName": spec.display_name, "model": "MODEL_" + name.upper().replace("-", "_").replace(".", "_"),
                "apiProvider": provider_of(name, spec), "maxTokens": spec.max_tokens,
                "maxOutputTokens": spec.max_output_tokens, "supportsImages": spec.supports_images,
                "supportsThinking": self.is_thinking(name), "recommended": spec.recommended,
                "quotaInfo": quota,
            }
            if name in account.quota_unreported:
                del models[name]["quotaInfo"]
            if self.is_thinking(name):
                models[name]["thinkingBudget"] = 24576
        out: dict[str, Any] = {"models": models}
        if self.deprecated:
            out["deprecatedModelIds"] = {old: {"newModelId": new} for old, new in self.deprecated.items()}
        if self.default_agent_model:
            out["defaultAgentModelId"] = self.default_agent_model
        if account.search_ids():
            out["webSearchModelIds"] = account.search_ids()
        if self.agent_sorts:
            listed = set(models)
            out["agentModelSorts"] = [
                {"displayName": s["displayName"], "groups": [
                    {"modelIds": [m for m in g["modelIds"] if m in listed]} for g in s["groups"]]}
                for s in self.agent_sorts]
        return self.json_response(200, out)

    async def _quota_summary(self, request: web.Request, account: FakeAccount, body: dict[str, Any],
                             rpc: str) -> web.StreamResponse:
        """Both quota windows per model group (AM PR #3312, the agy capture): 5 h and weekly."""
        unknown = [k for k in body if k != "project"]
        if unknown:
            raise GoogleError(400, f'Invalid JSON payload received. Unknown name "{unknown[0]}": Cannot find field.')
        if not self.summary_enabled:
            raise GoogleError(404, "Method not found.")
        self._check_project(account, body.get("project"))
        groups = []
        for gid, (name, description) in _GROUPS.items():
            buckets = []
            for window in ("weekly", "5h"):
                remaining, reset = account.windows[gid][window]
                _, label, upper = _WINDOWS[window]
                b: dict[str, Any] = {"bucketId": f"{gid}-{window}", "displayName": label,
                                     "resetTime": rfc3339(reset), "description": f"{label} for {name}"}
                if self.summary_style == "window":
                    b["window"] = window
                elif self.summary_style == "upper":
                    b["window"] = upper
                if remaining is not None:
                    b["remainingFraction"] = remaining
                buckets.append(b)
            groups.append({"displayName": name, "description": description, "buckets": buckets})
        out: dict[str, Any] = {"groups": groups, "description": "Within each group, models share a weekly limit "
                               "and a 5-hour limit."}
        if self.summary_wrapper:
            out = {self.summary_wrapper: out}
        return self.json_response(200, out)

    async def _count_tokens(self, request: web.Request, account: FakeAccount, body: dict[str, Any],
                            rpc: str) -> web.StreamResponse:
        req = validate_count_tokens(body)
        return self.json_response(200, {"totalTokens": prompt_tokens(req)})

    # -- generation --------------------------------------------------------------------------
    async def _generate(self, request: web.Request, account: FakeAccount, body: dict[str, Any],
                        rpc: str) -> web.StreamResponse:
        env, req = validate_generate(body)
        model: str = env["model"]
        self._check_project(account, env["project"])
        ua = request.headers.get("User-Agent", "")
        if self.strict_models and (model not in account.served()
                                   or not self.serves(model, request.match_info["host"], ua)):
            raise GoogleError(404, "Requested entity was not found.")
        spec = self.models.get(model)
        thinking = self.is_thinking(model)
        gen = first(req, "generationConfig") or {}
        cap = self.models[model].max_output_tokens if model in self.models else None
        asked = first(gen, "maxOutputTokens")
        if self.strict_models and cap and isinstance(asked, int) and asked > cap:
            raise GoogleError(400, f"Unable to submit request because it has a maxOutputTokens value of {asked} but "
                                   f"the supported range is from 1 (inclusive) to {cap + 1} (exclusive). Update the "
                                   "value and try again.")
        tc = first(gen, "thinkingConfig") or {}
        level = self._thinking_level(model, spec, tc)
        contents = req.get("contents") or []
        searching = any(isinstance(t, dict) and (first(t, "googleSearch") is not None) for t in req.get("tools") or [])
        if searching and model not in account.search_ids():
            raise GoogleError(400, f"Google Search grounding is not supported for model {model}; "
                                   "use a model listed in webSearchModelIds.")
        if is_image_model(model):
            check_image_request(env, req)
        if model_family(model) == "claude":
            check_claude_tools(first(req, "tools"))
            check_claude_identity(req)
        if thinking:
            check_signatures(contents, model_family(model), self.signature_family)
            if model_family(model) == "claude":
                enabled = bool(first(tc, "includeThoughts") or first(tc, "thinkingBudget") or first(tc, "thinkingLevel"))
                check_claude_thinking(contents, enabled)
        call = Call(model=model, request=req, thinking=thinking,
                    include_thoughts=bool(first(tc, "includeThoughts", False)),
                    sign=lambda: self.issue_signature(model),
                    response_id=hashlib.sha256(f"{next(self._ids)}".encode()).hexdigest()[:22], now=self.clock(),
                    level=level, shows_thoughts=spec.shows_thoughts if spec is not None else True,
                    redirect=self.grounding_link)
        reply = account.next_reply(rpc)
        if reply is None and (text := self.version_refusal(model, ua)) is not None:
            reply = Reply.refusal(text)
        if reply is None and model in self.retired_texts:
            reply = Reply.refusal(self.retired_texts[model])
        if reply is None and account.verification_url:
            reply = Reply.error(403, reason="VALIDATION_REQUIRED", validation_url=account.verification_url)
        if reply is None:
            reply = self._quota_reply(account, model, call, env)
        if reply is None and call.searches:
            query = call.last_user_text()
            sources = self.search_results(query)
            reply = Reply.grounded(" ".join(f"{title} has a page about {query[:40]}." for _, title in sources), sources,
                                   queries=[query[:80]])
        if reply is None:
            reply = self.default_reply(call)
        if self.quota_per_call and not reply.is_error and call.credits is None:
            account.quota[model] = max(0.0, round(account.quota.get(model, 1.0) - self.quota_per_call, 6))
            account.quota_reset.setdefault(model, call.now + 3600)
            for bucket in account.windows[quota_group(model)].values():
                if bucket[0] is not None:
                    bucket[0] = max(0.0, round(bucket[0] - self.quota_per_call, 6))
        return await self._send(request, reply, call, stream=rpc == "streamGenerateContent")

    def _thinking_level(self, model: str, spec: ModelSpec | None, tc: dict[str, Any]) -> str | None:
        """The thinkingLevel asked for, checked as Google does: never with a budget, only on
        models that take levels, one of LOW / MEDIUM / HIGH."""
        level, budget = first(tc, "thinkingLevel"), first(tc, "thinkingBudget")
        if level is None:
            return None
        if budget is not None:
            raise GoogleError(400, "You can only set only one of thinking budget and thinking level.")
        if spec is None or not spec.levels:
            raise GoogleError(400, "Thinking level is not supported for this model.")
        name = str(level).upper()
        if name == "MINIMAL":
            raise GoogleError(400, "'minimal' is not a supported thinking level for this model. Allowed values "
                                   "are: medium, low, high.")
        if name not in _LEVELS:
            raise GoogleError(400, f"Invalid value at 'request.generation_config.thinking_config.thinking_level' "
                                   f"(type.googleapis.com/google.ai.generativelanguage.v1main.ThinkingConfig."
                                   f"ThinkingLevel), \"{level}\"")
        return name

    def _quota_reply(self, account: FakeAccount, model: str, call: Call, env: dict[str, Any]) -> Reply | None:
        """429 QUOTA_EXHAUSTED when a window of the model's group or its own quota is spent, unless
        the envelope lets Google One AI credits pay (then one credit goes, or 429
        INSUFFICIENT_G1_CREDITS_BALANCE when there is none)."""
        delay = account.spent_window(model)
        if delay is None and account.quota.get(model, 1.0) <= 0:
            delay = max(1.0, account.quota_reset.get(model, call.now) - call.now)
        if delay is None:
            return None
        if "GOOGLE_ONE_AI" in (first(env, "enabledCreditTypes") or []):
            if account.credits < 1:
                return Reply.error(429, reason="INSUFFICIENT_G1_CREDITS_BALANCE")
            account.credits -= 1
            call.credits = {"consumedCredits": [{"creditType": "GOOGLE_ONE_AI", "creditAmount": "1"}],
                            "remainingCredits": [{"creditType": "GOOGLE_ONE_AI",
                                                  "creditAmount": str(account.credits)}]}
            return None
        return Reply.error(429, reason="QUOTA_EXHAUSTED", reset_delay=round(max(1.0, delay)))

    async def _send(self, request: web.Request, reply: Reply, call: Call | None, *, stream: bool) -> web.StreamResponse:
        if reply.drop:
            return await self.drop(request)
        sse: web.StreamResponse | None = None
        if reply.gate is not None:
            if reply.hang_after_headers and stream:
                sse = await self._start_sse(request)
            released = await reply.gate.wait(self._closing, reply.hang_limit)
            if not released:
                return await self.drop(request, sse)
            nxt = reply.then or (self.default_reply(call) if call is not None else Reply.raw(200, {}))
            if sse is not None and (nxt.is_error or nxt.drop or nxt.gate):
                nxt = self.default_reply(call) if call is not None else nxt
            if sse is None:
                return await self._send(request, nxt, call, stream=stream)
            reply = nxt
        if reply.is_error:
            body = reply.error_body(call.model if call else "", self.clock())
            return self.json_response(reply.status, body, reply.headers)
        assert call is not None, "content replies are only for generation calls"
        chunks = reply.render(call)
        trace = call.response_id[:16]
        if not stream:
            if reply.cut_after is not None:
                if reply.error_event is not None:
                    code = int(reply.error_event.get("code", 500))
                    return self.json_response(code, {"error": reply.error_event})
                return await self.drop(request)
            return self.json_response(200, {"response": merge_chunks(chunks), "traceId": trace}, reply.headers)
        if sse is None:
            sse = await self._start_sse(request, reply.headers, trace)
        try:
            for i, chunk in enumerate(chunks):
                if reply.cut_after is not None and i >= reply.cut_after:
                    break
                if i and reply.delay_ms:
                    await asyncio.sleep(reply.delay_ms / 1000)
                frame: dict[str, Any] = {"response": chunk, "traceId": trace}
                if call.credits is not None and i == len(chunks) - 1:
                    frame.update(call.credits)  # CaGenerateContentResponse: beside the response
                await sse.write(b"data: " + orjson.dumps(frame) + b"\r\n\r\n")
            if reply.cut_after is not None:
                if reply.error_event is None:
                    return await self.drop(request, sse)
                await sse.write(b"data: " + orjson.dumps({"error": reply.error_event}) + b"\r\n\r\n")
            await sse.write_eof()
        except ConnectionError:  # the client went away mid-stream (benchmarks cancel streams)
            pass
        return sse

    async def _start_sse(self, request: web.Request, headers: dict[str, str] | None = None,
                         trace: str = "") -> web.StreamResponse:
        resp = web.StreamResponse(status=200, headers={
            "Content-Type": "text/event-stream", "Cache-Control": "no-cache",
            "X-Cloudaicompanion-Trace-Id": trace or "0", "Server": "ESF", **(headers or {}),
        })
        await resp.prepare(request)
        return resp


def _search_results(query: str) -> list[tuple[str, str]]:
    """What the fake's Google Search finds for a query: three pages on three sites."""
    slug = "-".join(re.findall(r"[a-z0-9]+", query.lower()))[:40] or "search"
    return [(f"https://example.com/{slug}", "example.com"), (f"https://docs.example.org/{slug}", "docs.example.org"),
            (f"https://news.example.net/{slug}", "news.example.net")]


def main(argv: list[str] | None = None) -> None:
    """Standalone fake for benchmarks and manual runs."""
    p = argparse.ArgumentParser(prog="python -m tests.fakes.cloudcode", description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=9100)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--accounts", type=int, default=2, help="number of accounts (acc1@example.com, ...)")
    p.add_argument("--chunks", type=int, default=0, help="default reply: a paced stream of N chunks (0 = echo)")
    p.add_argument("--delay-ms", type=float, default=0.0, help="pause between stream chunks")
    args = p.parse_args(argv)
    fake = FakeCloudCode()
    for i in range(1, args.accounts + 1):
        fake.add_account(f"acc{i}@example.com", refresh_token=f"rt-acc{i}", project=f"proj-acc{i}")
    if args.chunks:
        fake.default_reply = lambda call: Reply.stream(args.chunks, args.delay_ms)
    fake.max_recorded = 1000
    server = ServerThread(fake.app, host=args.host, port=args.port)
    fake.url = server.start()
    print(f"fake Cloud Code listening on {fake.url}")
    for url in fake.base_urls():
        print(f"  base URL     {url}")
    print(f"  token URL    {fake.token_url}\n  userinfo URL {fake.userinfo_url}\n  auth URL     {fake.auth_url}")
    for acc in fake.accounts.values():
        print(f"  account      {acc.email}  refresh_token={acc.refresh_token}  project={acc.project}")
    print("  env: " + " ".join(f"{k}={v}" for k, v in fake.env().items()), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
        server.stop()


if __name__ == "__main__":
    main()

