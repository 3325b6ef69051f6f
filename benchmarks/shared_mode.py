"""Shared mode's cost (#30): trayproxy with Redis and PostgreSQL against the embedded default, in
one run.

    python benchmarks/shared_mode.py            # 3 rounds of 5 s per point (about 3 minutes)
    python benchmarks/shared_mode.py --rounds 5 --seconds 8

1. One fake upstream (benchmarks/fake_upstream.py), a Redis and a PostgreSQL started here on
   loopback (the test suite's launcher, tests/shared/engines.py), two data dirs with the same
   account: one embedded, one with TRAYPROXY_REDIS_URL and TRAYPROXY_DATABASE_URL set.
2. In each a client key with an rpm limit (so the shared instance makes its one Redis round trip
   per request) and the owner's key (no counting at all).
3. The two instances alternate point by point (embedded, shared, embedded, ...), each pinned to
   the same CPU, wrk on the other: non-streaming OpenAI chat at 1 connection (p50) and at 64
   connections (req/s). Medians over the rounds; the load average before and after is printed
   with the figures, since other work on the machine moves them.

Targets (#30): added p50 with Redis and PostgreSQL ≤ +0.3 ms over embedded at 1 connection;
req/s at 64 connections ≥ 0.9× embedded.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402

from benchmarks import common as C  # noqa: E402
from benchmarks.fixtures import openai_chat_body  # noqa: E402


def cli(home: Path, env: dict[str, str], *args: str) -> str:
    p = subprocess.run([sys.executable, "-m", "trayproxy.cli", *args], env=env, cwd=ROOT, capture_output=True,
                       text=True, timeout=120)
    if p.returncode != 0:
        raise RuntimeError(f"trayproxy {' '.join(args)}: {p.stdout}{p.stderr}")
    return p.stdout.strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    from tests.shared.engines import PgServer, RedisServer

    work = Path(tempfile.mkdtemp(prefix="trayproxy-bench-shared-"))
    fake = C.start_fake()
    redis, pg = RedisServer(), PgServer()
    procs: list[subprocess.Popen[Any]] = [fake.proc]
    try:
        url = pg.new_database()
        homes = {"embedded": C.make_home(fake), "shared": C.make_home(fake)}
        envs = {name: C.trayproxy_env(home, fake) for name, home in homes.items()}
        envs["shared"].update({"TRAYPROXY_REDIS_URL": redis.url, "TRAYPROXY_DATABASE_URL": url,
                               "TRAYPROXY_SECRET_KEY": "cd" * 32})
        ports, keys = {}, {}
        for name, home in homes.items():
            cli(home, envs[name], "config", "set", "auth_mode", "all_except_health")
            keys[name] = {"owner": cli(home, envs[name], "key", "show"),
                          "client key (rpm limited)": cli(home, envs[name], "keys", "create", "bench", "--rpm",
                                                          "100000000")}
            ports[name] = C.free_port()
            env = envs[name]
            proc = subprocess.Popen(C.pinned(C.PROXY_CPU, [sys.executable, "-m", "trayproxy.cli", "serve", "--port",
                                                           str(ports[name])]),
                                    env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
            procs.append(proc)
            C.wait_http(f"http://127.0.0.1:{ports[name]}/healthz")
        body = orjson.dumps(openai_chat_body(last="hi"))
        load_before = C.loadavg()
        results: dict[str, dict[str, list[float]]] = {}
        points = [("p50 1 conn", 1, who) for who in keys["embedded"]] + [("req/s 64 conns", 64, "client key (rpm limited)")]
        for what, conns, who in points:
            for name in homes:  # warm up (connections, Redis script cache, PG pool)
                script = C.wrk_script(body, {"Content-Type": "application/json",
                                             "Authorization": f"Bearer {keys[name][who]}"}, work, f"{name}-{conns}")
                C.run_wrk(f"http://127.0.0.1:{ports[name]}/v1/chat/completions", script, conns, 1, C.OTHER_CPU)
            for _ in range(args.rounds):
                for name in homes:
                    script = C.wrk_script(body, {"Content-Type": "application/json",
                                                 "Authorization": f"Bearer {keys[name][who]}"}, work, f"{name}-{conns}")
                    r = C.run_wrk(f"http://127.0.0.1:{ports[name]}/v1/chat/completions", script, conns,
                                  args.seconds, C.OTHER_CPU)
                    if r["non2xx"] or r["socket_errors"]:
                        raise RuntimeError(f"{name} {what}: {r}")
                    key = f"{what} · {who}"
                    results.setdefault(key, {}).setdefault(name, []).append(r["p50_ms"] if conns == 1 else r["rps"])
        load_after = C.loadavg()
        out: dict[str, Any] = {"load_before": load_before, "load_after": load_after, "points": {}}
        print(f"load average before {load_before}, after {load_after}; {args.rounds} rounds of {args.seconds:g} s")
        print(f"{'point':<48} {'embedded':>10} {'shared':>10}  {'shared vs embedded':>20}")
        for key, by in results.items():
            e, s = C.median(by["embedded"]), C.median(by["shared"])
            if key.startswith("p50"):
                verdict = f"{(s - e) * 1000:+.0f} µs"
                line = f"{key:<48} {e:>8.3f}ms {s:>8.3f}ms  {verdict:>20}"
            else:
                verdict = f"{s / e:.2f}x"
                line = f"{key:<48} {e:>10.0f} {s:>10.0f}  {verdict:>20}"
            print(line)
            out["points"][key] = {"embedded": by["embedded"], "shared": by["shared"]}
        dest = ROOT / "benchmarks" / "results"
        dest.mkdir(exist_ok=True)
        (dest / "shared_mode.json").write_text(json.dumps(out, indent=1) + "\n")
        rows = pg_rows(url)
        print(f"PostgreSQL holds {rows} request rows from the shared instance (the log kept up under load)")
    finally:
        for p in procs:
            C.stop(p)
        redis.stop()
        pg.stop()


def pg_rows(url: str) -> int:
    import asyncio

    import asyncpg

    async def q() -> int:
        await asyncio.sleep(3)  # the shipper's last batch
        conn = await asyncpg.connect(url)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM requests"))
        finally:
            await conn.close()

    return asyncio.run(q())


if __name__ == "__main__":
    os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    main()
