"""Why the proxy could not start, tied to its cause, so the message goes when the cause does.

A failed Start leaves a StartProblem on the Controller. It is shown (tray icon and menu, the
settings page banner) only while its cause stands: "no account" ends once an account is usable or
z.ai can answer, "port in use" once the port setting changes or the port is free again. A port
problem carries the next free port so the page and the tray can offer it, and the program that
holds the port when the OS says (trayproxy/ports.py): Antigravity-Manager listens on 8045 too.

A taken port is found before anything else (`port_problem`, before Start asks for an account),
so a first run with Antigravity-Manager open hears about the port at once, not after signing in.
`port_problem` and `bind_problem` probe sockets and may read /proc or run lsof: call them in a
worker thread. `port_advice` is the one English sentence `serve`, `doctor` and the tray use.
"""

from __future__ import annotations

import errno
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["StartProblem", "NO_ACCOUNT", "PORT", "OTHER", "bind_problem", "port_problem", "next_free_port",
           "port_advice"]

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
    holder: str | None = None  # the program listening there, as the OS names it ("nginx (pid 812)")
    holder_app: str | None = None  # the same when we know it: "Antigravity-Manager", "trayproxy", ...

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
    """A StartProblem for a bind failure (`cause` is the OSError), with a free port to offer and,
    for a port in use, the program holding it when the OS says."""
    from trayproxy.ports import port_holder

    code = getattr(cause, "errno", None)
    reason = {errno.EADDRINUSE: "in_use", errno.EACCES: "denied"}.get(code) if code is not None else None
    holder = port_holder(port) if reason == "in_use" else None
    name = str(holder) if holder is not None else None
    if name:
        message = f"{message} ({name} is listening there)"
    return StartProblem(PORT, message, host=host, port=port, reason=reason,
                        suggested_port=next_free_port(host, port), holder=name,
                        holder_app=holder.known_as if holder is not None else None)


def port_problem(host: str, port: int) -> StartProblem | None:
    """The problem binding host:port would have now, or None when it is free. Needs no account:
    Start asks this first."""
    import socket

    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
    except OSError as e:
        return bind_problem(f"Failed to start the proxy server: address {host}:{port} could not be bound: "
                            f"{e.strerror or e}", e, host, port)
    finally:
        s.close()
    return None


def port_advice(p: dict[str, Any], *, serve: bool = False) -> str:
    """What a port problem means and what to do, in one paragraph (`serve`: also say how to pick a
    port for this run only)."""
    port, free = p.get("port"), p.get("suggested_port")
    if p.get("reason") == "in_use":
        who = p.get("holder") or "another program"
        text = f"Port {port} is in use by {who}."
    elif p.get("reason") == "denied":
        text = f"trayproxy may not listen on port {port} (ports below 1024 need administrator rights)."
    else:
        text = str(p.get("message") or f"Port {port} could not be opened.")
    if free:
        run = f"`trayproxy serve --port {free}` for this run, or " if serve else ""
        text += f" Port {free} is free: {run}`trayproxy config set port {free}` to keep it."
    else:
        text += " Choose another port with `trayproxy config set port N`."
    if p.get("holder_app") == "Antigravity-Manager":
        text += (" Antigravity-Manager listens on 8045 by default too: quit it or give one of the two another "
                 "port. Its accounts can come along: `trayproxy accounts import`.")
    return text
