"""CPU work per request that does not depend on the machine's load: instructions counted by
valgrind's callgrind, trayproxy against the minimal converting relay (benchmarks/min_relay.py).

On a shared machine CPU time per request moves by a third from one run to the next (other
processes thrash the caches). An instruction count does not: the same request costs the same
count every run, so a change to the hot path can be judged from one pair of runs.

1. Start the fake upstream; start the process under test inside callgrind (all its threads
   counted: the event loop and the monitor's writer).
2. Warm up with 15 requests, zero the counters (`callgrind_control -z`), send N requests one
   after another, wait for the monitor's writer, dump the counters (`callgrind_control -d`).
3. Instructions per request = the dump's total / N; the ratio to the minimal relay is printed.

    python benchmarks/instructions.py                 # openai, anthropic, gemini; N=60
    python benchmarks/instructions.py --proto openai -n 100

Needs valgrind (Debian: `apt install valgrind`); about a minute per process under test."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402

from benchmarks import common as C  # noqa: E402
from benchmarks.fixtures import MODEL, anthropic_body, openai_chat_body  # noqa: E402

PATHS = {
    "openai": "/v1/chat/completions",
    "anthropic": "/v1/messages",
    "gemini": f"/v1beta/models/{MODEL}:generateContent",
}


def _body(proto: str) -> bytes:
    if proto == "openai":
        return orjson.dumps(openai_chat_body(last="hi"))
    if proto == "anthropic":
        return orjson.dumps(anthropic_body(last="hi"))
    from benchmarks import min_relay

    return orjson.dumps(min_relay.openai_to_gemini(openai_chat_body(last="hi")))


def _python() -> str:
    """The interpreter itself (a pyenv shim is a shell script, which callgrind would count)."""
    return os.path.realpath(sys.executable)


def count(which: str, proto: str, n: int, fake: C.Fake) -> float:
    """Instructions per request of `which` (trayproxy | minimal) for one protocol."""
    port = C.free_port()
    work = Path(tempfile.mkdtemp(prefix="trayproxy-callgrind-"))
    out = work / "callgrind.out"
    if which == "minimal":
        argv = [_python(), str(ROOT / "benchmarks" / "min_relay.py"), "--port", str(port),
                "--generate-url", fake.generate_url]
        env = dict(os.environ, MIN_RELAY_TOKEN=fake.token)
    else:
        # auth off, as benchmarks/common.start_trayproxy: the requests carry no key (#27)
        argv = [_python(), "-m", "trayproxy.cli", "serve", "--port", str(port), "--auth-mode", "off"]
        env = C.trayproxy_env(C.make_home(fake), fake)
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"] + argv, env=env,
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        C.wait_http(f"http://127.0.0.1:{port}/healthz", timeout=300)
        body = _body(proto)

        def one() -> None:
            req = urllib.request.Request(f"http://127.0.0.1:{port}{PATHS[proto]}", data=body, headers={
                "Content-Type": "application/json", "anthropic-version": "2023-06-01"})
            with urllib.request.urlopen(req, timeout=120) as resp:
                if resp.status != 200:
                    raise RuntimeError(f"{which} {proto}: HTTP {resp.status}")
                resp.read()

        for _ in range(15):
            one()
        time.sleep(1.0)  # the monitor writer's linger, so its warm-up batch is not counted
        subprocess.run(["callgrind_control", "-z", str(proc.pid)], capture_output=True, check=True)
        for _ in range(n):
            one()
        time.sleep(1.5)  # the writer commits the counted requests' rows
        subprocess.run(["callgrind_control", "-d", str(proc.pid)], capture_output=True, check=True)
        time.sleep(0.5)
    finally:
        C.stop(proc)
    dumps = sorted(work.glob("callgrind.out.*"))
    if not dumps:
        raise RuntimeError("callgrind wrote no dump")
    total = 0
    for line in dumps[0].read_text(errors="replace").splitlines():
        if line.startswith("summary:"):
            total = int(line.split()[1])
    shutil.rmtree(work, ignore_errors=True)
    return total / n


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--proto", action="append", choices=sorted(PATHS), help="default: all three")
    p.add_argument("-n", type=int, default=60, help="requests counted per process (default 60)")
    a = p.parse_args()
    C.require(["valgrind", "callgrind_control"], "benchmarks/instructions.py")
    fake = C.start_fake()
    try:
        print("| protocol | minimal relay, instructions/request | trayproxy | ratio |")
        print("|---|---|---|---|")
        for proto in a.proto or list(PATHS):
            m = count("minimal", proto, a.n, fake)
            t = count("trayproxy", proto, a.n, fake)
            print(f"| {proto} | {m / 1e6:.2f} M | {t / 1e6:.2f} M | {t / m:.2f}x |", flush=True)
    finally:
        C.stop(fake.proc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
