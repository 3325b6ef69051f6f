"""Run every trayproxy benchmark and print the figures of issue #18, each with its ratio to the
minimal converting relay measured in the same run; writes benchmarks/results/latest.json.

    python benchmarks/run.py            # full profile (about 9 minutes on 2 cores)
    python benchmarks/run.py --quick    # about 2-3 minutes
    python benchmarks/run.py --only http,stream,stall

Sections: http (non-streaming OpenAI / Anthropic / Gemini at 1 connection, OpenAI at 64: direct,
benchmarks/min_relay.py and trayproxy, interleaved point by point with wrk), stream (200-chunk
streams per protocol, the three paths alternating stream by stream), stall (a 30 MB body in
flight: extra latency of a concurrent small request), memory (RSS with 1,000 open streams),
convert (converter microbenchmarks), idle (tray app under Xvfb and `trayproxy serve`: RSS, CPU,
wake-ups), startup (process start to 200 from /healthz). Every figure records the load average.

Placement on 2 cores (as in the perf reference): the process under test (trayproxy or the
minimal relay) has CPU0; the fake upstream and the load generator share CPU1. Direct runs: fake
on CPU1, load generator on CPU0. Loopback only; every run is bounded in count and time."""

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

MODEL_PATH = f"/v1beta/models/{MODEL}"
PROTOCOLS = {  # name: (trayproxy / minimal relay path, non-streaming body key, streaming path, streaming body key)
    "openai": ("/v1/chat/completions", "openai_json", "/v1/chat/completions", "openai_stream"),
    "anthropic": ("/v1/messages", "anthropic_json", "/v1/messages", "anthropic_stream"),
    "gemini": (f"{MODEL_PATH}:generateContent", "gemini_json", f"{MODEL_PATH}:streamGenerateContent?alt=sse",
               "gemini_stream"),
}
# external tools per section (benchmarks/common.py TOOLS says what each is and how to install it)
SECTION_TOOLS = {"http": ["wrk"]}
OPTIONAL_TOOLS = {"idle": ["Xvfb"]}
# issue #18: ratios to the minimal converting relay measured in the same run (benchmarks/min_relay.py)
TARGETS = {
    "added_p50_ratio": 1.3,
    "cpu_per_req_ratio": 1.5,
    "added_ttfb_ratio": 1.3,
    "cpu_per_chunk_ratio": 1.5,
    "rps_c64_ratio": 0.8,
    "streams_1000_mib_above_idle": 60.0,
    "big_body_delay_ms": 50.0,
    "idle_tray_rss_mib": 60.0,
    "startup_s": 1.0,
}
JSON_HEADERS = {"Content-Type": "application/json", "anthropic-version": "2023-06-01"}
RAMP = 50  # memory: the second figure opens the 1,000 streams in waves of this many


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b and b > 0 else None


