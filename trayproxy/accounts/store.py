"""Account records: JSON next to the config (accounts.json); refresh tokens in the SecretStore.

A record holds what the UI shows and the pool needs (e-mail, project, tier, the account's model
catalog with per-model limits and quota and the host it was read from, both quota windows per
model group, Google's forwarding rules for retired ids and the ones learned from refusal texts,
the AI credit balance, disabled reason). It never holds a token. Saves are atomic, so a crash mid-save loses nothing, and the
catalog is there at once after a restart.

In the running app the store belongs to the engine loop (controller.py binds it): records change
there and only there, so nothing here locks. What blocks does not run on that loop: accounts.json
is serialised on the loop and written by a worker thread (one write at a time, the newest state
last: `save` / `a_save`), and the refresh tokens go to the keychain from worker threads (`a_put`,
`a_remove`, `a_set_refresh_token`). Called from anywhere else (a store of its own in the CLI, a
test's thread) the same methods do their work at once, in the caller's thread.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from trayproxy.fileio import atomic_write
from trayproxy.secrets import SecretStore, refresh_token_name

__all__ = ["ModelQuota", "QuotaWindow", "Account", "AccountStore", "AccountStoreError"]

log = logging.getLogger("trayproxy.accounts")


_TRIAGE_FIELDS = ("disabled_by", "disabled_link", "verify_url", "verify_text", "verify_message", "verify_at",
                  "onboarded_at", "setup_problem", "setup_link")


class AccountStoreError(RuntimeError):
    pass


@dataclass
class ModelQuota:
    """One id the account serves (from fetchAvailableModels): its quota and limits."""

    remaining: float | None = None  # 0.0 .. 1.0, None when the upstream did not say
    reset_time: float | None = None  # epoch seconds
    display_name: str | None = None
    max_output_tokens: int | None = None
    max_tokens: int | None = None  # context window (input + output)
    provider: str | None = None  # apiProvider, e.g. API_PROVIDER_GOOGLE_GEMINI


_QUOTA_FIELDS = ("remaining", "reset_time", "display_name", "max_output_tokens", "max_tokens", "provider")


@dataclass
class QuotaWindow:
    """One bucket of retrieveUserQuotaSummary: a model group's 5-hour or weekly window."""

    family: str  # "gemini" (Gemini models) or "3p" (Claude and GPT models)
    window: str  # "5h" or "weekly"
    remaining: float | None = None  # 0.0 .. 1.0, None when Google did not say ("unknown")
    reset_time: float | None = None  # epoch seconds
    group: str = ""  # the group's display name, e.g. "Gemini Models"


def _window(d: dict[str, Any]) -> QuotaWindow:
    def num(v: Any) -> float | None:
        return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None

    return QuotaWindow(str(d["family"]), str(d["window"]), num(d.get("remaining")), num(d.get("reset_time")),
                       str(d.get("group") or ""))


