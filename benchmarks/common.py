"""Process plumbing for the benchmarks: start the fake upstream, trayproxy and the bare relay
pinned to CPUs, read CPU time / RSS / context switches from /proc, run wrk."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CLK_TCK = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count() or 1
PROXY_CPU = "0"
OTHER_CPU = "1" if NCPU > 1 else "0"


# The tools the benchmarks run, what for, and how to get them: a missing one is named up front,
# never found out from output that is not there ("wrk output not understood").
TOOLS = {
    "wrk": ("the HTTP load generator", "Debian/Ubuntu: sudo apt-get install wrk; macOS: brew install wrk"),
    "valgrind": ("callgrind, which counts instructions", "Debian/Ubuntu: sudo apt-get install valgrind (Linux)"),
    "callgrind_control": ("valgrind's callgrind control tool", "It comes with valgrind: sudo apt-get install valgrind"),
    "Xvfb": ("a virtual display for the tray app", "Debian/Ubuntu: sudo apt-get install xvfb"),
}


def missing_tools(tools: list[str], needed_for: str) -> str | None:
    """None when every tool is on PATH, else what is missing, what for and how to install it."""
    gone = [t for t in tools if shutil.which(t) is None]
    if not gone:
        return None
    lines = [f"{needed_for} needs {', '.join(gone)}, which {'is' if len(gone) == 1 else 'are'} not installed:"]
    for t in gone:
        what, how = TOOLS.get(t, ("", ""))
        lines.append(f"  {t}: {what}. {how}".rstrip(". ") + ".")
    return "\n".join(lines)


def require(tools: list[str], needed_for: str) -> None:
    """Exit 2 with missing_tools' message when a tool is missing."""
    msg = missing_tools(tools, needed_for)
    if msg:
        print(msg, file=sys.stderr)
        raise SystemExit(2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pinned(cpu: str, argv: list[str]) -> list[str]:
    return (["taskset", "-c", cpu] if shutil.which("taskset") else []) + argv


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def ctx_switches(pid: int) -> dict[str, tuple[int, int, str]]:
    """Per thread: (voluntary, involuntary context switches, thread name)."""
    out: dict[str, tuple[int, int, str]] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            vol = invol = 0
            name = ""
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                for line in f:
                    if line.startswith("Name:"):
                        name = line.split(None, 1)[1].strip()
                    elif line.startswith("voluntary_ctxt_switches:"):
                        vol = int(line.split()[1])
                    elif line.startswith("nonvoluntary_ctxt_switches:"):
                        invol = int(line.split()[1])
            out[tid] = (vol, invol, name)
        except FileNotFoundError:
            pass
    return out


def wakeups(before: dict[str, tuple[int, int, str]], after: dict[str, tuple[int, int, str]]) -> dict[str, int]:
    """Voluntary switches (a thread went to sleep, i.e. one wake-up each) between two samples,
    per thread name; threads born in between count in full."""
    per: dict[str, int] = {}
    for tid, (vol, _invol, name) in after.items():
        d = vol - before[tid][0] if tid in before else vol
        per[f"{name}:{tid}"] = d
    return per


def wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not come up within {timeout} s")
        time.sleep(0.02)


def stop(proc: subprocess.Popen[Any] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@dataclass
class Fake:
    proc: subprocess.Popen[str]
    url: str
    env: dict[str, str]
    token: str
    refresh_token: str
    generate_url: str


def start_fake(cpu: str = OTHER_CPU) -> Fake:
    proc = subprocess.Popen(pinned(cpu, [sys.executable, "-m", "benchmarks.fake_upstream", "--port", "0"]),
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    info = json.loads(proc.stdout.readline())
    return Fake(proc, info["url"], info["env"], info["token"], info["refresh_token"], info["generate_url"])


def make_home(fake: Fake) -> Path:
    """A TRAYPROXY_HOME with one account signed in against the fake (via the CLI)."""
    home = Path(tempfile.mkdtemp(prefix="trayproxy-bench-"))
    env = trayproxy_env(home, fake)
    out = subprocess.run([sys.executable, "-m", "trayproxy.cli", "accounts", "add", "--refresh-token", fake.refresh_token],
                         env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise RuntimeError(f"accounts add failed: {out.stdout}{out.stderr}")
    return home


def trayproxy_env(home: Path, fake: Fake | None) -> dict[str, str]:
    env = dict(os.environ, TRAYPROXY_HOME=str(home), TRAYPROXY_CLIENT_VERSION_URL="")  # no updater: no internet
    env.pop("DISPLAY", None)
    if fake is not None:
        env.update(fake.env)
    return env


def start_trayproxy(home: Path, fake: Fake, port: int, cpu: str = PROXY_CPU,
                    argv: list[str] | None = None) -> subprocess.Popen[str]:
    # auth off: the load generators send no key (auth_mode auto asks for one since #27)
    cmd = argv or [sys.executable, "-m", "trayproxy.cli", "serve", "--port", str(port), "--auth-mode", "off"]
    proc = subprocess.Popen(pinned(cpu, cmd), env=trayproxy_env(home, fake), cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    wait_http(f"http://127.0.0.1:{port}/healthz")
    return proc


def start_bare(upstream: str, port: int, cpu: str = PROXY_CPU) -> subprocess.Popen[str]:
    proc = subprocess.Popen(pinned(cpu, [sys.executable, str(ROOT / "benchmarks" / "bare_relay.py"), "--port", str(port),
                                         "--upstream", upstream]), cwd=ROOT, text=True)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def start_min_relay(fake: Fake, port: int, cpu: str = PROXY_CPU) -> subprocess.Popen[str]:
    """benchmarks/min_relay.py against the fake, with the fake's ready access token (in the
    environment, not on the command line)."""
    proc = subprocess.Popen(pinned(cpu, [sys.executable, str(ROOT / "benchmarks" / "min_relay.py"), "--port", str(port),
                                         "--generate-url", fake.generate_url]),
                            env=dict(os.environ, MIN_RELAY_TOKEN=fake.token), cwd=ROOT, text=True)
    wait_http(f"http://127.0.0.1:{port}/healthz")
    return proc


def loadavg() -> list[float]:
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


# -- wrk -------------------------------------------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not m:
        raise ValueError(text)
    return float(m.group(1)) * _UNITS[m.group(2)]


def wrk_script(body: bytes, headers: dict[str, str], workdir: Path, name: str) -> Path:
    body_path = workdir / f"{name}.json"
    body_path.write_bytes(body)
    lines = ['wrk.method = "POST"', f'local f = io.open("{body_path}", "rb")', "wrk.body = f:read(\"*a\")", "f:close()"]
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
    script = workdir / f"{name}.lua"
    script.write_text("\n".join(lines) + "\n")
    return script


def run_wrk(url: str, script: Path, conns: int, seconds: float, cpu: str) -> dict[str, Any]:
    require(["wrk"], "this benchmark")
    cmd = pinned(cpu, ["wrk", "-t1", f"-c{conns}", f"-d{seconds:g}s", "--latency", "-s", str(script), url])
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    out = done.stdout
    res: dict[str, Any] = {"raw_requests": 0, "non2xx": 0, "socket_errors": 0}
    for line in out.splitlines():
        s = line.strip()
        m = re.match(r"(50|75|90|99)%\s+(\S+)", s)
        if m:
            res[f"p{m.group(1)}_ms"] = _ms(m.group(2))
        elif s.startswith("Requests/sec:"):
            res["rps"] = float(s.split()[1])
        elif re.match(r"\d+ requests in", s):
            res["raw_requests"] = int(s.split()[0])
        elif s.startswith("Non-2xx or 3xx responses:"):
            res["non2xx"] = int(s.split()[-1])
        elif s.startswith("Socket errors:"):
            res["socket_errors"] = sum(int(x) for x in re.findall(r"\d+", s))
    if "rps" not in res:
        raise RuntimeError(f"wrk output not understood (exit {done.returncode}):\n{out}\n{done.stderr}")
    return res


def median(xs: list[float]) -> float:
    s = sorted(xs)
    n = len(s)
    if not n:
        return float("nan")
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    if not s:
        return float("nan")
    k = min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))
    return s[k]
