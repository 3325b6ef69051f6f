"""The app's own log (stderr, and for the tray app `trayproxy.log`): where it goes, and that
nothing a client sent reaches it raw.

1. `setup` gives the root logger its handlers: stderr, and a log file that is created 0600,
   rotates at `MAX_BYTES` (`BACKUPS` old files kept), so the log never grows without bound.
2. Every line goes through `SafeFormatter`: control characters in a message become visible
   escapes (a request path with ESC sequences or a line feed cannot recolour the terminal or
   forge a log line; tracebacks keep their own line breaks), and secrets are redacted: the ones
   the app knows (`known_secrets`, the API key and the z.ai key) and the shapes of keys and
   tokens (monitor/redact.py).
3. aiohttp logs a request its parser refuses with the raw request or header line and a
   traceback (an API key with a stray control byte ended up in the log whole; 2,000 malformed
   requests added 17 MB). `HttpErrorFilter` on aiohttp's server logger makes each one line
   naming the client and the reason (no bytes of the request), and at most one a minute: the
   line says how many more there were. aiohttp's access log (a line per request, with the
   client's request line and User-Agent) is not kept: the monitor is trayproxy's request log.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable, Iterable
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any, TextIO

from aiohttp.http_exceptions import HttpProcessingError

from trayproxy.fileio import open_private_append
from trayproxy.monitor.redact import printable, redact_known, secret_forms

__all__ = ["setup", "teardown", "known_secrets", "SafeFormatter", "HttpErrorFilter", "PrivateRotatingFile",
           "MAX_BYTES", "BACKUPS", "HTTP_ERROR_EVERY"]

MAX_BYTES = 5 << 20
BACKUPS = 3
HTTP_ERROR_EVERY = 60.0  # s: at most one line about malformed requests this often
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_secrets: list[Callable[[], Iterable[str]]] = []


def known_secrets(provider: Callable[[], Iterable[str]]) -> None:
    """Redact what `provider()` returns from every log line (the Controller registers its keys)."""
    _secrets[:] = [provider]


def _forms() -> list[str]:
    found: list[str] = []
    for provider in _secrets:
        try:
            found += [s for s in provider() if s]
        except Exception:  # a log line must never fail on a keychain problem
            continue
    return secret_forms(found)


class SafeFormatter(logging.Formatter):
    """Formats as logging.Formatter does, with client text made printable and secrets removed."""

    def format(self, record: logging.LogRecord) -> str:
        record.message = printable(record.getMessage())
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        text = self.formatMessage(record)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            text += "\n" + printable(record.exc_text, lines=True)
        if record.stack_info:
            text += "\n" + printable(self.formatStack(record.stack_info), lines=True)
        return redact_known(text, _forms())


class HttpErrorFilter(logging.Filter):
    """For `aiohttp.server`: a request the HTTP parser refused becomes one short line (module
    comment, 3), at most one per `HTTP_ERROR_EVERY` seconds (by the records' own times)."""

    def __init__(self) -> None:
        super().__init__()
        self._last = float("-inf")
        self._left_out = 0

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, HttpProcessingError):
            return True
        if record.created - self._last < HTTP_ERROR_EVERY:
            self._left_out += 1
            return False
        first = str(exc.message or "").strip().split("\n", 1)[0]
        reason = re.split(r"[:'\"\\]", first, maxsplit=1)[0].strip()[:80] or type(exc).__name__
        client = record.args[0] if isinstance(record.args, tuple) and record.args else "a client"
        more = (f"; {self._left_out} more since the last one was logged" if self._left_out else "")
        record.msg = "refused a malformed HTTP request from %s (%s %s)%s"
        record.args = (client, exc.code, reason, more)
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info = record.exc_text = None
        self._last, self._left_out = record.created, 0
        return True


class PrivateRotatingFile(RotatingFileHandler):
    """A rotating log file that only the user can read (fileio.open_private_append)."""

    def _open(self) -> TextIO:  # type: ignore[override]
        return open_private_append(Path(self.baseFilename), encoding=self.encoding or "utf-8")


_installed: list[tuple[logging.Logger, Any]] = []


def setup(*, log_file: Path | None = None, console: TextIO | None = None, console_level: int = logging.WARNING,
          file_level: int = logging.INFO, datefmt: str = "%Y-%m-%d %H:%M:%S") -> None:
    """The root logger's handlers (stderr unless `console` says otherwise; `log_file` when
    given), all through SafeFormatter, and the filter on aiohttp's server log."""
    teardown()
    fmt = SafeFormatter(FORMAT, datefmt)
    root = logging.getLogger()
    stream = logging.StreamHandler(console or sys.stderr)
    stream.setLevel(console_level)
    handlers: list[logging.Handler] = [stream]
    if log_file is not None:
        for old in log_file.parent.glob(log_file.name + ".*"):  # backups an older version left readable
            try:
                old.chmod(0o600)
            except OSError:
                pass
        f = PrivateRotatingFile(log_file, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")
        f.setLevel(file_level)
        handlers.append(f)
    root.setLevel(min(h.level for h in handlers))
    for h in handlers:
        h.setFormatter(fmt)
        root.addHandler(h)
        _installed.append((root, h))
    access = logging.getLogger("aiohttp.access")
    _installed.append((access, access.level))
    access.setLevel(logging.WARNING)
    http = HttpErrorFilter()
    server = logging.getLogger("aiohttp.server")
    server.addFilter(http)
    _installed.append((server, http))


def teardown() -> None:
    """Undo `setup` (the tests set it up more than once in one process)."""
    for logger, thing in reversed(_installed):
        if isinstance(thing, logging.Handler):
            logger.removeHandler(thing)
            thing.close()
        elif isinstance(thing, int):
            logger.setLevel(thing)
        else:
            logger.removeFilter(thing)
    _installed.clear()
