"""Streaming load from an aiohttp client: TTFB and total time per stream, and holding N streams
open at once (for memory). Used by run.py; runs inside its own (pinned) process."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

import aiohttp


async def _one(s: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str]) -> tuple[float, float, int] | None:
    """One stream: (TTFB ms, total ms, bytes), or None when it failed."""
    t0 = time.perf_counter()
    async with s.post(url, data=body, headers=headers) as r:
        first = None
        size = 0
        async for chunk in r.content.iter_any():
            if first is None:
                first = time.perf_counter()
            size += len(chunk)
        t1 = time.perf_counter()
        if r.status != 200 or first is None:
            return None
    return (first - t0) * 1000, (t1 - t0) * 1000, size


def _add(res: dict[str, Any], one: tuple[float, float, int] | None, counted: bool) -> None:
    if one is None:
        res["errors"] += 1
    elif counted:
        res["ttfb_ms"].append(one[0])
        res["total_ms"].append(one[1])
        res["bytes"].append(one[2])


async def sequential(url: str, body: bytes, headers: dict[str, str], n: int) -> dict[str, Any]:
    res: dict[str, Any] = {"ttfb_ms": [], "total_ms": [], "bytes": [], "errors": 0}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as s:
        for i in range(n + 3):  # 3 warm-up streams
            _add(res, await _one(s, url, body, headers), i >= 3)
    return res


async def alternate(spec: list[dict[str, Any]], n: int) -> dict[str, Any]:
    """n rounds; each round streams once through every target in turn (one connection per
    target), so a burst of load on a shared machine hits every target alike."""
    sessions = [aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) for _ in spec]
    bodies = [open(t["body_file"], "rb").read() for t in spec]
    out: dict[str, Any] = {t["name"]: {"ttfb_ms": [], "total_ms": [], "bytes": [], "errors": 0} for t in spec}
    try:
        for i in range(n + 3):  # 3 warm-up rounds
            for t, s, body in zip(spec, sessions, bodies, strict=True):
                _add(out[t["name"]], await _one(s, t["url"], body, t["headers"]), i >= 3)
    finally:
        for s in sessions:
            await s.close()
    return out


async def hold(url: str, body: bytes, headers: dict[str, str], n: int, open_timeout: float, ramp: int = 0) -> None:
    """Open n streams (all at once, or in waves of `ramp`), report (on stdout, one JSON line)
    how many got their first bytes within open_timeout, keep them open until stdin says
    'close', then close them all."""
    conn = aiohttp.TCPConnector(limit=0)
    s = aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(total=None))
    got_first = 0
    failed = 0
    first_event = asyncio.Event()
    release = asyncio.Event()
    statuses: dict[int, int] = {}

    async def one() -> None:
        nonlocal got_first, failed
        try:
            async with s.post(url, data=body, headers=headers) as r:
                statuses[r.status] = statuses.get(r.status, 0) + 1
                await r.content.readany()
                if r.status == 200:
                    got_first += 1
                else:
                    failed += 1
                if got_first + failed >= n:
                    first_event.set()
                await release.wait()
        except Exception:
            failed += 1
            if got_first + failed >= n:
                first_event.set()

    t0 = time.perf_counter()
    tasks: list[asyncio.Future[None]] = []
    for i in range(n):
        tasks.append(asyncio.ensure_future(one()))
        if ramp and (i + 1) % ramp == 0:  # open in waves of `ramp`: each wave has its first bytes first
            while got_first + failed < i + 1 and time.perf_counter() - t0 < open_timeout:
                await asyncio.sleep(0.01)
    try:
        await asyncio.wait_for(first_event.wait(), open_timeout)
    except asyncio.TimeoutError:
        pass
    print(json.dumps({"opened": got_first, "failed": failed, "statuses": statuses,
                      "open_s": time.perf_counter() - t0}), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)
    release.set()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await s.close()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=("sequential", "hold", "alternate"))
    p.add_argument("--url")
    p.add_argument("--body-file")
    p.add_argument("--spec", help="alternate: a JSON file, a list of {name, url, body_file, headers}")
    p.add_argument("--header", action="append", default=[])
    p.add_argument("-n", type=int, default=50)
    p.add_argument("--open-timeout", type=float, default=60)
    p.add_argument("--ramp", type=int, default=0, help="hold: open the streams in waves of this many")
    a = p.parse_args()
    if a.mode == "alternate":
        print(json.dumps(asyncio.run(alternate(json.load(open(a.spec)), a.n))))
        return
    body = open(a.body_file, "rb").read()
    headers = {"Content-Type": "application/json"}
    for h in a.header:
        k, v = h.split(":", 1)
        headers[k.strip()] = v.strip()
    if a.mode == "sequential":
        print(json.dumps(asyncio.run(sequential(a.url, body, headers, a.n))))
    else:
        asyncio.run(hold(a.url, body, headers, a.n, a.open_timeout, a.ramp))


if __name__ == "__main__":
    main()
