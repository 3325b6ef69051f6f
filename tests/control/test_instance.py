from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

from trayproxy.control.instance import ask_to_show, pid_alive, read_instance, remove_instance, write_instance


def test_write_read_remove(tmp_path: Path) -> None:
    f = tmp_path / "instance.json"
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        write_instance(f, "http://127.0.0.1:5555/?token=abc", pid=child.pid)
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
        inst = read_instance(f)
        assert inst is not None and inst.pid == child.pid
        assert inst.origin == "http://127.0.0.1:5555" and inst.token == "abc"
        remove_instance(f)  # not ours: left alone
        assert f.exists()
    finally:
        child.kill()
        child.wait()
    assert read_instance(f) is None  # dead pid: stale
    write_instance(f, "http://127.0.0.1:5555/?token=abc")
    assert read_instance(f) is None  # our own pid is not "another instance"
    remove_instance(f)
    assert not f.exists()


def test_garbage_is_ignored(tmp_path: Path) -> None:
    f = tmp_path / "instance.json"
    assert read_instance(f) is None
    f.write_text("{not json")
    assert read_instance(f) is None
    f.write_text('{"pid": "x"}')
    assert read_instance(f) is None


def test_pid_alive() -> None:
    assert pid_alive(os.getpid())
    assert not pid_alive(0) and not pid_alive(-5)


def test_ask_to_show_reaches_the_control_server(control: Any, tmp_path: Path) -> None:
    from trayproxy.control.instance import Instance

    assert ask_to_show(Instance(pid=1, control_url=control.url))
    assert control.shown == [True]
    assert not ask_to_show(Instance(pid=1, control_url=control.url.replace(control.token, "wrong")))
    assert not ask_to_show(Instance(pid=1, control_url="http://127.0.0.1:1/?token=x"), timeout=1)
