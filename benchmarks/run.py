"""Run every trayproxy benchmark and print the figures; writes benchmarks/results/latest.json.

    python benchmarks/run.py            # full profile (about 10 minutes on 2 cores)
    python benchmarks/run.py --quick    # about 2.5 minutes, for trends
    python benchmarks/run.py --only http,stream

Sections: http (proxy overhead vs direct vs a bare relay, wrk at 1 and 64 connections),
stream (TTFB and per-chunk cost of a 200-chunk stream, OpenAI and Anthropic routes), convert
(converter microbenchmarks), memory (RSS with 1,000 open streams), idle (tray app under Xvfb
and `trayproxy serve`: RSS, CPU, wake-ups), startup (process start to 200 from /healthz).

Placement on 2 cores (as in the perf reference): the process under test (trayproxy or the bare
relay) has CPU0; the fake upstream and the load generator share CPU1. Direct runs: fake on CPU1,
load generator on CPU0. Loopback only; every run is bounded in count and time."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import socket
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
from benchmarks.fixtures import MODEL, anthropic_body, openai_chat_body  # noqa: E402

# fixes measured as monkeypatches (benchmarks/patched.py), proposed for trayproxy/
PATCHED = "config-cache,schema-cache,sqlite-normal,secrets-cache"
TARGETS = {
    "added_p50_ms": 0.5,
    "added_p50_vs_bare": 1.5,
    "added_ttfb_ms": 1.0,
    "streams_1000_mib_above_idle": 100.0,
    "idle_tray_rss_mib": 60.0,
    "idle_wakeups_per_min": 1.0,
    "startup_s": 1.0,
}


class Bench:
    def __init__(self, quick: bool) -> None:
        self.quick = quick
        self.work = Path(tempfile.mkdtemp(prefix="trayproxy-bench-work-"))
        self.fake = C.start_fake()
        self.home = C.make_home(self.fake)
        self.procs: list[subprocess.Popen[Any]] = [self.fake.proc]
        oa = openai_chat_body()
        from trayproxy.protocols import openai_chat
        from trayproxy.upstream.cloudcode import CloudCodeClient

        def env_body(last: str) -> bytes:
            body = openai_chat_body(last=last)
            req = openai_chat.to_gemini(body, upstream_model=MODEL, signatures={})
            return orjson.dumps(CloudCodeClient.envelope(project="proj-bench", model=MODEL, request=req,
                                                         request_id="agent/bench"))

        self.direct_headers = {"Content-Type": "application/json", "User-Agent": "antigravity",
                               "Authorization": f"Bearer {self.fake.token}"}
        self.bodies = {
            "envelope_json": env_body("Now summarise the fix."),
            "openai_json": orjson.dumps(oa),
            "envelope_stream": env_body("stream 200 0"),
            "openai_stream": orjson.dumps(openai_chat_body(stream=True, last="stream 200 0")),
            "anthropic_stream": orjson.dumps(anthropic_body(stream=True, last="stream 200 0")),
            "openai_hold": orjson.dumps(openai_chat_body(stream=True, last="stream 60 500")),
            "envelope_hold": env_body("stream 60 500"),
        }
        self.gen_path = self.fake.generate_url[len(self.fake.url):]

    def close(self) -> None:
        for p in self.procs:
            C.stop(p)
        shutil.rmtree(self.work, ignore_errors=True)
        shutil.rmtree(self.home, ignore_errors=True)

    def tray(self, patches: str | None = None) -> tuple[subprocess.Popen[str], int]:
        port = C.free_port()
        argv = None
        if patches:
            argv = [sys.executable, str(ROOT / "benchmarks" / "patched.py"), "--patch", patches, "serve", "--port", str(port)]
        p = C.start_trayproxy(self.home, self.fake, port, argv=argv)
        self.procs.append(p)
        return p, port

    def bare(self) -> tuple[subprocess.Popen[str], int]:
        port = C.free_port()
        p = C.start_bare(self.fake.url, port)
        self.procs.append(p)
        return p, port

    # -- http ----------------------------------------------------------------------------------
    def http(self) -> dict[str, Any]:
        reps, dur = (1, 3.0) if self.quick else (3, 8.0)
        tray, tport = self.tray()
        trayp, tpport = self.tray(patches=PATCHED)
        bare, bport = self.bare()
        env_script = C.wrk_script(self.bodies["envelope_json"], self.direct_headers, self.work, "env")
        oa_script = C.wrk_script(self.bodies["openai_json"], {"Content-Type": "application/json"}, self.work, "oa")
        targets = {
            "direct": (self.fake.generate_url, env_script, None, C.PROXY_CPU),
            "bare": (f"http://127.0.0.1:{bport}{self.gen_path}", env_script, bare.pid, C.OTHER_CPU),
            "trayproxy": (f"http://127.0.0.1:{tport}/v1/chat/completions", oa_script, tray.pid, C.OTHER_CPU),
            "trayproxy_patched": (f"http://127.0.0.1:{tpport}/v1/chat/completions", oa_script, trayp.pid, C.OTHER_CPU),
        }
        for _name, (url, script, _, cpu) in targets.items():  # warm-up (connections, token, caches)
            C.run_wrk(url, script, 4, 1, cpu)
        runs: dict[str, dict[int, list[dict[str, Any]]]] = {n: {1: [], 64: []} for n in targets}
        for _ in range(reps):
            for conns in (1, 64):
                for name, (url, script, pid, cpu) in targets.items():
                    c0 = C.cpu_seconds(pid) if pid else 0.0
                    r = C.run_wrk(url, script, conns, dur, cpu)
                    if pid:
                        r["cpu_us_per_req"] = (C.cpu_seconds(pid) - c0) / max(1, r["raw_requests"]) * 1e6
                        r["cpu_util"] = (C.cpu_seconds(pid) - c0) / dur
                    runs[name][conns].append(r)
        out: dict[str, Any] = {"reps": reps, "duration_s": dur, "raw": runs}
        summary: dict[str, Any] = {}
        for conns in (1, 64):
            for name in targets:
                rs = runs[name][conns]
                s = {k: C.median([r[k] for r in rs]) for k in ("rps", "p50_ms", "p99_ms")}
                if name != "direct":
                    s["cpu_us_per_req"] = C.median([r["cpu_us_per_req"] for r in rs])
                    s["cpu_util"] = C.median([r["cpu_util"] for r in rs])
                    s["added_p50_ms"] = C.median([r["p50_ms"] - d["p50_ms"] for r, d in zip(rs, runs["direct"][conns], strict=True)])
                    s["added_p99_ms"] = C.median([r["p99_ms"] - d["p99_ms"] for r, d in zip(rs, runs["direct"][conns], strict=True)])
                    s["rps_ratio_to_direct"] = s["rps"] / C.median([d["rps"] for d in runs["direct"][conns]])
                s["errors"] = sum(r["non2xx"] + r["socket_errors"] for r in rs)
                summary[f"{name}_c{conns}"] = s
        t1, b1 = summary["trayproxy_c1"], summary["bare_c1"]
        summary["added_p50_ratio_tray_to_bare"] = t1["added_p50_ms"] / b1["added_p50_ms"] if b1["added_p50_ms"] > 0 else None
        summary["rps_ratio_tray_to_bare_c64"] = summary["trayproxy_c64"]["rps"] / summary["bare_c64"]["rps"]
        summary["cpu_ratio_tray_to_bare_c64"] = (summary["trayproxy_c64"]["cpu_us_per_req"]
                                                 / summary["bare_c64"]["cpu_us_per_req"])
        out["summary"] = summary
        for p in (tray, trayp, bare):
            C.stop(p)
        return out

    # -- stream --------------------------------------------------------------------------------
    def _stream_run(self, url: str, body_key: str, headers: dict[str, str], n: int, cpu: str) -> dict[str, Any]:
        body_file = self.work / f"{body_key}.json"
        body_file.write_bytes(self.bodies[body_key])
        cmd = C.pinned(cpu, [sys.executable, str(ROOT / "benchmarks" / "stream_client.py"), "sequential", "--url", url,
                             "--body-file", str(body_file), "-n", str(n)]
                       + [x for k, v in headers.items() for x in ("--header", f"{k}: {v}")])
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT)
        if out.returncode != 0:
            raise RuntimeError(out.stderr)
        return json.loads(out.stdout)

    def stream(self) -> dict[str, Any]:
        n = 30 if self.quick else 100
        reps = 1 if self.quick else 3
        tray, tport = self.tray()
        bare, bport = self.bare()
        jh = {"Content-Type": "application/json", "anthropic-version": "2023-06-01"}
        targets = {
            "direct": (self.fake.generate_url, "envelope_stream", self.direct_headers, None, C.PROXY_CPU),
            "bare": (f"http://127.0.0.1:{bport}{self.gen_path}", "envelope_stream", self.direct_headers, bare.pid, C.OTHER_CPU),
            "trayproxy_openai": (f"http://127.0.0.1:{tport}/v1/chat/completions", "openai_stream", jh, tray.pid, C.OTHER_CPU),
            "trayproxy_anthropic": (f"http://127.0.0.1:{tport}/v1/messages", "anthropic_stream", jh, tray.pid, C.OTHER_CPU),
        }
        raw: dict[str, list[dict[str, Any]]] = {k: [] for k in targets}
        for _ in range(reps):
            for name, (url, key, headers, pid, cpu) in targets.items():
                c0 = C.cpu_seconds(pid) if pid else 0.0
                r = self._stream_run(url, key, headers, n, cpu)
                if pid:
                    r["cpu_us_per_stream"] = (C.cpu_seconds(pid) - c0) / (n + 3) * 1e6
                raw[name].append(r)
        summary: dict[str, Any] = {"chunks": 200, "streams_per_rep": n, "reps": reps}
        d_ttfb = C.median([C.median(r["ttfb_ms"]) for r in raw["direct"]])
        d_total = C.median([C.median(r["total_ms"]) for r in raw["direct"]])
        for name, rs in raw.items():
            s: dict[str, Any] = {
                "ttfb_p50_ms": C.median([C.median(r["ttfb_ms"]) for r in rs]),
                "ttfb_p99_ms": C.median([C.pct(r["ttfb_ms"], 99) for r in rs]),
                "total_p50_ms": C.median([C.median(r["total_ms"]) for r in rs]),
                "bytes_per_stream": C.median([C.median(r["bytes"]) for r in rs]) if rs[0]["bytes"] else 0,
                "errors": sum(r["errors"] for r in rs),
            }
            if name != "direct":
                s["added_ttfb_p50_ms"] = s["ttfb_p50_ms"] - d_ttfb
                s["added_total_p50_ms"] = s["total_p50_ms"] - d_total
                s["added_wall_us_per_chunk"] = s["added_total_p50_ms"] * 1000 / 200
                s["cpu_us_per_stream"] = C.median([r["cpu_us_per_stream"] for r in rs])
                s["cpu_us_per_chunk"] = s["cpu_us_per_stream"] / 200
            summary[name] = s
        for p in (tray, bare):
            C.stop(p)
        return {"summary": summary}

    # -- convert -------------------------------------------------------------------------------
    def convert(self) -> dict[str, Any]:
        cmd = C.pinned(C.PROXY_CPU, [sys.executable, "-m", "benchmarks.bench_convert", "--json",
                                     "--repeat", "5" if self.quick else "9"])
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT)
        if out.returncode != 0:
            raise RuntimeError(out.stderr)
        return {"summary": json.loads(out.stdout)}

    # -- memory --------------------------------------------------------------------------------
    def _hold(self, pid: int, url: str, body_key: str, headers: dict[str, str], n: int) -> dict[str, Any]:
        body_file = self.work / f"{body_key}.json"
        body_file.write_bytes(self.bodies[body_key])
        time.sleep(1.0)
        idle = C.rss_mib(pid)
        cmd = C.pinned(C.OTHER_CPU, [sys.executable, str(ROOT / "benchmarks" / "stream_client.py"), "hold", "--url", url,
                                     "--body-file", str(body_file), "-n", str(n), "--open-timeout", "25"]
                       + [x for k, v in headers.items() for x in ("--header", f"{k}: {v}")])
        client = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        assert client.stdout is not None and client.stdin is not None
        opened = json.loads(client.stdout.readline())
        samples = []
        for _ in range(5):
            samples.append(C.rss_mib(pid))
            time.sleep(0.3)
        client.stdin.write("close\n")
        client.stdin.flush()
        client.wait(60)
        time.sleep(1.0)
        peak = max(samples)
        return {"n": n, "idle_rss_mib": idle, "peak_rss_mib": peak, "above_idle_mib": peak - idle,
                "mib_per_1000_streams": (peak - idle) / max(1, opened["opened"]) * 1000,
                "rss_after_close_mib": C.rss_mib(pid), **opened}

    def memory(self) -> dict[str, Any]:
        n = 1000
        jh = {"Content-Type": "application/json"}
        out: dict[str, Any] = {}
        # trayproxy as shipped
        tray, tport = self.tray()
        self._warm(f"http://127.0.0.1:{tport}/v1/chat/completions", "openai_json", jh)
        out["trayproxy"] = self._hold(tray.pid, f"http://127.0.0.1:{tport}/v1/chat/completions", "openai_hold", jh, n)
        C.stop(tray)
        # trayproxy with the upstream connection pool uncapped (the suggested fix), launched from here
        tray2, tport2 = self.tray(patches="pool-uncapped")
        self._warm(f"http://127.0.0.1:{tport2}/v1/chat/completions", "openai_json", jh)
        out["trayproxy_pool_uncapped"] = self._hold(tray2.pid, f"http://127.0.0.1:{tport2}/v1/chat/completions",
                                                    "openai_hold", jh, n)
        C.stop(tray2)
        if self.quick:
            return {"summary": out}
        bare, bport = self.bare()
        self._warm(f"http://127.0.0.1:{bport}{self.gen_path}", "envelope_json", self.direct_headers)
        out["bare"] = self._hold(bare.pid, f"http://127.0.0.1:{bport}{self.gen_path}", "envelope_hold",
                                 self.direct_headers, n)
        C.stop(bare)
        return {"summary": out}

    def _warm(self, url: str, key: str, headers: dict[str, str]) -> None:
        import urllib.request

        for _ in range(20):
            req = urllib.request.Request(url, data=self.bodies[key], headers=headers, method="POST")
            with urllib.request.urlopen(req, timeout=30) as r:
                r.read()

    # -- idle ----------------------------------------------------------------------------------
    def _idle_measure(self, pid: int, window: float, settle: float) -> dict[str, Any]:
        time.sleep(settle)  # start-up timers (GLib worker threads exit after ~15 s) are not idle wake-ups
        c0, s0 = C.cpu_seconds(pid), C.ctx_switches(pid)
        rss = [C.rss_mib(pid)]
        t0 = time.monotonic()
        while time.monotonic() - t0 < window:
            time.sleep(min(5.0, window))
            rss.append(C.rss_mib(pid))
        dt = time.monotonic() - t0
        c1, s1 = C.cpu_seconds(pid), C.ctx_switches(pid)
        per_thread = C.wakeups(s0, s1)
        total = sum(per_thread.values())
        kids = _children(pid)
        return {
            "window_s": round(dt, 1), "rss_mib": max(rss), "rss_first_mib": rss[0],
            "cpu_s": c1 - c0, "cpu_pct": (c1 - c0) / dt * 100,
            "wakeups": total, "wakeups_per_min": total / dt * 60,
            "wakeups_per_thread": {k: v for k, v in per_thread.items() if v},
            "threads": len(s1),
            "children": {str(k): {"cmd": cmd, "rss_mib": C.rss_mib(k)} for k, cmd in kids.items()},
        }

    def idle(self) -> dict[str, Any]:
        window, settle = (15.0, 20.0) if self.quick else (60.0, 20.0)
        out: dict[str, Any] = {}
        xvfb = shutil.which("Xvfb")
        variants = {"tray_xvfb": {}} if self.quick else {"tray_xvfb": {}, "tray_xvfb_GDK_GL=disable": {"GDK_GL": "disable"}}
        for vname, extra in variants.items():
            if not xvfb:
                out[vname] = {"skipped": "Xvfb not installed"}
                continue
            disp = f":{_free_display()}"
            x = subprocess.Popen([xvfb, disp, "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.procs.append(x)
            time.sleep(1.0)
            env = C.trayproxy_env(self.home, self.fake)
            env["DISPLAY"] = disp
            env.update(extra)
            tray = subprocess.Popen(C.pinned(C.PROXY_CPU, [sys.executable, "-m", "trayproxy.cli"]), env=env, cwd=ROOT,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.procs.append(tray)
            out[vname] = self._idle_measure(tray.pid, window, settle)
            _stop_tree(tray)
            C.stop(x)
        serve, _ = self.tray()
        out["serve_running_proxy"] = self._idle_measure(serve.pid, window, settle)
        C.stop(serve)
        return {"summary": out}

    # -- startup -------------------------------------------------------------------------------
    def startup(self) -> dict[str, Any]:
        runs = 5 if self.quick else 15
        env = C.trayproxy_env(self.home, self.fake)
        times = []
        for _ in range(runs + 1):
            port = C.free_port()
            t0 = time.perf_counter()
            p = subprocess.Popen([sys.executable, "-m", "trayproxy.cli", "serve", "--port", str(port)], env=env,
                                 cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            ok = _poll_health(port, 30.0)
            t1 = time.perf_counter()
            C.stop(p)
            if not ok:
                raise RuntimeError("trayproxy serve did not answer /healthz within 30 s")
            times.append((t1 - t0) * 1000)
        times = times[1:]  # the first run warms the page cache
        imp = subprocess.run([sys.executable, "-X", "importtime", "-c",
                              "import trayproxy.cli, trayproxy.controller, trayproxy.proxy.app, trayproxy.proxy.routes"],
                             capture_output=True, text=True, cwd=ROOT, env=env)
        rows = []
        for line in imp.stderr.splitlines():
            parts = line.split("|")
            if len(parts) == 3 and parts[1].strip().isdigit():
                rows.append((int(parts[1]), parts[2].rstrip()))
        top = sorted(rows, reverse=True)[:12]
        return {"summary": {"runs": runs, "median_ms": C.median(times), "min_ms": min(times), "max_ms": max(times),
                            "all_ms": times, "top_imports_cumulative_us": [{"us": u, "module": m} for u, m in top]}}


def _children(pid: int) -> dict[int, str]:
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                if ppid == pid:
                    with open(f"/proc/{d}/cmdline", "rb") as f:
                        kids[int(d)] = f.read().replace(b"\0", b" ").decode()[:120]
            except (OSError, ValueError):
                pass
    return kids


def _stop_tree(proc: subprocess.Popen[Any]) -> None:
    kids = _children(proc.pid)
    C.stop(proc)
    for k in kids:
        try:
            os.kill(k, 15)
        except ProcessLookupError:
            pass


def _free_display() -> int:
    n = 90
    while os.path.exists(f"/tmp/.X11-unix/X{n}") or os.path.exists(f"/tmp/.X{n}-lock"):
        n += 1
    return n


def _poll_health(port: int, timeout: float) -> bool:
    req = f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode()
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(req)
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return True
        except OSError:
            time.sleep(0.001)
    return False


# -- report ---------------------------------------------------------------------------------------


def fmt(v: Any, nd: int = 2) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.{nd}f}"
    return str(v)


def report(res: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    checks: list[tuple[str, Any, float, bool]] = []
    if "http" in res:
        s = res["http"]["summary"]
        lines += ["", "## Proxy overhead, non-streaming OpenAI chat (20-message agent body), wrk",
                  "| path | conns | req/s | p50 ms | p99 ms | added p50 ms | added p99 ms | req/s vs direct | proxy CPU us/req | errors |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for conns in (1, 64):
            for name in ("direct", "bare", "trayproxy", "trayproxy_patched"):
                r = s[f"{name}_c{conns}"]
                lines.append(f"| {name} | {conns} | {fmt(r['rps'], 0)} | {fmt(r['p50_ms'], 3)} | {fmt(r['p99_ms'], 3)} | "
                             f"{fmt(r.get('added_p50_ms'), 3)} | {fmt(r.get('added_p99_ms'), 3)} | "
                             f"{fmt(r.get('rps_ratio_to_direct'), 3)} | {fmt(r.get('cpu_us_per_req'), 0)} | {r['errors']} |")
        lines.append(f"trayproxy_patched = trayproxy with {PATCHED} (benchmarks/patched.py)")
        lines.append(f"trayproxy / bare: added p50 {fmt(s['added_p50_ratio_tray_to_bare'])}x; "
                     f"req/s at 64 conns {fmt(s['rps_ratio_tray_to_bare_c64'], 3)}x; "
                     f"CPU per request at 64 conns {fmt(s['cpu_ratio_tray_to_bare_c64'])}x")
        a = s["trayproxy_c1"]["added_p50_ms"]
        checks.append(("added p50 latency (ms)", a, TARGETS["added_p50_ms"], a <= TARGETS["added_p50_ms"]))
        r = s["added_p50_ratio_tray_to_bare"]
        checks.append(("added p50 vs bare relay (x)", r, TARGETS["added_p50_vs_bare"], r is not None and r <= 1.5))
    if "stream" in res:
        s = res["stream"]["summary"]
        lines += ["", f"## Streaming, {s['chunks']}-chunk stream, 1 connection, {s['streams_per_rep']} streams x {s['reps']}",
                  "| path | TTFB p50 ms | TTFB p99 ms | added TTFB p50 ms | stream p50 ms | added per chunk us (wall) | proxy CPU us/chunk | errors |",
                  "|---|---|---|---|---|---|---|---|"]
        for name in ("direct", "bare", "trayproxy_openai", "trayproxy_anthropic"):
            r = s[name]
            lines.append(f"| {name} | {fmt(r['ttfb_p50_ms'], 3)} | {fmt(r['ttfb_p99_ms'], 3)} | {fmt(r.get('added_ttfb_p50_ms'), 3)} | "
                         f"{fmt(r['total_p50_ms'], 2)} | {fmt(r.get('added_wall_us_per_chunk'), 1)} | "
                         f"{fmt(r.get('cpu_us_per_chunk'), 1)} | {r['errors']} |")
        for name in ("trayproxy_openai", "trayproxy_anthropic"):
            a = s[name]["added_ttfb_p50_ms"]
            checks.append((f"added TTFB, {name[10:]} (ms)", a, TARGETS["added_ttfb_ms"], a <= TARGETS["added_ttfb_ms"]))
    if "convert" in res:
        s = res["convert"]["summary"]
        lines += ["", f"## Conversion (pinned to one core), request sizes {s['request_bytes']}", "| case | us |", "|---|---|"]
        lines += [f"| {k} (per request) | {fmt(v, 1)} |" for k, v in s["per_request_us"].items()]
        lines += [f"| {k} (per event) | {fmt(v, 2)} |" for k, v in s["per_event_us"].items()]
    if "memory" in res:
        s = res["memory"]["summary"]
        lines += ["", "## Memory with 1,000 concurrent open streams (60 chunks, 500 ms apart)",
                  "| process | idle RSS MiB | peak RSS MiB | above idle MiB | streams opened | failed | MiB per 1,000 | RSS after close |",
                  "|---|---|---|---|---|---|---|---|"]
        for name, r in s.items():
            lines.append(f"| {name} | {fmt(r['idle_rss_mib'], 1)} | {fmt(r['peak_rss_mib'], 1)} | {fmt(r['above_idle_mib'], 1)} | "
                         f"{r['opened']}/{r['n']} | {r['failed']} {r['statuses']} | {fmt(r['mib_per_1000_streams'], 1)} | "
                         f"{fmt(r['rss_after_close_mib'], 1)} |")
        t = s["trayproxy"]
        checks.append(("1,000 open streams above idle (MiB)", t["above_idle_mib"], TARGETS["streams_1000_mib_above_idle"],
                       t["above_idle_mib"] <= 100 and t["opened"] == t["n"]))
    if "idle" in res:
        s = res["idle"]["summary"]
        lines += ["", "## Idle", "| process | window s | RSS MiB | CPU % | wake-ups/min (all threads) | threads | children |",
                  "|---|---|---|---|---|---|---|"]
        for name, r in s.items():
            if "skipped" in r:
                lines.append(f"| {name} | skipped: {r['skipped']} |")
                continue
            kids = "; ".join(f"{v['cmd'][:60]} {v['rss_mib']:.0f} MiB" for v in r["children"].values()) or "-"
            busy = ", ".join(f"{k} {v}" for k, v in r["wakeups_per_thread"].items()) or "none"
            lines.append(f"| {name} | {r['window_s']} | {fmt(r['rss_mib'], 1)} | {fmt(r['cpu_pct'], 3)} | "
                         f"{fmt(r['wakeups_per_min'], 1)} ({busy}) | {r['threads']} | {kids} |")
        t = s.get("tray_xvfb", {})
        if "rss_mib" in t:
            checks.append(("idle tray RSS (MiB)", t["rss_mib"], TARGETS["idle_tray_rss_mib"], t["rss_mib"] <= 60))
            checks.append((f"idle tray wake-ups per minute ({t['wakeups']} in {t['window_s']} s)", t["wakeups_per_min"],
                           TARGETS["idle_wakeups_per_min"], t["wakeups"] <= max(1.0, t["window_s"] / 60)))
    if "startup" in res:
        s = res["startup"]["summary"]
        lines += ["", f"## Startup: process start to 200 from /healthz ({s['runs']} runs)",
                  f"median {fmt(s['median_ms'], 0)} ms (min {fmt(s['min_ms'], 0)}, max {fmt(s['max_ms'], 0)})",
                  "top imports (cumulative us): " + ", ".join(f"{r['module'].strip()} {r['us']}" for r in s["top_imports_cumulative_us"][:8])]
        checks.append(("startup (s)", s["median_ms"] / 1000, TARGETS["startup_s"], s["median_ms"] <= 1000))
    lines += ["", "## Targets", "| target | measured | limit | met |", "|---|---|---|---|"]
    lines += [f"| {n} | {fmt(v, 3)} | {lim} | {'yes' if ok else 'NO'} |" for n, v, lim, ok in checks]
    res["targets"] = [{"target": n, "measured": v, "limit": lim, "met": ok} for n, v, lim, ok in checks]
    return lines


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="short profile (about 3 minutes)")
    p.add_argument("--only", default="http,stream,convert,memory,idle,startup")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "latest.json"))
    a = p.parse_args()
    sections = [s.strip() for s in a.only.split(",") if s.strip()]
    with open("/proc/loadavg") as f:
        load_before = f.read().split()[:3]
    res: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "profile": "quick" if a.quick else "full",
        "machine": {"cpus": C.NCPU, "cpu": _cpu_model(), "kernel": platform.release(), "python": platform.python_version(),
                    "aiohttp": _version("aiohttp"), "orjson": _version("orjson"), "wrk": _wrk_version(),
                    "loadavg_before": load_before},
    }
    b = Bench(a.quick)
    t_all = time.monotonic()
    try:
        for name in sections:
            t0 = time.monotonic()
            print(f"[{name}] running...", file=sys.stderr, flush=True)
            res[name] = getattr(b, name)()
            res[name]["seconds"] = round(time.monotonic() - t0, 1)
    finally:
        b.close()
    res["seconds"] = round(time.monotonic() - t_all, 1)
    with open("/proc/loadavg") as f:
        res["machine"]["loadavg_after"] = f.read().split()[:3]
    lines = [f"# trayproxy benchmarks ({res['profile']}), {res['date']}", f"machine: {res['machine']}"] + report(res)
    print("\n".join(lines))
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1, default=str))
    print(f"\nwrote {out} ({res['seconds']} s)")
    return 0


def _version(mod: str) -> str:
    try:
        from importlib.metadata import version

        return version(mod)
    except Exception:
        return "?"


def _wrk_version() -> str:
    try:
        return subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.splitlines()[0][:40]
    except (OSError, IndexError):
        return "not installed"


def _cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    sys.exit(main())
