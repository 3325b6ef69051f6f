"""Peak memory of `trayproxy serve` under decompression bombs sent in parallel (issue #27).

The attack run sent six bodies of a few hundred bytes with `Content-Encoding: gzip, gzip`, each
inflating to 95 MiB (each layer was capped by the body limit, their product was not): the
process reached 2.7 GB. This starts the fake upstream and `trayproxy serve` (default settings,
100 MiB body limit), measures its idle RSS, then sends the bombs in rounds of `--parallel` at
once (also single-layer gzip and deflate bombs, and one as big on the wire as a bomb gets before
the body limit stops it) while sampling the process's VmRSS and VmHWM (peak, reset between
kinds through /proc/PID/clear_refs), and prints one JSON line: idle, the peak above idle per kind
and over all, the answers' statuses, and how long the rounds took.

    python benchmarks/bombs.py [--parallel 6] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import sys
import threading
import time
import zlib
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import common as C  # noqa: E402


def _status_mib(pid: int, field: str) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def bombs() -> dict[str, tuple[bytes, str]]:
    inner = b'{"model": "' + b"a" * (95 << 20) + b'"}'
    once = gzip.compress(inner, 9)
    d = zlib.compressobj(9)
    big = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return {
        "gzip, gzip (95 MiB)": (gzip.compress(once, 9), "gzip, gzip"),
        "gzip, deflate (95 MiB)": (zlib.compress(once, 9), "gzip, deflate"),
        "gzip (95 MiB)": (once, "gzip"),
        "deflate (95 MiB)": (d.compress(inner) + d.flush(), "deflate"),
        "gzip (1 GiB, 1 MiB on the wire)": (big.compress(b"\0" * (1 << 30)) + big.flush(), "gzip"),
    }


async def _send(session: aiohttp.ClientSession, url: str, body: bytes, encoding: str) -> int:
    async with session.post(url, data=body, headers={"Content-Type": "application/json",
                                                     "Content-Encoding": encoding}) as r:
        await r.read()
        return r.status


async def _rounds(url: str, parallel: int, rounds: int, pid: int, idle: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        for name, (body, encoding) in bombs().items():
            with open(f"/proc/{pid}/clear_refs", "w") as f:
                f.write("5")  # VmHWM := VmRSS now
            statuses: dict[int, int] = {}
            start = time.monotonic()
            for _ in range(rounds):
                got = await asyncio.gather(*(_send(session, url, body, encoding) for _ in range(parallel)))
                for s in got:
                    statuses[s] = statuses.get(s, 0) + 1
            out[name] = {"wire_bytes": len(body), "statuses": statuses,
                         "seconds": round(time.monotonic() - start, 2),
                         "peak_above_idle_mib": round(_status_mib(pid, "VmHWM") - idle, 1)}
    return out


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--parallel", type=int, default=6)
    p.add_argument("--rounds", type=int, default=5)
    a = p.parse_args()
    fake = C.start_fake()
    proc = None
    try:
        home = C.make_home(fake)
        port = C.free_port()
        proc = C.start_trayproxy(home, fake, port)
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        time.sleep(2.0)
        idle = C.rss_mib(proc.pid)
        peak_rss = idle
        done = threading.Event()

        def sample() -> None:
            nonlocal peak_rss
            while not done.is_set():
                peak_rss = max(peak_rss, C.rss_mib(proc.pid))
                time.sleep(0.002)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        results = asyncio.run(_rounds(url, a.parallel, a.rounds, proc.pid, idle))
        done.set()
        sampler.join()
        print(json.dumps({
            "parallel": a.parallel, "rounds": a.rounds, "idle_rss_mib": round(idle, 1),
            "peak_rss_sampled_mib": round(peak_rss, 1),
            "peak_above_idle_mib": round(max([peak_rss - idle] + [r["peak_above_idle_mib"] for r in results.values()]), 1),
            "bombs": results,
        }))
        return 0
    finally:
        C.stop(proc)
        C.stop(fake.proc)


if __name__ == "__main__":
    raise SystemExit(main())
