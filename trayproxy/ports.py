"""Whether a port can be bound now, and which program holds it when it cannot: for Start's
problems, `serve`, `doctor`, the tray and the page. Stdlib only, so every layer (and a CLI with
no proxy loaded) can ask.

Who holds a port, as far as the OS tells this user:
1. Linux: the listening socket's inode from /proc/net/tcp and tcp6, then the process whose
   /proc/PID/fd links to it (only our own processes, unless we are root).
2. Elsewhere, or when /proc did not say: `lsof` where it is installed (macOS has it).
3. Windows: `netstat -ano` for the pid, `tasklist` for its name.
A program we recognise (Antigravity-Manager, which also defaults to 8045; CLIProxyAPI; another
trayproxy) is named as people know it. The look-up reads files and may run a tool: call it off
the engine loop (a worker thread).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["port_is_free", "PortHolder", "port_holder", "known_program"]

_TOOL_TIMEOUT = 5.0
# interpreters whose own name says little: the script or module they run is named too
_INTERPRETERS = re.compile(r"^(python[\d.]*|node|nodejs|java|ruby|perl|php|bun|deno)(\.exe)?$", re.I)
# (pattern on the program's name or command, what people call it)
_KNOWN = (
    (re.compile(r"antigravity[ _-]?(tools|manager)", re.I), "Antigravity-Manager"),
    (re.compile(r"cli-?proxy-?api", re.I), "CLIProxyAPI"),
    (re.compile(r"trayproxy", re.I), "trayproxy"),
)


def port_is_free(host: str, port: int) -> tuple[bool, str | None]:
    """(True, None) when host:port can be bound now, else (False, the OS's reason)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
        return True, None
    except OSError as e:
        return False, e.strerror or str(e)
    finally:
        s.close()


@dataclass(frozen=True)
class PortHolder:
    """The program listening on a port: its pid and name when the OS says, else its user."""

    pid: int | None
    name: str | None
    user: str | None = None

    @property
    def known_as(self) -> str | None:
        return known_program(self.name or "")

    def __str__(self) -> str:
        if self.name is None:
            return f"a program of the user {self.user!r}" if self.user else "another program"
        pid = f"pid {self.pid}" if self.pid is not None else None
        known = self.known_as
        if known and known.lower() not in self.name.lower():
            return f"{known} ({', '.join(x for x in (self.name, pid) if x)})"
        return f"{self.name} ({pid})" if pid else self.name


def known_program(name: str) -> str | None:
    """What people call the program named `name`, when it is one trayproxy users meet."""
    for pattern, known in _KNOWN:
        if pattern.search(name):
            return known
    return None


def port_holder(port: int) -> PortHolder | None:
    """Who listens on TCP `port` (any address), or None when the OS does not tell us."""
    found: PortHolder | None = None
    if sys.platform.startswith("linux"):
        found = _from_proc(port, Path("/proc"))
        if found is not None and found.name is not None:
            return found
    if sys.platform == "win32":
        return _from_netstat(port) or found
    return _from_lsof(port) or found


# -- Linux: /proc ------------------------------------------------------------------------------


def _listening_inodes(port: int, proc: Path) -> dict[str, int]:
    """inode -> uid of the sockets listening on `port` (state 0A), IPv4 and IPv6."""
    out: dict[str, int] = {}
    for table in ("tcp", "tcp6"):
        try:
            lines = (proc / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if len(f) < 10 or f[3] != "0A":
                continue
            try:
                if int(f[1].rsplit(":", 1)[1], 16) == port:
                    out[f[9]] = int(f[7])
            except (IndexError, ValueError):
                continue
    return out


def _from_proc(port: int, proc: Path) -> PortHolder | None:
    inodes = _listening_inodes(port, proc)
    if not inodes:
        return None
    links = {f"socket:[{i}]" for i in inodes}
    try:
        pids = [d for d in os.listdir(proc) if d.isdigit()]
    except OSError:
        pids = []
    for pid in pids:
        fd_dir = proc / pid / "fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:  # gone, or another user's: the OS does not say
            continue
        for fd in fds:
            try:
                if os.readlink(fd_dir / fd) in links:
                    return PortHolder(int(pid), _proc_name(proc / pid))
            except OSError:
                continue
    return PortHolder(None, None, _user_name(next(iter(inodes.values()))))


def _proc_name(d: Path) -> str | None:
    try:
        argv = [a.decode("utf-8", "replace") for a in (d / "cmdline").read_bytes().split(b"\0") if a]
    except OSError:
        argv = []
    if not argv:
        try:
            return (d / "comm").read_text().strip() or None
        except OSError:
            return None
    return _describe(argv)


def _describe(argv: list[str]) -> str:
    """A short name for a command line: the program, and for an interpreter what it runs."""
    prog = os.path.basename(argv[0].replace("\\", "/"))
    if _INTERPRETERS.match(prog):
        rest = argv[1:]
        if len(rest) >= 2 and rest[0] == "-m":
            return f"{prog} -m {rest[1]}"[:80]
        if rest and rest[0] == "-c":
            return f"{prog} -c"
        script = next((a for a in rest if not a.startswith("-")), None)
        if script:
            return f"{prog} {os.path.basename(script)}"[:80]
    return prog[:80]


def _user_name(uid: int) -> str | None:
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return str(uid)


# -- lsof (macOS, BSDs, Linux as a second try) --------------------------------------------------


def _run(argv: list[str]) -> str | None:
    try:
        res = subprocess.run(argv, capture_output=True, text=True, timeout=_TOOL_TIMEOUT,
                             stdin=subprocess.DEVNULL, errors="replace")
    except (OSError, subprocess.SubprocessError):
        return None
    return res.stdout


def _from_lsof(port: int) -> PortHolder | None:
    lsof = shutil.which("lsof") or next((p for p in ("/usr/sbin/lsof", "/usr/bin/lsof") if os.path.exists(p)), None)
    if lsof is None:
        return None
    out = _run([lsof, "-nP", f"-iTCP:{port}", "-sTCP:LISTEN", "-Fpc"])
    return parse_lsof(out) if out else None


def parse_lsof(out: str) -> PortHolder | None:
    """lsof's field output (-Fpc): `p<pid>` then `c<command>` lines."""
    pid: int | None = None
    for line in out.splitlines():
        if line.startswith("p") and line[1:].isdigit():
            pid = int(line[1:])
        elif line.startswith("c") and pid is not None:
            return PortHolder(pid, line[1:].strip() or None)
    return PortHolder(pid, None) if pid is not None else None


# -- Windows: netstat + tasklist ----------------------------------------------------------------


def _from_netstat(port: int) -> PortHolder | None:
    out = _run(["netstat", "-ano", "-p", "TCP"])
    pid = parse_netstat(out or "", port)
    if pid is None:
        out6 = _run(["netstat", "-ano", "-p", "TCPv6"])
        pid = parse_netstat(out6 or "", port)
    if pid is None:
        return None
    listing = _run(["tasklist", "/FI", f"PID eq {pid}", "/FO", "CSV", "/NH"]) or ""
    return PortHolder(pid, parse_tasklist(listing))


def parse_netstat(out: str, port: int) -> int | None:
    """The pid listening on `port` in `netstat -ano` output (any language: the state column is
    the only word, so the pid is taken from rows whose local address ends in :port and whose
    remote port is 0)."""
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 5 and f[0].upper().startswith("TCP") and f[1].endswith(f":{port}") \
                and f[2].endswith(":0") and f[-1].isdigit():
            return int(f[-1])
    return None


def parse_tasklist(out: str) -> str | None:
    """The image name from `tasklist /FO CSV /NH` output ("name.exe","1234",...)."""
    line = out.strip().splitlines()[0] if out.strip() else ""
    if not line.startswith('"'):
        return None
    return line[1:].split('"', 1)[0] or None