@dataclass
class Account:
    id: str
    email: str
    project: str | None = None
    tier: str | None = None
    models: dict[str, ModelQuota] = field(default_factory=dict)
    quota_updated: float | None = None  # when `models` was last read from the upstream
    deprecated_models: dict[str, str] = field(default_factory=dict)  # Google's rules: retired id -> new id
    default_model: str | None = None  # defaultAgentModelId
    model_order: list[str] = field(default_factory=list)  # agentModelSorts, flattened: recommended first
    catalog_host: str | None = None  # the base URL whose catalog `models` is (each host keeps its own)
    retired: dict[str, str] = field(default_factory=dict)  # learned from refusal texts: old id -> new id
    quota_windows: list[QuotaWindow] = field(default_factory=list)  # retrieveUserQuotaSummary
    windows_updated: float | None = None  # when `quota_windows` was last read
    credits: int | None = None  # Google One AI credits (loadCodeAssist), None: not reported
    web_search_models: list[str] = field(default_factory=list)  # webSearchModelIds: may run Google Search
    disabled: bool = False
    disabled_reason: str | None = None
    disabled_at: float | None = None
    # error triage (accounts.triage): who disabled it and where the person fixes it; an
    # account Google wants verified is paused (not disabled) with Google's link
    disabled_by: str | None = None  # "google" | "user" | "sign-in"
    disabled_link: str | None = None
    verify_url: str | None = None
    verify_text: str | None = None
    verify_message: str | None = None
    verify_at: float | None = None
    onboarded_at: float | None = None
    # why Google would not set the account up for Code Assist (its words; accounts/words.py says
    # what to do): the account is kept, shown as "not eligible", and never sent requests
    setup_problem: str | None = None
    setup_link: str | None = None
    created_at: float = 0.0
    last_used: float | None = None

    @staticmethod
    def new(email: str, *, now: float) -> Account:
        return Account(id=str(uuid.uuid4()), email=email, created_at=now)

    @property
    def onboarded(self) -> bool:
        return bool(self.project)

    @property
    def label(self) -> str:
        """What API clients may see of an account: its short id, never the e-mail."""
        return self.id[:8]

    @property
    def needs_verification(self) -> bool:
        return self.verify_at is not None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_json(d: dict[str, Any]) -> Account:
        models = {
            str(k): ModelQuota(**{f: v.get(f) for f in _QUOTA_FIELDS})
            for k, v in (d.get("models") or {}).items()
            if isinstance(v, dict)
        }
        return Account(
            id=str(d["id"]),
            email=str(d.get("email", "")),
            project=d.get("project"),
            tier=d.get("tier"),
            models=models,
            quota_updated=d.get("quota_updated"),
            deprecated_models={str(k): str(v) for k, v in (d.get("deprecated_models") or {}).items()
                               if isinstance(v, str)},
            default_model=d.get("default_model") if isinstance(d.get("default_model"), str) else None,
            model_order=[str(m) for m in (d.get("model_order") or []) if isinstance(m, str)],
            catalog_host=d.get("catalog_host") if isinstance(d.get("catalog_host"), str) else None,
            retired={str(k): str(v) for k, v in (d.get("retired") or {}).items() if isinstance(v, str)},
            quota_windows=[_window(w) for w in (d.get("quota_windows") or []) if isinstance(w, dict)
                           and isinstance(w.get("family"), str) and isinstance(w.get("window"), str)],
            windows_updated=d.get("windows_updated"),
            credits=d.get("credits") if isinstance(d.get("credits"), int) else None,
            web_search_models=[str(m) for m in (d.get("web_search_models") or []) if isinstance(m, str)],
            disabled=bool(d.get("disabled", False)),
            disabled_reason=d.get("disabled_reason"),
            disabled_at=d.get("disabled_at"),
            **{k: d.get(k) for k in _TRIAGE_FIELDS},
            created_at=float(d.get("created_at") or 0.0),
            last_used=d.get("last_used"),
        )


