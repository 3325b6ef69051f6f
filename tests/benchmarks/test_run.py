"""The benchmarks say what they need: a missing tool is named, with what it is for and how to
install it, before anything starts (benchmarks/common.py TOOLS, benchmarks/run.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    empty = tmp_path / "bin"  # a PATH with no wrk, valgrind or Xvfb on it
    empty.mkdir(exist_ok=True)
    return subprocess.run([sys.executable, *argv], cwd=ROOT, env={"PATH": str(empty)}, capture_output=True,
                          text=True, timeout=120)


def test_run_names_wrk_and_how_to_install_it(tmp_path: Path) -> None:
    p = _run(tmp_path, "benchmarks/run.py", "--only", "http,convert", "--quick")
    assert p.returncode == 2, p.stderr
    assert p.stderr.splitlines() == [
        "benchmarks/run.py --only http needs wrk, which is not installed:",
        "  wrk: the HTTP load generator. Debian/Ubuntu: sudo apt-get install wrk; macOS: brew install wrk.",
    ]
    assert "[http] running" not in p.stderr and "output not understood" not in p.stderr


def test_instructions_and_monitor_benchmarks_name_theirs(tmp_path: Path) -> None:
    p = _run(tmp_path, "benchmarks/instructions.py")
    assert p.returncode == 2
    assert "benchmarks/instructions.py needs valgrind, callgrind_control" in p.stderr
    assert "sudo apt-get install valgrind" in p.stderr
    p = _run(tmp_path, "-m", "benchmarks.bench_monitor")
    assert p.returncode == 2 and "needs wrk" in p.stderr and "brew install wrk" in p.stderr


def test_an_unknown_section_is_refused(tmp_path: Path) -> None:
    p = _run(tmp_path, "benchmarks/run.py", "--only", "htp")
    assert p.returncode == 2 and "no such section: htp" in p.stderr
