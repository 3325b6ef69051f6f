"""Who owns a data dir's state, and how another process reaches the owner.

1. The running instance (tray app or `trayproxy serve`) holds an exclusive lock on
   `paths.lock_file` for its whole life and advertises its ControlServer in
   `paths.instance_file` (0600, holds the per-launch token; see control/instance.py).
2. A CLI command that changes state calls `open_owner(paths)`: it either takes the lock itself
   (no instance runs: it edits the files, still holding the lock, so two writers never meet) or
   finds the instance that holds it and talks to it through `ControlClient`.
3. The lock is the truth, not the pid in the instance file: a crashed owner's lock is released
   by the OS, so a stale file never blocks anyone.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from trayproxy.control.instance import Instance, read_instance
from trayproxy.paths import AppPaths

__all__ = ["OwnerLock", "LockHeld", "ControlClient", "ControlError", "claim", "open_owner", "running_instance",
           "already_running_message"]


class LockHeld(RuntimeError):
    """Another process owns the data dir."""


class ControlError(RuntimeError):
    """The running instance refused or could not do what was asked; the message is for the user."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class OwnerLock:
    """An exclusive advisory lock on one file (flock on POSIX, msvcrt on Windows)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: IO[bytes] | None = None

    @property
    def held(self) -> bool:
        return self._fh is not None

    def try_acquire(self) -> bool:
        if self._fh is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fh = os.fdopen(fd, "r+b")
        try:
            _lock(fh)
        except OSError:
            fh.close()
            return False
        self._fh = fh
        return True

    def acquire(self, timeout: float = 10.0, *, poll: float = 0.05) -> None:
        """Wait up to `timeout` for the lock (a CLI edit holds it for a moment); LockHeld after."""
        deadline = time.monotonic() + timeout
        while not self.try_acquire():
            if time.monotonic() >= deadline:
                raise LockHeld(f"{self.path} is held by another trayproxy process")
            time.sleep(poll)

    def release(self) -> None:
        fh, self._fh = self._fh, None
        if fh is not None:
            try:
                _unlock(fh)
            finally:
                fh.close()

    def __enter__(self) -> OwnerLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _lock(fh: IO[bytes]) -> None:
        fh.seek(0)
        msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)

    def _unlock(fh: IO[bytes]) -> None:
        fh.seek(0)
        msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock(fh: IO[bytes]) -> None:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(fh: IO[bytes]) -> None:
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


class ControlClient:
    """JSON calls to a running instance's ControlServer state routes (`/api/cli/...`, the CLI
    token in a header). Never goes through an HTTP proxy; the token comes from the 0600
    instance file."""

    def __init__(self, inst: Instance, *, timeout: float = 150.0) -> None:
        self.instance = inst
        self.timeout = timeout
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def call(self, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"{self.instance.origin}/api/{path}",
            data=data,
            method="GET" if body is None else "POST",
            headers={"X-Trayproxy-Token": self.instance.cli_token, "Content-Type": "application/json"},
        )
        try:
            with self._opener.open(req, timeout=self.timeout) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as e:
            try:
                msg = str(json.loads(e.read()).get("error") or e.reason)
            except (ValueError, AttributeError):
                msg = str(e.reason)
            raise ControlError(msg, e.code) from None
        except (urllib.error.URLError, OSError) as e:
            raise ControlError(
                f"the running trayproxy (pid {self.instance.pid}) did not answer at {self.instance.origin}: "
                f"{getattr(e, 'reason', e)}",
                503,
            ) from None


def running_instance(paths: AppPaths) -> Instance | None:
    """The instance that owns `paths`, if one runs (its lock is held and its file is live)."""
    probe = OwnerLock(paths.lock_file)
    if probe.try_acquire():
        probe.release()
        return None
    return read_instance(paths.instance_file)


def open_owner(
    paths: AppPaths, *, timeout: float = 15.0, sleep: Callable[[float], None] = time.sleep
) -> tuple[OwnerLock | None, Instance | None]:
    """Either (lock, None): no instance runs and the caller now holds the lock (release it when
    done), or (None, instance): talk to that instance. The lock held by a starting instance (no
    instance file yet) or a short CLI edit is waited for, up to `timeout`."""
    lock = OwnerLock(paths.lock_file)
    deadline = time.monotonic() + timeout
    while True:
        if lock.try_acquire():
            return lock, None
        inst = read_instance(paths.instance_file)
        if inst is not None:
            return None, inst
        if time.monotonic() >= deadline:
            raise LockHeld(
                f"another trayproxy process holds {paths.lock_file} but does not answer; "
                "if none runs, delete that file and try again"
            )
        sleep(0.1)


def claim(paths: AppPaths) -> OwnerLock:
    """Become the owner of `paths` (the tray app, `serve`): the held lock, or LockHeld saying
    which instance owns it and how to reach it. A CLI edit holds the lock for a moment, so that
    is waited for; a live instance is not."""
    lock = OwnerLock(paths.lock_file)
    try:
        lock.acquire(timeout=0 if read_instance(paths.instance_file) else 10)
    except LockHeld:
        raise LockHeld(already_running_message(paths, read_instance(paths.instance_file))) from None
    return lock


def already_running_message(paths: AppPaths, inst: Instance | None) -> str:
    if inst is None:
        return (f"another trayproxy is starting or running for {paths.data_dir} (it holds {paths.lock_file}). "
                "Stop it first, or give this one its own data dir with TRAYPROXY_HOME=DIR.")
    what = "trayproxy serve" if inst.kind == "serve" else "the trayproxy tray app"
    where = ""
    try:
        st = ControlClient(inst, timeout=3).call("cli/status")
        where = f"; its proxy {'is at ' + st['base_url'] if st.get('running') else 'is stopped'}"
    except ControlError:
        pass
    return (f"{what} is already running for {paths.data_dir} (pid {inst.pid}){where}. Use that one (the CLI "
            "talks to it: `trayproxy accounts ...`, `trayproxy config set ...`), stop it first, or give this "
            "one its own data dir with TRAYPROXY_HOME=DIR.")
