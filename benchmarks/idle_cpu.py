"""Idle CPU of the settings window, per tab: the tray app and its window, open and left alone.

`python benchmarks/idle_cpu.py [--seconds 60] [--settle 15] [--tabs overview,accounts,...]`

1. This process runs the app's engine: a Controller and its ControlServer on a temporary data dir
   holding the page tests' world (tests/ui/world.py): four accounts (ready with a model resting
   for hours, resting as a whole for hours, needing verification, not eligible; the rests are
   the pool's live state, which is why the engine runs here and not in a seeded tray app), a
   request log, the proxy started.
2. Under a fresh Xvfb display, for each tab the real settings window (`python -m
   trayproxy.ui.window`, pywebview / WebKitGTK) opens on that tab and settles; then the CPU time
   of this process (engine, ControlServer, event stream) and of the window's whole tree (the
   window process, WebKit's web and network processes) is read from /proc over the span.
3. Prints one line per tab: the share of one core over the span (target: at most 1 %), and as
   JSON with --json. Needs Xvfb, dbus-run-session, PyGObject with GTK 3 and pywebview with
   WebKitGTK; says what is missing otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TABS = ("overview", "accounts", "monitor", "models", "settings")
TICK = os.sysconf("SC_CLK_TCK")


def _tree(pid: int) -> list[int]:
    kids: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def _cpu(pids: list[int]) -> dict[int, float]:
    out = {}
    for p in pids:
        try:
            f = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            out[p] = (int(f[11]) + int(f[12])) / TICK
        except (OSError, IndexError, ValueError):
            pass
    return out


def _missing() -> str | None:
    for tool in ("Xvfb", "dbus-run-session"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    probe = "import gi; gi.require_version('Gtk', '3.0'); gi.require_version('WebKit2', '4.1'); import webview"
    if subprocess.run([sys.executable, "-c", probe], capture_output=True).returncode != 0:
        return "PyGObject with GTK 3 and WebKit2 4.1, or pywebview, is missing"
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--settle", type=float, default=15.0)
    ap.add_argument("--tabs", default=",".join(TABS))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    why = _missing()
    if why:
        print(f"idle_cpu: {why}", file=sys.stderr)
        return 2
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    from tests.control.helpers import make_controller
    from tests.ui.world import four_accounts
    from trayproxy.control.server import ControlServer

    work = Path(tempfile.mkdtemp(prefix="trayproxy-idle-"))
    ctl = make_controller(work / "home")
    four_accounts(ctl, log=60)
    ctl.start()
    srv = ControlServer(ctl, copy=lambda text: True, open_url=lambda url: True)
    ctl.engine.call(srv.start())
    display = next(n for n in range(150, 250) if not Path(f"/tmp/.X11-unix/X{n}").exists())
    xvfb = subprocess.Popen(["Xvfb", f":{display}", "-screen", "0", "1280x900x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = {k: v for k, v in os.environ.items() if k not in ("WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS")}
    env.update(DISPLAY=f":{display}", NO_AT_BRIDGE="1", WEBKIT_DISABLE_COMPOSITING_MODE="1",
               PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p))
    results: dict[str, float] = {}
    try:
        time.sleep(1.5)
        for tab in args.tabs.split(","):
            win = subprocess.Popen(["dbus-run-session", "--", sys.executable, "-m", "trayproxy.ui.window", "--stdin"],
                                   env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            assert win.stdin is not None
            win.stdin.write((srv.url + "#" + tab + "\n").encode())
            win.stdin.flush()
            time.sleep(args.settle)
            pids = [os.getpid(), *_tree(win.pid)]
            before, t0 = _cpu(pids), time.monotonic()
            time.sleep(args.seconds)
            after, t1 = _cpu(pids), time.monotonic()
            used = sum(after[p] - before[p] for p in before if p in after)
            results[tab] = 100.0 * used / (t1 - t0)
            print(f"{tab:<10} {results[tab]:5.2f} % of one core over {t1 - t0:.0f} s "
                  f"({len([p for p in before if p in after])} processes, {srv.events.clients} page streams)", flush=True)
            win.stdin.write(b"quit\n")
            win.stdin.flush()
            try:
                win.wait(10)
            except subprocess.TimeoutExpired:
                win.kill()
    finally:
        ctl.engine.call(srv.stop())
        ctl.close()
        xvfb.terminate()
        xvfb.wait(10)
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
