"""Account records: JSON next to the config (accounts.json); refresh tokens in the SecretStore.

A record holds what the UI shows and the pool needs (e-mail, project, tier, the account's model
catalog with per-model limits and quota, Google's forwarding rules for retired ids, disabled
reason). It never holds a token. Saves are atomic, so a crash mid-save loses nothing, and the
catalog is there at once after a restart.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from trayproxy.fileio import atomic_write
from trayproxy.secrets import SecretStore, refresh_token_name

__all__ = ["ModelQuota", "Account", "AccountStore", "AccountStoreError"]


_TRIAGE_FIELDS = ("disabled_by", "disabled_link", "verify_url", "verify_text", "verify_message", "verify_at",
                  "onboarded_at")


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
            disabled=bool(d.get("disabled", False)),
            disabled_reason=d.get("disabled_reason"),
            disabled_at=d.get("disabled_at"),
            **{k: d.get(k) for k in _TRIAGE_FIELDS},
            created_at=float(d.get("created_at") or 0.0),
            last_used=d.get("last_used"),
        )


class AccountStore:
    """accounts.json + refresh tokens. Thread-safe; every mutation is saved atomically."""

    def __init__(self, path: Path, secrets: SecretStore) -> None:
        self.path = path
        self.secrets = secrets
        self._lock = threading.RLock()
        self._accounts: dict[str, Account] = {}
        # Ids removed while this process runs: work still in flight for one (a token refresh, a
        # quota fetch) must never write it back.
        self._removed: set[str] = set()
        self.load()

    def load(self) -> None:
        with self._lock:
            try:
                raw = json.loads(self.path.read_text("utf-8"))
            except FileNotFoundError:
                self._accounts = {}
                return
            except (OSError, ValueError) as e:
                raise AccountStoreError(
                    f"{self.path} cannot be read ({e}). Fix or move the file; trayproxy will not overwrite it."
                ) from e
            items = raw.get("accounts", []) if isinstance(raw, dict) else []
            self._accounts = {}
            for d in items:
                if isinstance(d, dict) and d.get("id"):
                    a = Account.from_json(d)
                    self._accounts[a.id] = a

    def _save(self) -> None:
        data = {"version": 1, "accounts": [a.to_json() for a in self._accounts.values()]}
        atomic_write(self.path, (json.dumps(data, indent=2) + "\n").encode(), mode=0o600)

    def all(self) -> list[Account]:
        with self._lock:
            return list(self._accounts.values())

    def get(self, account_id: str) -> Account | None:
        with self._lock:
            return self._accounts.get(account_id)

    def find(self, id_or_email: str) -> Account | None:
        with self._lock:
            if id_or_email in self._accounts:
                return self._accounts[id_or_email]
            matches = [a for a in self._accounts.values() if a.email.lower() == id_or_email.lower()]
            if not matches:
                matches = [a for a in self._accounts.values() if a.id.startswith(id_or_email)]
            return matches[0] if len(matches) == 1 else None

    def by_email(self, email: str) -> Account | None:
        with self._lock:
            for a in self._accounts.values():
                if a.email.lower() == email.lower():
                    return a
            return None

    def put(self, account: Account, refresh_token: str | None = None) -> None:
        """Insert or replace a record (and its refresh token when given), then save."""
        with self._lock:
            if account.id in self._removed:
                return
            if refresh_token is not None:
                self.secrets.set(refresh_token_name(account.id), refresh_token)
            self._accounts[account.id] = account
            self._save()

    def save(self) -> None:
        with self._lock:
            self._save()

    def remove(self, account_id: str) -> Account | None:
        with self._lock:
            a = self._accounts.pop(account_id, None)
            self._removed.add(account_id)
            if a is not None:
                self._save()
                self.secrets.delete(refresh_token_name(account_id))
            return a

    def refresh_token(self, account_id: str) -> str | None:
        return self.secrets.get(refresh_token_name(account_id))

    def set_refresh_token(self, account_id: str, token: str) -> None:
        with self._lock:
            if account_id in self._removed:
                return
            self.secrets.set(refresh_token_name(account_id), token)
