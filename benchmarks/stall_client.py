"""How long a big request body stalls everyone else: small requests sent one after another
while one big request is in flight; the figure is the worst small-request latency during the big
request minus the median small-request latency without it. Runs in its own (pinned) process;
prints one JSON line.

    python benchmarks/stall_client.py --url http://127.0.0.1:8045/v1/chat/completions \
        --big-file big.json --small-file small.json --reps 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path
from typing import Any

import aiohttp

HEADERS = {"Content-Type": "application/json"}


async def _small(s: aiohttp.ClientSession, url: str, body: bytes) -> tuple[float, int]:
    t0 = time.perf_counter()
    async with s.post(url, data=body, headers=HEADERS) as r:
        await r.read()
        return (time.perf_counter() - t0) * 1000, r.status


async def run(url: str, big: bytes, small: bytes, reps: int) -> dict[str, Any]:
    out: dict[str, Any] = {"big_bytes": len(big), "reps": []}
    timeout = aiohttp.ClientTimeout(total=300)
    async with aiohttp.ClientSession(timeout=timeout) as s, aiohttp.ClientSession(timeout=timeout) as bs:
        for _ in range(5):
            await _small(s, url, small)
        for _ in range(reps):
            base = [(await _small(s, url, small))[0] for _ in range(20)]
            during: list[float] = []
            statuses: set[int] = set()

            async def big_req() -> tuple[int, float, int]:
                t0 = time.perf_counter()
                async with bs.post(url, data=big, headers=HEADERS) as r:
                    data = await r.read()
                    return r.status, (time.perf_counter() - t0) * 1000, len(data)

            task = asyncio.create_task(big_req())
            while not task.done():
                ms, st = await _small(s, url, small)
                if not task.done():
                    during.append(ms)
                    statuses.add(st)
            big_status, big_ms, big_len = await task
            b50 = statistics.median(base)
            out["reps"].append({"base_p50_ms": b50, "during_max_ms": max(during, default=b50), "n_during": len(during),
                                "delay_ms": max(during, default=b50) - b50, "big_status": big_status,
                                "big_ms": big_ms, "big_answer_bytes": big_len, "small_statuses": sorted(statuses)})
    out["delay_ms"] = statistics.median(r["delay_ms"] for r in out["reps"])
    out["big_ms"] = statistics.median(r["big_ms"] for r in out["reps"])
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--big-file", required=True)
    p.add_argument("--small-file", required=True)
    p.add_argument("--reps", type=int, default=3)
    a = p.parse_args()
    print(json.dumps(asyncio.run(run(a.url, Path(a.big_file).read_bytes(), Path(a.small_file).read_bytes(), a.reps))))


if __name__ == "__main__":
    main()
