"""Removing secrets from anything the monitor stores or the app logs: exact known secrets (also
in their JSON-escaped and URL-encoded spellings) and the shapes of keys and tokens (`sk-` keys,
Google OAuth access / refresh tokens, Google API keys, bearer tokens, credential-named JSON
fields and headers, `?key=` in URLs); and making client text safe to show (`printable`):
control characters a terminal would act on become visible escapes."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import quote

__all__ = ["redact_text", "redact_known", "redact_shapes", "secret_forms", "needs_redaction", "redact_bytes", "cap_bytes",
           "utf8_safe", "printable", "has_controls", "MARK"]

MARK = "[REDACTED]"
_FIELDS = (
    r"api[_-]?key|key|access[_-]?token|refresh[_-]?token|id[_-]?token|authorization|proxy-authorization|"
    r"x-api-key|x-goog-api-key|client[_-]?secret|password|secret|token|auth[_-]?token|session[_-]?token"
)
# (pattern, number of groups kept around the mark)
_PATTERNS: list[re.Pattern[str]] = [
    # "field": "value"  (JSON, also with escaped quotes inside the value)
    re.compile(rf"(?i)(\"(?:{_FIELDS})\"\s*:\s*\")(?:[^\"\\]|\\.)*(\")"),
    # 'field': 'value'  (Python reprs in error text)
    re.compile(rf"(?i)('(?:{_FIELDS})'\s*:\s*')(?:[^'\\]|\\.)*(')"),
    # header lines: "Authorization: Bearer x", "x-api-key: x"
    re.compile(r"(?im)((?:^|[\s\"'{,])(?:authorization|proxy-authorization|x-api-key|x-goog-api-key)\s*[:=]\s*)"
               r"(?!\[REDACTED\])[^\r\n\"',}]+()"),
    re.compile(r"(?i)(bearer\s+)(?!\[REDACTED\])[\w.\-~+/=]{6,}()"),
    re.compile(r"(?i)([?&](?:key|api_key|apikey|access_token|refresh_token|token)=)[^&\s\"'#]+()"),
    re.compile(r"sk-[A-Za-z0-9_\-]{8,}"),
    re.compile(r"ya29\.[\w.\-]+"),
    re.compile(r"1//[\w\-]{20,}"),
    re.compile(r"1%2F%2F[\w\-]{20,}", re.I),
    re.compile(r"AIza[\w\-]{30,}"),
]


# Every pattern above needs one of these (case-insensitively): text without any of them is left
# as it is after one scan, instead of ten (most monitor fields: routes, model names, user agents).
_MAYBE = ("key", "token", "auth", "secret", "password", "bearer", "sk-", "ya29.", "1//", "1%2f%2f", "aiza")


def _maybe_secret(text: str) -> bool:
    low = text.casefold()  # a superset of what the patterns' IGNORECASE matches (e.g. U+212A, U+017F)
    for w in _MAYBE:
        if w in low:
            return True
    return False


@lru_cache(maxsize=64)
def _spellings(secret: str) -> tuple[str, ...]:
    return tuple({secret, secret.replace("/", "\\/"), quote(secret, safe=""), quote(secret)})


def secret_forms(secrets: Iterable[str]) -> list[str]:
    """Every spelling of every secret worth looking for (6 characters or more), longest first so
    that a secret containing another is removed whole."""
    forms = {form for s in secrets if s and len(s) >= 6 for form in _spellings(s)}
    return sorted(forms, key=len, reverse=True)


def needs_redaction(text: str, forms: list[str]) -> bool:
    """Whether `redact_known(text, forms)` could change anything (False: it would not)."""
    for form in forms:
        if form in text:
            return True
    return _maybe_secret(text)


def redact_known(text: str, forms: list[str]) -> str:
    """`text` with the given spellings (from `secret_forms`) and every key/token shape replaced."""
    for form in forms:
        if form in text:
            text = text.replace(form, MARK)
    return redact_shapes(text)


def redact_shapes(text: str) -> str:
    """`text` with every key/token shape replaced by [REDACTED]."""
    if not _maybe_secret(text):
        return text
    for pat in _PATTERNS:
        if pat.groups == 2:
            text = pat.sub(lambda m: m.group(1) + MARK + m.group(2), text)
        else:
            text = pat.sub(MARK, text)
    return text


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every given secret and every key/token shape replaced by [REDACTED]."""
    return redact_known(text, secret_forms(secrets))


def cap_bytes(data: bytes, cap: int) -> bytes:
    """At most `cap` bytes (cut on a character boundary) plus a `…[truncated N bytes]` marker."""
    if cap < 0 or len(data) <= cap:
        return data
    head = data[:cap].decode("utf-8", "ignore").encode()
    return head + f"\u2026[truncated {len(data) - len(head)} bytes]".encode()


def redact_bytes(data: bytes, secrets: Iterable[str] = (), *, cap: int | None = None,
                 forms: list[str] | None = None) -> bytes:
    """Redact (before capping, so a secret is never half-kept), then cap. `forms`: the secrets'
    spellings already worked out (`secret_forms`), instead of `secrets`."""
    text = bytes(data).decode("utf-8", "replace")
    out = redact_known(text, secret_forms(secrets) if forms is None else forms).encode()
    return out if cap is None else cap_bytes(out, cap)


def utf8_safe(text: str) -> str:
    """Text SQLite can store: header bytes that were not UTF-8 (kept by aiohttp as lone
    surrogates) become U+FFFD instead of failing the whole row."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")


# What a terminal (or a log viewer) would act on instead of showing: C0 controls (ESC starts the
# sequences that recolour, move the cursor, retitle the window or write to the clipboard), DEL,
# C1 controls (0x9b is a one-byte CSI), line and paragraph separators, and the bidirectional
# overrides that make text read differently from what it is.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_CONTROLS_BUT_LINES = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(m: re.Match[str]) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def has_controls(text: str) -> bool:
    """Whether `printable(text)` would change anything."""
    return _CONTROLS.search(text) is not None


def printable(text: str, *, lines: bool = False) -> str:
    """`text` with every control character shown as an escape (`\\x1b`, `\\u202e`), so that
    nothing a client sent acts on the terminal or log viewer that shows it. With `lines`, line
    feeds and tabs stay (a traceback's lines); without, a client cannot start a new log line."""
    pattern = _CONTROLS_BUT_LINES if lines else _CONTROLS
    return pattern.sub(_escape, text) if pattern.search(text) else text
