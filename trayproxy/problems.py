"""Why the proxy could not start, tied to its cause, so the message goes when the cause does.

A failed Start leaves a StartProblem on the Controller. It is shown (tray icon and menu, the
settings page banner) only while its cause stands: "no account" ends once an account is usable or
z.ai can answer, "port in use" once the port setting changes or the port is free again. A port
problem carries the next free port so the page and the tray can offer it.
"""

from __future__ import annotations

import errno
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["StartProblem", "NO_ACCOUNT", "PORT", "OTHER", "bind_problem", "next_free_port"]

NO_ACCOUNT = "no_account"
PORT = "port"
OTHER = "other"


@dataclass(frozen=True)
class StartProblem:
    kind: str  # NO_ACCOUNT | PORT | OTHER
    message: str
    host: str | None = None
    port: int | None = None
    reason: str | None = None  # "in_use" | "denied" | None: what the OS said, as a word
    suggested_port: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def current(self, *, usable: bool, host: str, port: int) -> bool:
        """Whether the cause still stands. `usable`: an account or z.ai can answer now;
        host/port: what a Start would bind now."""
        if self.kind == NO_ACCOUNT:
            return not usable
        if self.kind == PORT:
            return (self.host, self.port) == (host, port)
        return True


def next_free_port(host: str, port: int, tries: int = 40) -> int | None:
    """The first port after `port` (and at 1024 or above) that can be bound on `host` now."""
    from trayproxy.ports import port_is_free

    start = max(port + 1, 1024)
    for candidate in range(start, min(start + tries, 65536)):
        if port_is_free(host, candidate)[0]:
            return candidate
    return None


def bind_problem(message: str, cause: BaseException | None, host: str, port: int) -> StartProblem:
    """A StartProblem for a bind failure (`cause` is the OSError), with a free port to offer."""
    code = getattr(cause, "errno", None)
    reason = {errno.EADDRINUSE: "in_use", errno.EACCES: "denied"}.get(code) if code is not None else None
    return StartProblem(PORT, message, host=host, port=port, reason=reason,
                        suggested_port=next_free_port(host, port))
