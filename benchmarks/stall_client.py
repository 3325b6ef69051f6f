"""How long a big request body stalls everyone else: small requests sent one after another
while one big request is in flight; the figure is the worst small-request latency during the big
request minus the median small-request latency without it. Runs in its own (pinned) process;
prints one JSON line.

Pointed at the upstream itself (`--header` for its Authorization, the bodies as envelopes), it
gives the stall the upstream causes on its own: the fake upstream parses the 30 MB body on its
event loop too, and every small request through a proxy also waits for that.

    python benchmarks/stall_client.py --url http://127.0.0.1:8045/v1/chat/completions \
        --big-file big.json --small-file small.json --reps 3 [--header "Authorization: Bearer x"]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

HEADERS = {"Content-Type": "application/json"}


async def _small(s: aiohttp.ClientSession, url: str, body: bytes) -> tuple[float, int]:
    t0 = time.perf_counter()
    async with s.post(url, data=body, headers=HEADERS) as r:
        await r.read()
        return (time.perf_counter() - t0) * 1000, r.status


async def _probe(s: aiohttp.ClientSession, url: str) -> float:
    t0 = time.perf_counter()
    async with s.get(url) as r:
        await r.read()
        return (time.perf_counter() - t0) * 1000


async def _probing(ps: aiohttp.ClientSession, url: str, big: asyncio.Future[Any], probes: list[float]) -> None:
    while not big.done():
        ms = await _probe(ps, url)
        if not big.done():
            probes.append(ms)


def _send_big(url: str, big: bytes) -> tuple[int, float, int]:
    """The big request, from its own thread and event loop, its body written 1 MiB at a time:
    sent from the measuring loop as one 30 MB write, it stalled this client itself (aiohttp
    joins headers and body and the transport buffers the rest: 40-60 ms holding the loop), and
    that was counted as the proxy's delay."""

    async def body() -> AsyncIterator[bytes]:
        for i in range(0, len(big), 1 << 20):
            yield big[i : i + (1 << 20)]

    async def go() -> tuple[int, float, int]:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as bs:
            t0 = time.perf_counter()
            headers = {**HEADERS, "Content-Length": str(len(big))}
            async with bs.post(url, data=body(), headers=headers) as r:
                data = await r.read()
                return r.status, (time.perf_counter() - t0) * 1000, len(data)

    return asyncio.run(go())


async def run(url: str, big: bytes, small: bytes, reps: int, probe_url: str | None = None) -> dict[str, Any]:
    """With `probe_url` (a route the proxy answers itself, e.g. /healthz), a GET loop runs beside
    the small requests: its delay is the proxy's own stall, without the upstream's share."""
    out: dict[str, Any] = {"big_bytes": len(big), "reps": []}
    timeout = aiohttp.ClientTimeout(total=300)
    async with aiohttp.ClientSession(timeout=timeout) as s, aiohttp.ClientSession(timeout=timeout) as ps:
        for _ in range(5):
            await _small(s, url, small)
        for _ in range(reps):
            base = [(await _small(s, url, small))[0] for _ in range(20)]
            probe_base = [await _probe(ps, probe_url) for _ in range(20)] if probe_url else []
            during: list[float] = []
            statuses: set[int] = set()

            big_req = asyncio.to_thread(_send_big, url, big)
            task = asyncio.ensure_future(big_req)
            probes: list[float] = []

            prober = asyncio.create_task(_probing(ps, probe_url, task, probes)) if probe_url else None
            while not task.done():
                ms, st = await _small(s, url, small)
                if not task.done():
                    during.append(ms)
                    statuses.add(st)
            big_status, big_ms, big_len = await task
            if prober is not None:
                await prober
            b50 = statistics.median(base)
            rep = {"base_p50_ms": b50, "during_max_ms": max(during, default=b50), "n_during": len(during),
                   "delay_ms": max(during, default=b50) - b50, "big_status": big_status,
                   "big_ms": big_ms, "big_answer_bytes": big_len, "small_statuses": sorted(statuses)}
            if probe_url:
                p50 = statistics.median(probe_base)
                rep |= {"probe_base_p50_ms": p50, "probe_max_ms": max(probes, default=p50),
                        "n_probes": len(probes), "probe_delay_ms": max(probes, default=p50) - p50}
            out["reps"].append(rep)
    out["delay_ms"] = statistics.median(r["delay_ms"] for r in out["reps"])
    if probe_url:
        out["probe_delay_ms"] = statistics.median(r["probe_delay_ms"] for r in out["reps"])
    out["big_ms"] = statistics.median(r["big_ms"] for r in out["reps"])
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--big-file", required=True)
    p.add_argument("--small-file", required=True)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--header", action="append", default=[], help="'Name: value', sent with every request")
    p.add_argument("--probe-url", help="also GET this route of the proxy itself (e.g. /healthz) beside the small requests")
    a = p.parse_args()
    for h in a.header:
        name, _, value = h.partition(":")
        HEADERS[name.strip()] = value.strip()
    print(json.dumps(asyncio.run(run(a.url, Path(a.big_file).read_bytes(), Path(a.small_file).read_bytes(), a.reps,
                                     a.probe_url))))


if __name__ == "__main__":
    main()
