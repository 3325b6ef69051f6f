"""Shared helpers for the control-plane tests (and the page tests in tests/ui): a Controller in a
temp dir with an in-memory keychain, accounts, a fed request log."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.conftest import MemoryKeyring, free_port  # noqa: F401  (one copy for all tests)


def make_controller(home: Path) -> Any:
    from trayproxy.controller import Controller
    from trayproxy.paths import AppPaths

    ctl = Controller(AppPaths(home, home), secrets_backend=MemoryKeyring(), env={})
    ctl.set_config("port", free_port())
    return ctl


def add_account(ctl: Any, email: str = "a@example.com", *, models: bool = True) -> Any:
    """A signed-in account, written by the test (as a hand edit would) and read back by reload()."""
    acc = new_account(email, models=models)
    ctl.store.put(acc, refresh_token="rt-" + email)
    ctl.reload()
    return acc


def new_account(email: str = "a@example.com", *, models: bool = True) -> Any:
    from trayproxy.accounts.store import Account, ModelQuota

    acc = Account.new(email, now=time.time())
    acc.project = "proj-" + email.split("@")[0]
    acc.tier = "standard-tier"
    if models:
        now = time.time()
        acc.models = {
            "claude-sonnet-4-6": ModelQuota(remaining=0.82, reset_time=now + 3 * 3600),
            "gemini-2.5-flash": ModelQuota(remaining=0.35, reset_time=now + 40 * 60),
            "gemini-3-pro-high": ModelQuota(remaining=0.1, reset_time=now + 26 * 3600),
        }
        acc.quota_updated = now
    return acc


def feed_monitor(ctl: Any, accounts: list[Any], n: int = 30, *, now: float | None = None,
                 bodies_every: int = 3) -> list[Any]:
    """Record n varied requests (newest first: index 0 is the most recent) and wait until they are
    on disk. Every `bodies_every`-th record carries request/response bodies; statuses, protocols,
    models, accounts and upstreams (google / zai) vary."""
    import json

    from trayproxy.monitor import RequestRecord

    now = time.time() if now is None else now
    mon = ctl.monitor
    kinds = [
        # status, outcome, protocol, route, client model, upstream model, upstream, error
        (200, "ok", "anthropic", "/v1/messages", "claude-sonnet-4-6", "claude-sonnet-4-6", "google", None),
        (200, "ok", "openai", "/v1/chat/completions", "gpt-4o", "gemini-2.5-flash", "google", None),
        (200, "ok", "anthropic", "/v1/messages", "claude-opus-4-5", "glm-4.7", "zai", None),
        (429, "error", "openai", "/v1/responses", "gpt-5", "gemini-3-pro-high", "google",
         "All accounts are rate limited for gemini-3-pro-high; retry in 42 s"),
        (200, "ok", "gemini", "/v1beta/models/gemini-2.5-flash:streamGenerateContent", "gemini-2.5-flash",
         "gemini-2.5-flash", "google", None),
        (502, "error", "anthropic", "/v1/messages", "claude-sonnet-4-6", "claude-sonnet-4-6", "google",
         "upstream answered 500: <html>Internal error</html>"),
        (200, "ok", "openai", "/v1/chat/completions", "gpt-4o-mini", "gemini-2.5-flash", "google", None),
        (499, "client_disconnect", "anthropic", "/v1/messages", "claude-haiku-4-5", "glm-4.5-air", "zai",
         "the client closed the connection before the answer was complete"),
        (400, "error", "openai", "/v1/chat/completions", "gpt-4o", None, None, "messages must be a non-empty list"),
        (200, "ok", "anthropic", "/v1/messages", "claude-sonnet-4-6", "claude-sonnet-4-6", "google", None),
    ]
    saved = (mon.store_bodies, mon.enabled)
    mon.configure(store_bodies=True, enabled=True)
    recs = []
    try:
        for i in range(n):
            status, outcome, proto, route, cmodel, umodel, upstream, error = kinds[i % len(kinds)]
            acc = None
            if upstream == "google":
                acc = accounts[i % len(accounts)].id if accounts else None
            body = i % bodies_every == 0
            req = {"model": cmodel, "messages": [{"role": "user", "content": f"Request number {i} <b>not bold</b>"}],
                   "stream": i % 2 == 0}
            resp = {"id": f"msg_{i}", "content": [{"type": "text", "text": f"Answer {i}"}]}
            rec = RequestRecord(
                id=f"req-{i:03d}", ts=now - 20 - i * i * 80, method="POST", route=route + ("?beta=true" if i == 0 else ""),
                protocol=proto, client_model=cmodel, upstream_model=umodel, account_id=acc, upstream=upstream,
                status=status, outcome=outcome, duration_ms=35.0 + (i * 977) % 14000, ttfb_ms=20.0 + i * 11,
                input_tokens=0 if status >= 400 else 800 + (i * 5371) % 42000,
                output_tokens=0 if status >= 400 else 40 + (i * 1319) % 3900,
                cached_tokens=(i * 113) % 500, reasoning_tokens=(i * 37) % 300 if i % 4 == 0 else 0,
                stream=i % 2 == 0, error=error, user_agent=f"claude-cli/2.0.{i} (external, cli)",
                request_body=json.dumps(req).encode() if body else None,
                response_body=json.dumps(resp).encode() if body else None,
            )
            mon.record(rec)
            recs.append(rec)
        mon.flush()
    finally:
        mon.configure(store_bodies=saved[0], enabled=saved[1])
    return recs
