"""One client key: what it may use and how much, and how a presented key is recognised.

1. A key is `sk-tp-` + 40 characters of `secrets.token_urlsafe` (240 bits). The `sk-` start
   lets every client that expects an OpenAI-style key take it, and the monitor's redaction
   already removes that shape from anything it stores.
2. Only its SHA-256 is stored (hex). A keyed hash (HMAC with a pepper) would add nothing for a
   240-bit random secret, which no one can guess from its hash, and it would need a secret
   shared by every instance; a plain hash needs none, so instances that share PostgreSQL
   recognise each other's keys with no extra setup.
3. Limits: requests per minute (rpm), tokens per minute (tpm), tokens per day (UTC), model name
   patterns (shell-style: `gemini-*`), an expiry. None / empty means no limit.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import re
import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["ClientKey", "ClientKeyError", "PREFIX", "generate", "hash_key", "looks_like_client_key",
           "parse_expiry", "check_name"]

PREFIX = "sk-tp-"
_SECRET_LEN = 40
_NAME_RE = re.compile(r"^[\w.@+\- ]{1,64}$")


class ClientKeyError(ValueError):
    """A key cannot be made or changed as asked; the message is for the person."""


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


def looks_like_client_key(key: str) -> bool:
    return key.startswith(PREFIX) and len(key) == len(PREFIX) + _SECRET_LEN


def generate() -> str:
    while True:
        secret = secrets.token_urlsafe(30)  # 40 characters
        if len(secret) == _SECRET_LEN:
            return PREFIX + secret


def check_name(name: str) -> str:
    name = name.strip()
    if not _NAME_RE.match(name):
        raise ClientKeyError("A key's name is 1 to 64 letters, digits, spaces or . _ - @ + "
                             f"(got {name!r})")
    return name


def parse_expiry(text: str, *, now: float | None = None) -> float:
    """`2027-01-31` (the key works through that day, local time), an ISO date and time, or a
    span from now: `30d`, `12h`. Epoch seconds."""
    now = time.time() if now is None else now
    s = text.strip()
    m = re.fullmatch(r"(\d+)\s*([dhm])", s)
    if m:
        n, unit = int(m.group(1)), m.group(2)
        return now + n * {"d": 86400, "h": 3600, "m": 60}[unit]
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
            day = dt.date.fromisoformat(s) + dt.timedelta(days=1)
            ts = dt.datetime(day.year, day.month, day.day).timestamp()
        else:
            ts = dt.datetime.fromisoformat(s).timestamp()
    except ValueError:
        raise ClientKeyError(f"--expires takes a date (2027-01-31), a date and time (2027-01-31T18:00) or a "
                             f"span (30d, 12h); got {text!r}") from None
    if ts <= now:
        raise ClientKeyError(f"--expires {text} is in the past")
    return ts


def _limit(name: str, v: Any) -> int | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ClientKeyError(f"{name} must be a whole number of 1 or more (got {v!r})")
    return v


@dataclass
class ClientKey:
    id: str  # "k" + 10 hex, not secret: names the key in logs, metrics and commands
    name: str
    hash: str  # sha256 hex of the key; the key itself is never stored
    prefix: str  # the first characters, so a person can tell which key a client holds
    models: list[str] = field(default_factory=list)  # patterns; empty: every model
    rpm: int | None = None
    tpm: int | None = None
    daily_tokens: int | None = None
    expires_at: float | None = None
    created_at: float = 0.0
    revoked_at: float | None = None

    @staticmethod
    def new(name: str, key: str, *, models: list[str] | None = None, rpm: int | None = None,
            tpm: int | None = None, daily_tokens: int | None = None, expires_at: float | None = None,
            now: float | None = None) -> ClientKey:
        pats = [p.strip() for p in (models or []) if p and p.strip()]
        return ClientKey(id="k" + secrets.token_hex(5), name=check_name(name), hash=hash_key(key),
                         prefix=key[: len(PREFIX) + 4], models=pats, rpm=_limit("--rpm", rpm),
                         tpm=_limit("--tpm", tpm), daily_tokens=_limit("--daily-tokens", daily_tokens),
                         expires_at=expires_at, created_at=time.time() if now is None else now)

    @property
    def limited(self) -> bool:
        """Whether requests must be counted (rpm, tpm or tokens per day)."""
        return self.rpm is not None or self.tpm is not None or self.daily_tokens is not None

    def active(self, now: float) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)

    def allows_model(self, *names: str | None) -> bool:
        if not self.models:
            return True
        return any(n and any(fnmatch.fnmatchcase(n, p) for p in self.models) for n in names)

    def state(self, now: float) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and now >= self.expires_at:
            return "expired"
        return "active"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def public(self, now: float | None = None) -> dict[str, Any]:
        """What the page, the CLI and the API show: everything but the hash."""
        d = asdict(self)
        d.pop("hash")
        d["state"] = self.state(time.time() if now is None else now)
        return d

    @staticmethod
    def from_json(d: dict[str, Any]) -> ClientKey:
        def num(k: str) -> int | None:
            v = d.get(k)
            return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None

        def when(k: str) -> float | None:
            v = d.get(k)
            return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None

        return ClientKey(id=str(d["id"]), name=str(d.get("name") or d["id"]), hash=str(d["hash"]),
                         prefix=str(d.get("prefix") or ""),
                         models=[str(m) for m in (d.get("models") or []) if isinstance(m, str)],
                         rpm=num("rpm"), tpm=num("tpm"), daily_tokens=num("daily_tokens"),
                         expires_at=when("expires_at"), created_at=float(d.get("created_at") or 0.0),
                         revoked_at=when("revoked_at"))
