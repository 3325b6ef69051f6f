"""What the request monitor costs: OpenAI chat requests/s through trayproxy with the monitor on
versus off, in one run (same fake upstream, same pinning, alternating repetitions).

    python -m benchmarks.bench_monitor [--seconds 5] [--reps 3] [--conns 16]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks import common as C
from benchmarks.fixtures import openai_chat_body


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--conns", type=int, default=16)
    args = ap.parse_args()
    C.require(["wrk"], "benchmarks/bench_monitor.py")
    fake = C.start_fake()
    work = Path(tempfile.mkdtemp(prefix="bench-monitor-"))
    procs = []
    try:
        homes = {"on": C.make_home(fake), "off": C.make_home(fake)}
        subprocess.run([sys.executable, "-m", "trayproxy.cli", "config", "set", "monitor.enabled", "false"],
                       env=C.trayproxy_env(homes["off"], fake), cwd=C.ROOT, check=True, capture_output=True)
        ports = {}
        for name, home in homes.items():
            ports[name] = C.free_port()
            procs.append(C.start_trayproxy(home, fake, ports[name]))
        script = C.wrk_script(json.dumps(openai_chat_body()).encode(), {"Content-Type": "application/json"}, work, "oa")
        rps: dict[str, list[float]] = {"on": [], "off": []}
        for name in ports:  # warm-up
            C.run_wrk(f"http://127.0.0.1:{ports[name]}/v1/chat/completions", script, 4, 1, C.OTHER_CPU)
        for _ in range(args.reps):
            for name in ("off", "on"):
                r = C.run_wrk(f"http://127.0.0.1:{ports[name]}/v1/chat/completions", script, args.conns,
                              args.seconds, C.OTHER_CPU)
                assert r["non2xx"] == 0 and r["socket_errors"] == 0, r
                rps[name].append(r["rps"])
        on, off = C.median(rps["on"]), C.median(rps["off"])
        print(f"{'monitor':<8}{'req/s (median)':>16}{'runs':>36}")
        for name in ("off", "on"):
            print(f"{name:<8}{C.median(rps[name]):>16.0f}{str([round(x) for x in rps[name]]):>36}")
        print(f"ratio on/off: {on / off:.3f}  ({(1 - on / off) * 100:.1f}% fewer requests/s with the monitor on)")
        db = homes["on"] / "monitor.db"
        print(f"rows recorded with the monitor on: see {db}")
        return 0
    finally:
        for p in procs:
            C.stop(p)
        C.stop(fake.proc)


if __name__ == "__main__":
    raise SystemExit(main())
