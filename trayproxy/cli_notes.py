"""Notices the CLI prints for library warnings, once per command and in the CLI's own format.

The SecretStore warns (a log line) when there is no system keychain. A command (`accounts list`,
`key show`, ...) may build more than one store, and without logging set up Python prints the bare
message, so the user saw a stray line, sometimes twice. `route_notices(cmd)` sends those warnings
here instead: one `trayproxy: note: ...` line on stderr per command, like the CLI's other notes.
`doctor` reports the keychain itself and prints none.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

__all__ = ["route_notices", "unroute_notices", "NoticeHandler"]

_KEYCHAIN = "No usable system keychain"


class NoticeHandler(logging.Handler):
    def __init__(self, stream: TextIO | None = None, *, keychain: bool = True) -> None:
        super().__init__(logging.WARNING)
        self.stream = stream
        self.keychain = keychain
        self.said: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            msg = record.getMessage()
            if msg.startswith(_KEYCHAIN):
                if not self.keychain:
                    return
                reason, path = (record.args + (None, None))[:2] if isinstance(record.args, tuple) else (None, None)
                text = (f"trayproxy: note: no system keychain ({reason}); secrets are kept in {path} "
                        f"(mode 0600)") if reason and path else "trayproxy: note: " + msg[0].lower() + msg[1:]
                key = _KEYCHAIN
            else:
                text, key = f"trayproxy: warning: {msg}", msg
            if key in self.said:
                return
            self.said.add(key)
            print(text, file=self.stream or sys.stderr)
        except Exception:
            self.handleError(record)


def route_notices(cmd: str | None, stream: TextIO | None = None) -> NoticeHandler | None:
    """For CLI commands (not the tray app, whose log goes to its file): keychain and other
    SecretStore warnings become one CLI-style line each."""
    if cmd is None:
        return None
    handler = NoticeHandler(stream, keychain=cmd != "doctor")
    logger = logging.getLogger("trayproxy.secrets")
    unroute_notices()
    logger.addHandler(handler)
    logger.propagate = False
    return handler


def unroute_notices() -> None:
    """Undo route_notices (tests run many commands in one process)."""
    logger = logging.getLogger("trayproxy.secrets")
    for h in list(logger.handlers):
        if isinstance(h, NoticeHandler):
            logger.removeHandler(h)
    logger.propagate = True
