"""The data dir's owner lock and how the CLI finds the running instance."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from trayproxy.control.instance import write_instance
from trayproxy.control.local import LockHeld, OwnerLock, open_owner, running_instance
from trayproxy.paths import AppPaths, app_paths


def _paths(tmp_path: Path) -> AppPaths:
    return AppPaths(tmp_path / "d", tmp_path / "d").ensure()


def test_lock_is_exclusive_across_processes(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    code = ("import sys; from pathlib import Path; from trayproxy.control.local import OwnerLock\n"
            "print(OwnerLock(Path(sys.argv[1])).try_acquire())")
    lock = OwnerLock(paths.lock_file)
    assert lock.try_acquire()
    other = subprocess.run([sys.executable, "-c", code, str(paths.lock_file)], capture_output=True, text=True,
                           timeout=60, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert other.stdout.strip() == "False", other.stderr
    lock.release()
    other = subprocess.run([sys.executable, "-c", code, str(paths.lock_file)], capture_output=True, text=True,
                           timeout=60, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert other.stdout.strip() == "True"
    assert paths.lock_file.stat().st_mode & 0o777 == 0o600


def test_open_owner_takes_the_lock_when_none_runs_even_with_a_stale_file(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    write_instance(paths.instance_file, "http://127.0.0.1:9/?token=t", pid=2**22 + 12345)  # no such pid
    lock, inst = open_owner(paths, timeout=0)
    assert lock is not None and lock.held and inst is None
    lock.release()
    assert running_instance(paths) is None


def test_open_owner_finds_the_instance_holding_the_lock(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    held = OwnerLock(paths.lock_file)
    assert held.try_acquire()
    try:
        waits: list[float] = []
        with pytest.raises(LockHeld, match="does not answer"):  # held, but nobody advertised yet
            open_owner(paths, timeout=0, sleep=waits.append)
        write_instance(paths.instance_file, "http://127.0.0.1:9/?token=tok", pid=child.pid, kind="serve")
        lock, inst = open_owner(paths, timeout=0)
        assert lock is None and inst is not None
        assert inst.pid == child.pid and inst.kind == "serve" and inst.token == "tok"
        assert running_instance(paths) == inst
    finally:
        held.release()
        child.kill()
        child.wait()


def test_home_mode_is_tightened_only_when_trayproxy_made_it(tmp_path: Path) -> None:
    """Regression (attack run): a TRAYPROXY_HOME the user made (here 0755) kept its mode."""
    mine = tmp_path / "shared-home"
    mine.mkdir()
    mine.chmod(0o755)
    app_paths({"TRAYPROXY_HOME": str(mine)}).ensure()
    assert mine.stat().st_mode & 0o777 == 0o755
    made = tmp_path / "new-home"
    app_paths({"TRAYPROXY_HOME": str(made)}).ensure()
    assert made.stat().st_mode & 0o777 == 0o700
