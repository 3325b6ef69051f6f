"""Single instance: the running tray app advertises its ControlServer in `paths.instance_file`.

The file is JSON `{pid, control_url, kind, cli_token}` with mode 0600 (the URL holds the
settings page's per-launch token; `cli_token` opens the ControlServer's `/api/cli/*` state
routes, which the page's token does not; `kind` is "tray" or "serve"). A second tray launch that finds a live pid asks that
instance to show its settings and exits; a file whose pid is gone is stale and ignored. The CLI
finds the owner of the data dir through the same file (control/local.py).
"""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from trayproxy.fileio import atomic_write

__all__ = ["Instance", "write_instance", "read_instance", "remove_instance", "pid_alive", "ask_to_show"]

log = logging.getLogger("trayproxy.control.instance")


@dataclass(frozen=True)
class Instance:
    pid: int
    control_url: str
    kind: str = "tray"
    cli_token: str = ""

    @property
    def origin(self) -> str:
        p = urlsplit(self.control_url)
        return f"{p.scheme}://{p.netloc}"

    @property
    def token(self) -> str:
        return parse_qs(urlsplit(self.control_url).query).get("token", [""])[0]


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def write_instance(path: Path, control_url: str, pid: int | None = None, kind: str = "tray",
                   cli_token: str = "") -> None:
    data = {"pid": os.getpid() if pid is None else pid, "control_url": control_url, "kind": kind,
            "cli_token": cli_token}
    atomic_write(path, (json.dumps(data) + "\n").encode(), mode=0o600)


def read_instance(path: Path) -> Instance | None:
    """The live instance recorded in `path`, or None (missing, unreadable or stale)."""
    try:
        data = json.loads(path.read_text("utf-8"))
        inst = Instance(pid=int(data["pid"]), control_url=str(data["control_url"]), kind=str(data.get("kind", "tray")),
                        cli_token=str(data.get("cli_token", "")))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if inst.pid == os.getpid() or not pid_alive(inst.pid):
        return None
    return inst


def remove_instance(path: Path) -> None:
    """Remove the file if it is ours."""
    try:
        data = json.loads(path.read_text("utf-8"))
        if int(data.get("pid", -1)) != os.getpid():
            return
        path.unlink()
    except (OSError, ValueError, TypeError):
        pass


def ask_to_show(inst: Instance, timeout: float = 5.0) -> bool:
    """Ask a running instance to open its settings window. False when it does not answer."""
    req = urllib.request.Request(
        inst.origin + "/api/show",
        data=b"{}",
        method="POST",
        headers={"X-Trayproxy-Token": inst.token, "Content-Type": "application/json"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via an HTTP proxy
    try:
        with opener.open(req, timeout=timeout) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError) as e:
        log.info("the running instance did not answer: %s", e)
        return False