class Bench:
    def __init__(self, quick: bool) -> None:
        self.quick = quick
        self.work = Path(tempfile.mkdtemp(prefix="trayproxy-bench-work-"))
        self.fake = C.start_fake()
        self.home = C.make_home(self.fake)
        self.procs: list[subprocess.Popen[Any]] = [self.fake.proc]
        from benchmarks import min_relay

        def gemini_body(last: str) -> dict[str, Any]:
            return min_relay.openai_to_gemini(openai_chat_body(last=last))

        def env_body(req: dict[str, Any]) -> bytes:
            return orjson.dumps({"project": "proj-bench", "model": MODEL, "request": req, "requestId": "agent/bench",
                                 "userAgent": "antigravity", "requestType": "agent"})

        self.direct_headers = {"Content-Type": "application/json", "User-Agent": "antigravity",
                               "Authorization": f"Bearer {self.fake.token}"}
        last, stream_last = "Now summarise the fix.", "stream 200 0"
        self.bodies = {
            "openai_json": orjson.dumps(openai_chat_body(last=last)),
            "anthropic_json": orjson.dumps(anthropic_body(last=last)),
            "gemini_json": orjson.dumps(gemini_body(last)),
            "openai_stream": orjson.dumps(openai_chat_body(stream=True, last=stream_last)),
            "anthropic_stream": orjson.dumps(anthropic_body(stream=True, last=stream_last)),
            "gemini_stream": orjson.dumps(gemini_body(stream_last)),
            "openai_hold": orjson.dumps(openai_chat_body(stream=True, last="stream 60 500")),
        }
        # what going direct sends: the minimal relay's envelope of the same body
        self.envelopes = {
            "openai_json": env_body(min_relay.openai_to_gemini(openai_chat_body(last=last))),
            "anthropic_json": env_body(min_relay.anthropic_to_gemini(anthropic_body(last=last))),
            "gemini_json": env_body(gemini_body(last)),
            "openai_stream": env_body(gemini_body(stream_last)),
            "anthropic_stream": env_body(min_relay.anthropic_to_gemini(anthropic_body(last=stream_last))),
            "gemini_stream": env_body(gemini_body(stream_last)),
        }

    def close(self) -> None:
        for p in self.procs:
            C.stop(p)
        shutil.rmtree(self.work, ignore_errors=True)
        shutil.rmtree(self.home, ignore_errors=True)

    def tray(self) -> tuple[subprocess.Popen[str], int]:
        port = C.free_port()
        p = C.start_trayproxy(self.home, self.fake, port)
        self.procs.append(p)
        return p, port

    def minimal(self) -> tuple[subprocess.Popen[str], int]:
        port = C.free_port()
        p = C.start_min_relay(self.fake, port)
        self.procs.append(p)
        return p, port

    def _file(self, key: str, data: bytes) -> Path:
        f = self.work / f"{key}.json"
        f.write_bytes(data)
        return f

    # -- http ----------------------------------------------------------------------------------
    def http(self) -> dict[str, Any]:
        """Non-streaming: direct, the minimal relay and trayproxy, interleaved point by point
        (so a burst of load on the shared machine hits all three alike)."""
        reps, dur = (1, 3.0) if self.quick else (3, 6.0)
        tray, tport = self.tray()
        mini, mport = self.minimal()
        points: list[tuple[str, int]] = [(proto, 1) for proto in PROTOCOLS] + [("openai", 64)]
        scripts: dict[tuple[str, str], Path] = {}
        for proto, (_path, key, _sp, _sk) in PROTOCOLS.items():
            scripts[(proto, "direct")] = C.wrk_script(self.envelopes[key], self.direct_headers, self.work, f"env_{proto}")
            scripts[(proto, "proxy")] = C.wrk_script(self.bodies[key], JSON_HEADERS, self.work, f"body_{proto}")

        def target(proto: str, who: str) -> tuple[str, Path, int | None, str]:
            path = PROTOCOLS[proto][0]
            if who == "direct":
                return self.fake.generate_url, scripts[(proto, "direct")], None, C.PROXY_CPU
            port, pid = (mport, mini.pid) if who == "minimal" else (tport, tray.pid)
            return f"http://127.0.0.1:{port}{path}", scripts[(proto, "proxy")], pid, C.OTHER_CPU

        whos = ("direct", "minimal", "trayproxy")
        for proto in PROTOCOLS:  # warm-up (connections, token, caches)
            for who in whos:
                url, script, _, cpu = target(proto, who)
                C.run_wrk(url, script, 4, 1, cpu)
        runs: dict[str, list[dict[str, Any]]] = {f"{who}_{p}_c{c}": [] for p, c in points for who in whos}
        for _ in range(reps):
            for proto, conns in points:
                for who in whos:
                    url, script, pid, cpu = target(proto, who)
                    c0 = C.cpu_seconds(pid) if pid else 0.0
                    r = C.run_wrk(url, script, conns, dur, cpu)
                    r["loadavg"] = C.loadavg()
                    if pid:
                        r["cpu_us_per_req"] = (C.cpu_seconds(pid) - c0) / max(1, r["raw_requests"]) * 1e6
                    runs[f"{who}_{proto}_c{conns}"].append(r)
        summary: dict[str, Any] = {}
        for proto, conns in points:
            direct = runs[f"direct_{proto}_c{conns}"]
            for who in whos:
                rs = runs[f"{who}_{proto}_c{conns}"]
                s = {k: C.median([r[k] for r in rs]) for k in ("rps", "p50_ms", "p99_ms")}
                if who != "direct":
                    s["cpu_us_per_req"] = C.median([r["cpu_us_per_req"] for r in rs])
                    s["added_p50_ms"] = C.median([r["p50_ms"] - d["p50_ms"] for r, d in zip(rs, direct, strict=True)])
                s["errors"] = sum(r["non2xx"] + r["socket_errors"] for r in rs)
                summary[f"{who}_{proto}_c{conns}"] = s
            t, m = summary[f"trayproxy_{proto}_c{conns}"], summary[f"minimal_{proto}_c{conns}"]
            summary[f"ratio_{proto}_c{conns}"] = {
                "added_p50": _ratio(t["added_p50_ms"], m["added_p50_ms"]),
                "cpu_per_req": _ratio(t["cpu_us_per_req"], m["cpu_us_per_req"]),
                "rps": _ratio(t["rps"], m["rps"]),
            }
        for p in (tray, mini):
            C.stop(p)
        return {"reps": reps, "duration_s": dur, "raw": runs, "summary": summary}

    # -- stream --------------------------------------------------------------------------------
    def stream(self) -> dict[str, Any]:
        """A 200-chunk answer streamed to one connection, per protocol: direct, minimal relay and
        trayproxy alternate stream by stream (stream_client.py alternate)."""
        n = 40 if self.quick else 150
        tray, tport = self.tray()
        mini, mport = self.minimal()
        summary: dict[str, Any] = {"chunks": 200, "streams": n}
        raw: dict[str, Any] = {}
        for proto, (_p, _k, path, key) in PROTOCOLS.items():
            spec = [
                {"name": "direct", "url": self.fake.generate_url, "headers": self.direct_headers,
                 "body_file": str(self._file(f"direct_{key}", self.envelopes[key]))},
                {"name": "minimal", "url": f"http://127.0.0.1:{mport}{path}", "headers": JSON_HEADERS,
                 "body_file": str(self._file(key, self.bodies[key]))},
                {"name": "trayproxy", "url": f"http://127.0.0.1:{tport}{path}", "headers": JSON_HEADERS,
                 "body_file": str(self._file(key, self.bodies[key]))},
            ]
            spec_file = self.work / f"spec_{proto}.json"
            spec_file.write_text(json.dumps(spec))
            cpu0 = {"minimal": C.cpu_seconds(mini.pid), "trayproxy": C.cpu_seconds(tray.pid)}
            cmd = C.pinned(C.OTHER_CPU, [sys.executable, str(ROOT / "benchmarks" / "stream_client.py"), "alternate",
                                         "--spec", str(spec_file), "-n", str(n)])
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=ROOT)
            if out.returncode != 0:
                raise RuntimeError(out.stderr)
            res = json.loads(out.stdout)
            cpu = {"minimal": C.cpu_seconds(mini.pid) - cpu0["minimal"], "trayproxy": C.cpu_seconds(tray.pid) - cpu0["trayproxy"]}
            raw[proto] = res
            d_ttfb = C.median(res["direct"]["ttfb_ms"])
            for who in ("direct", "minimal", "trayproxy"):
                r = res[who]
                s: dict[str, Any] = {"ttfb_p50_ms": C.median(r["ttfb_ms"]), "total_p50_ms": C.median(r["total_ms"]),
                                     "errors": r["errors"]}
                if who != "direct":
                    s["added_ttfb_p50_ms"] = C.median([a - b for a, b in zip(r["ttfb_ms"], res["direct"]["ttfb_ms"], strict=False)])
                    s["cpu_us_per_chunk"] = cpu[who] / (n + 3) / 200 * 1e6
                summary[f"{who}_{proto}"] = s
            summary[f"direct_{proto}"]["ttfb_p50_ms"] = d_ttfb
            t, m = summary[f"trayproxy_{proto}"], summary[f"minimal_{proto}"]
            summary[f"ratio_{proto}"] = {"added_ttfb": _ratio(t["added_ttfb_p50_ms"], m["added_ttfb_p50_ms"]),
                                         "cpu_per_chunk": _ratio(t["cpu_us_per_chunk"], m["cpu_us_per_chunk"]),
                                         "loadavg": C.loadavg()}
        for p in (tray, mini):
            C.stop(p)
        return {"raw": raw, "summary": summary}

    # -- stall ---------------------------------------------------------------------------------
    def stall(self) -> dict[str, Any]:
        """A 30 MB OpenAI chat body in flight: how much longer a concurrent small request takes."""
        from benchmarks.fixtures import big_openai_chat_body

        reps = 2 if self.quick else 3
        big = self._file("big", orjson.dumps(big_openai_chat_body(30.0)))
        small = self._file("small", self.bodies["openai_json"])
        out: dict[str, Any] = {}
        for who, start in (("minimal", self.minimal), ("trayproxy", self.tray)):
            proc, port = start()
            cmd = C.pinned(C.OTHER_CPU, [sys.executable, str(ROOT / "benchmarks" / "stall_client.py"), "--url",
                                         f"http://127.0.0.1:{port}/v1/chat/completions", "--big-file", str(big),
                                         "--small-file", str(small), "--reps", str(reps),
                                         # the proxy's own stall: a route it answers itself, beside the
                                         # small requests (the benchmark's fake upstream, one Python
                                         # process, holds its own loop ~150 ms parsing the 30 MB envelope)
                                         "--probe-url", f"http://127.0.0.1:{port}/healthz"])
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT)
            C.stop(proc)
            if res.returncode != 0:
                raise RuntimeError(res.stderr)
            out[who] = json.loads(res.stdout) | {"loadavg": C.loadavg()}
        return {"summary": out}

    # -- convert -------------------------------------------------------------------------------
    def convert(self) -> dict[str, Any]:
        cmd = C.pinned(C.PROXY_CPU, [sys.executable, "-m", "benchmarks.bench_convert", "--json",
                                     "--repeat", "5" if self.quick else "9"])
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT)
        if out.returncode != 0:
            raise RuntimeError(out.stderr)
        return {"summary": json.loads(out.stdout)}

    # -- memory --------------------------------------------------------------------------------
    def _hold(self, pid: int, url: str, body_key: str, headers: dict[str, str], n: int, ramp: int = 0) -> dict[str, Any]:
        body_file = self._file(body_key, self.bodies[body_key])
        time.sleep(1.0)
        idle = C.rss_mib(pid)
        cmd = C.pinned(C.OTHER_CPU, [sys.executable, str(ROOT / "benchmarks" / "stream_client.py"), "hold", "--url", url,
                                     "--body-file", str(body_file), "-n", str(n), "--open-timeout", "25", "--ramp", str(ramp)]
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
                "rss_after_close_mib": C.rss_mib(pid), "loadavg": C.loadavg(), **opened}

    def memory(self) -> dict[str, Any]:
        """1,000 OpenAI chat streams (60 chunks, 500 ms apart) opened at once (the #18 figure),
        and opened in waves of 50 (what the open streams themselves cost, without 1,000
        requests in flight before their first byte at the same moment; RSS does not shrink
        after that peak). A fresh process for each."""
        n = 1000
        out: dict[str, Any] = {}
        for ramp in (0, RAMP):
            for who, start in (("minimal", self.minimal), ("trayproxy", self.tray)):
                proc, port = start()
                url = f"http://127.0.0.1:{port}/v1/chat/completions"
                self._warm(url, "openai_json", JSON_HEADERS)
                out[who if not ramp else f"{who}, in waves of {ramp}"] = self._hold(
                    proc.pid, url, "openai_hold", JSON_HEADERS, n, ramp)
                C.stop(proc)
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
        tray = [sys.executable, "-m", "trayproxy.cli"]
        floor = [sys.executable, str(ROOT / "benchmarks" / "tray_floor.py")]
        # the floor under the tray app (benchmarks/tray_floor.py): what trayproxy adds is the difference
        variants: dict[str, tuple[list[str], dict[str, str]]] = {
            "tray_xvfb": (tray, {}),
            "floor: bare pystray+GTK": (floor, {}),
            "floor: bare pystray+GTK + aiohttp control server": (floor + ["--control-server"], {}),
        }
        for vname, (argv, extra) in variants.items():
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
            proc = subprocess.Popen(C.pinned(C.PROXY_CPU, argv), env=env, cwd=ROOT,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.procs.append(proc)
            out[vname] = self._idle_measure(proc.pid, window, settle)
            _stop_tree(proc)
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


def _check(checks: list[tuple[str, Any, str, bool]], name: str, v: float | None, limit: str, ok: bool) -> None:
    checks.append((name, v, limit, v is not None and ok))


def report(res: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    checks: list[tuple[str, Any, str, bool]] = []
    T = TARGETS
    if "http" in res:
        s = res["http"]["summary"]
        lines += ["", f"## Non-streaming ({res['http']['reps']} x {res['http']['duration_s']:g} s per point, interleaved), "
                  "20-message agent body, wrk",
                  "| protocol | conns | path | req/s | p50 ms | p99 ms | added p50 ms | CPU us/req | errors |",
                  "|---|---|---|---|---|---|---|---|---|"]
        points = [k[len("ratio_"):] for k in s if k.startswith("ratio_")]
        for pt in points:
            proto, conns = pt.rsplit("_c", 1)
            for who in ("direct", "minimal", "trayproxy"):
                r = s[f"{who}_{pt}"]
                lines.append(f"| {proto} | {conns} | {who} | {fmt(r['rps'], 0)} | {fmt(r['p50_ms'], 3)} | {fmt(r['p99_ms'], 2)} | "
                             f"{fmt(r.get('added_p50_ms'), 3)} | {fmt(r.get('cpu_us_per_req'), 0)} | {r['errors']} |")
            q = s[f"ratio_{pt}"]
            lines.append(f"| {proto} | {conns} | **trayproxy / minimal** | {fmt(q['rps'])}x | | | {fmt(q['added_p50'])}x | "
                         f"{fmt(q['cpu_per_req'])}x | |")
            if conns == "1":
                _check(checks, f"{proto}: added p50, 1 conn (x minimal)", q["added_p50"], f"<= {T['added_p50_ratio']}",
                       (q["added_p50"] or 99) <= T["added_p50_ratio"])
                _check(checks, f"{proto}: CPU per request (x minimal)", q["cpu_per_req"], f"<= {T['cpu_per_req_ratio']}",
                       (q["cpu_per_req"] or 99) <= T["cpu_per_req_ratio"])
            else:
                _check(checks, f"{proto}: req/s at {conns} conns (x minimal)", q["rps"], f">= {T['rps_c64_ratio']}",
                       (q["rps"] or 0) >= T["rps_c64_ratio"])
    if "stream" in res:
        s = res["stream"]["summary"]
        lines += ["", f"## Streaming, {s['chunks']}-chunk answer, 1 connection, {s['streams']} streams per path, alternating; "
                  "added TTFB = median of the per-round differences to direct",
                  "| protocol | path | TTFB p50 ms | added TTFB ms | stream p50 ms | CPU us/chunk | errors |",
                  "|---|---|---|---|---|---|---|"]
        for proto in PROTOCOLS:
            for who in ("direct", "minimal", "trayproxy"):
                r = s[f"{who}_{proto}"]
                lines.append(f"| {proto} | {who} | {fmt(r['ttfb_p50_ms'], 3)} | {fmt(r.get('added_ttfb_p50_ms'), 3)} | "
                             f"{fmt(r['total_p50_ms'], 2)} | {fmt(r.get('cpu_us_per_chunk'), 1)} | {r['errors']} |")
            q = s[f"ratio_{proto}"]
            lines.append(f"| {proto} | **trayproxy / minimal** | | {fmt(q['added_ttfb'])}x | | {fmt(q['cpu_per_chunk'])}x | |")
            _check(checks, f"{proto} stream: added TTFB (x minimal)", q["added_ttfb"], f"<= {T['added_ttfb_ratio']}",
                   (q["added_ttfb"] or 99) <= T["added_ttfb_ratio"])
            _check(checks, f"{proto} stream: CPU per chunk (x minimal)", q["cpu_per_chunk"], f"<= {T['cpu_per_chunk_ratio']}",
                   (q["cpu_per_chunk"] or 99) <= T["cpu_per_chunk_ratio"])
    if "stall" in res:
        s = res["stall"]["summary"]
        lines += ["", "## A 30 MB OpenAI chat body in flight: extra latency of a concurrent small request",
                  "| path | body MB | small p50 alone ms | worst small during ms | delay ms (median of reps) | "
                  "own stall ms (/healthz probe) | big request ms |",
                  "|---|---|---|---|---|---|---|"]
        for who, r in s.items():
            lines.append(f"| {who} | {r['big_bytes'] / 1e6:.1f} | {fmt(C.median([x['base_p50_ms'] for x in r['reps']]), 2)} | "
                         f"{fmt(C.median([x['during_max_ms'] for x in r['reps']]), 1)} | {fmt(r['delay_ms'], 1)} | "
                         f"{fmt(r.get('probe_delay_ms'), 1)} | {fmt(r['big_ms'], 0)} |")
        d = s["trayproxy"]["delay_ms"]
        _check(checks, "30 MB body: delay of a concurrent small request, end to end (ms)", d,
               f"< {T['big_body_delay_ms']:g}", d < T["big_body_delay_ms"])
        own = s["trayproxy"].get("probe_delay_ms")
        if own is not None:
            _check(checks, "30 MB body: the proxy's own stall, /healthz beside it (ms)", own,
                   f"< {T['big_body_delay_ms']:g}", own < T["big_body_delay_ms"])
    if "convert" in res:
        s = res["convert"]["summary"]
        lines += ["", f"## Conversion (pinned to one core), request sizes {s['request_bytes']}", "| case | us |", "|---|---|"]
        lines += [f"| {k} (per request) | {fmt(v, 1)} |" for k, v in s["per_request_us"].items()]
        lines += [f"| {k} (per event) | {fmt(v, 2)} |" for k, v in s["per_event_us"].items()]
    if "memory" in res:
        s = res["memory"]["summary"]
        lines += ["", "## Memory with 1,000 concurrent open streams (OpenAI chat, 60 chunks, 500 ms apart; opened at "
                  f"once, and in waves of {RAMP})",
                  "| process | idle RSS MiB | peak RSS MiB | above idle MiB | streams opened | failed | MiB per 1,000 | RSS after close |",
                  "|---|---|---|---|---|---|---|---|"]
        for name, r in s.items():
            lines.append(f"| {name} | {fmt(r['idle_rss_mib'], 1)} | {fmt(r['peak_rss_mib'], 1)} | {fmt(r['above_idle_mib'], 1)} | "
                         f"{r['opened']}/{r['n']} | {r['failed']} {r['statuses']} | {fmt(r['mib_per_1000_streams'], 1)} | "
                         f"{fmt(r['rss_after_close_mib'], 1)} |")
        t = s["trayproxy"]
        _check(checks, "1,000 open streams above idle (MiB)", t["above_idle_mib"], f"<= {T['streams_1000_mib_above_idle']:g}",
               t["above_idle_mib"] <= T["streams_1000_mib_above_idle"] and t["opened"] == t["n"])
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
            _check(checks, "idle tray RSS (MiB)", t["rss_mib"], f"<= {T['idle_tray_rss_mib']:g}", t["rss_mib"] <= 60)
            floors = [(k, v["rss_mib"]) for k, v in s.items() if k.startswith("floor") and "rss_mib" in v]
            if floors:
                lines.append("trayproxy adds " + "; ".join(f"{t['rss_mib'] - v:+.1f} MiB over {k[7:]}" for k, v in floors))
        lines.append("The settings window's idle CPU (#18) is not measured here: it needs the UI's push channel (trayproxy/ui).")
    if "startup" in res:
        s = res["startup"]["summary"]
        lines += ["", f"## Startup: process start to 200 from /healthz ({s['runs']} runs)",
                  f"median {fmt(s['median_ms'], 0)} ms (min {fmt(s['min_ms'], 0)}, max {fmt(s['max_ms'], 0)})",
                  "top imports (cumulative us): " + ", ".join(f"{r['module'].strip()} {r['us']}" for r in s["top_imports_cumulative_us"][:8])]
        _check(checks, "startup (s)", s["median_ms"] / 1000, f"<= {T['startup_s']:g}", s["median_ms"] <= 1000)
    lines += ["", "## Targets (issue #18; ratios from the same run)", "| target | measured | limit | met |", "|---|---|---|---|"]
    lines += [f"| {n} | {fmt(v, 2)} | {lim} | {'yes' if ok else 'NO'} |" for n, v, lim, ok in checks]
    res["targets"] = [{"target": n, "measured": v, "limit": lim, "met": ok} for n, v, lim, ok in checks]
    return lines


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="short profile (about 3 minutes)")
    p.add_argument("--only", default="http,stream,stall,memory,convert,idle,startup")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "latest.json"))
    a = p.parse_args()
    sections = [s.strip() for s in a.only.split(",") if s.strip()]
    unknown = [s for s in sections if not callable(getattr(Bench, s, None))]
    if unknown:
        p.error(f"no such section: {', '.join(unknown)} (sections: {p.get_default('only')})")
    if not sys.platform.startswith("linux"):
        print("benchmarks/run.py reads CPU time, memory and wake-ups from /proc: it runs on Linux only.",
              file=sys.stderr)
        return 2
    needs = sorted({t for s in sections for t in SECTION_TOOLS.get(s, [])})
    C.require(needs, f"benchmarks/run.py --only {','.join(s for s in sections if SECTION_TOOLS.get(s))}")
    for s in sections:  # optional tools: the part that needs one is skipped, and says so
        note = C.missing_tools(OPTIONAL_TOOLS.get(s, []), f"the {s} section's tray part")
        if note:
            print(note + " It is skipped.", file=sys.stderr)
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