class AccountStore:
    """accounts.json + refresh tokens; see the module comment for who may call what, where."""

    def __init__(self, path: Path, secrets: SecretStore) -> None:
        self.path = path
        self.secrets = secrets
        self._accounts: dict[str, Account] = {}
        # Ids removed while this process runs: work still in flight for one (a token refresh, a
        # quota fetch) must never write it back.
        self._removed: set[str] = set()
        self._loop: asyncio.AbstractEventLoop | None = None  # the engine's, once bound
        self._dirty = False  # a change not yet handed to the writer
        self._writer: asyncio.Task[None] | None = None
        self.load()

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """From now on, saves made on `loop` (the engine's) are written by a worker thread."""
        self._loop = loop

    def _on_own_loop(self) -> bool:
        try:
            return asyncio.get_running_loop() is self._loop
        except RuntimeError:
            return False

    # -- the file ----------------------------------------------------------------------------
    def _read(self) -> dict[str, Account]:
        try:
            raw = json.loads(self.path.read_text("utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as e:
            raise AccountStoreError(
                f"{self.path} cannot be read ({e}). Fix or move the file; trayproxy will not overwrite it."
            ) from e
        items = raw.get("accounts", []) if isinstance(raw, dict) else []
        out: dict[str, Account] = {}
        for d in items:
            if isinstance(d, dict) and d.get("id"):
                a = Account.from_json(d)
                out[a.id] = a
        return out

    def load(self) -> None:
        self._accounts = self._read()

    async def a_load(self) -> None:
        """load() with the file read and parsed in a worker thread."""
        self._accounts = await asyncio.to_thread(self._read)

    def _encode(self) -> bytes:
        data = {"version": 1, "accounts": [a.to_json() for a in self._accounts.values()]}
        return (json.dumps(data, indent=2) + "\n").encode()

    def _write(self, data: bytes) -> None:
        atomic_write(self.path, data, mode=0o600)

    def save(self) -> None:
        """Write accounts.json. On the bound loop: the records are serialised now and a worker
        thread writes them, after any write in progress (a burst of changes becomes one write);
        `a_save` / `a_flush` wait for it, and a failed background write is logged (the next change
        writes everything again). Anywhere else: written now, in the caller's thread."""
        if not self._on_own_loop():
            self._write(self._encode())
            return
        self._dirty = True
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._drain())
            self._writer.add_done_callback(_log_failed_write)

    async def _drain(self) -> None:
        while self._dirty:
            self._dirty = False
            await asyncio.to_thread(self._write, self._encode())

    async def a_save(self) -> None:
        """Save and wait until the file is written; its error is raised here."""
        if not self._on_own_loop():  # a loop of the caller's own (a test): a worker thread all the same
            await asyncio.to_thread(self._write, self._encode())
            return
        self.save()
        await self.a_flush()

    async def a_flush(self) -> None:
        """Wait for the write in progress on the bound loop, if any (raising its error)."""
        writer = self._writer
        if writer is not None and self._on_own_loop():
            await asyncio.shield(writer)

    # -- records -----------------------------------------------------------------------------
    def all(self) -> list[Account]:
        return list(self._accounts.values())

    def get(self, account_id: str) -> Account | None:
        return self._accounts.get(account_id)

    def find(self, id_or_email: str) -> Account | None:
        if id_or_email in self._accounts:
            return self._accounts[id_or_email]
        matches = [a for a in self._accounts.values() if a.email.lower() == id_or_email.lower()]
        if not matches:
            matches = [a for a in self._accounts.values() if a.id.startswith(id_or_email)]
        return matches[0] if len(matches) == 1 else None

    def by_email(self, email: str) -> Account | None:
        for a in self._accounts.values():
            if a.email.lower() == email.lower():
                return a
        return None

    def put(self, account: Account, refresh_token: str | None = None) -> None:
        """Insert or replace a record (and its refresh token when given), then save. Blocks on
        the keychain: the engine loop uses a_put."""
        if account.id in self._removed:
            return
        if refresh_token is not None:
            self.secrets.set(refresh_token_name(account.id), refresh_token)
        self._accounts[account.id] = account
        self.save()

    async def a_put(self, account: Account, refresh_token: str | None = None) -> None:
        """put() on the engine loop: the token goes to the keychain from a worker thread, the
        record is in memory at once, and accounts.json is written before this returns."""
        if account.id in self._removed:
            return
        if refresh_token is not None:
            name = refresh_token_name(account.id)
            await asyncio.to_thread(self.secrets.set, name, refresh_token)
            if account.id in self._removed:  # removed while the keychain was busy: take it back
                await asyncio.to_thread(self.secrets.delete, name)
                return
        self._accounts[account.id] = account
        await self.a_save()

    def remove(self, account_id: str) -> Account | None:
        """Blocks on the keychain: the engine loop uses a_remove."""
        a = self._accounts.pop(account_id, None)
        self._removed.add(account_id)
        if a is not None:
            self.save()
            self.secrets.delete(refresh_token_name(account_id))
        return a

    async def a_remove(self, account_id: str) -> Account | None:
        a = self._accounts.pop(account_id, None)
        self._removed.add(account_id)
        if a is not None:
            await self.a_save()
            await asyncio.to_thread(self.secrets.delete, refresh_token_name(account_id))
        return a

    def refresh_token(self, account_id: str) -> str | None:
        """Blocks on the keychain (the engine loop calls it in a worker thread)."""
        return self.secrets.get(refresh_token_name(account_id))

    def set_refresh_token(self, account_id: str, token: str) -> None:
        if account_id in self._removed:
            return
        self.secrets.set(refresh_token_name(account_id), token)

    async def a_set_refresh_token(self, account_id: str, token: str) -> None:
        if account_id in self._removed:
            return
        await asyncio.to_thread(self.secrets.set, refresh_token_name(account_id), token)


def _log_failed_write(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (e := task.exception()) is not None:
        log.error("accounts.json could not be written: %s", e)
