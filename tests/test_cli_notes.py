"""The CLI's notices (trayproxy/cli_notes.py) and `trayproxy logs` as a person reads them."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

from trayproxy.cli_notes import route_notices, unroute_notices


def cli(home: Path, *args: str, columns: int = 100) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRAYPROXY_HOME": str(home), "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
           "COLUMNS": str(columns), "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    env.pop("DISPLAY", None)
    return subprocess.run([sys.executable, "-m", "trayproxy", *args], env=env, capture_output=True, text=True,
                          timeout=60)


def test_no_keychain_note_once_per_command_like_the_other_notes(tmp_path: Path) -> None:
    for args in (("key", "show"), ("accounts", "list")):
        p = cli(tmp_path, *args)
        assert p.returncode == 0, p.stderr
        lines = [line for line in p.stderr.splitlines() if "keychain" in line]
        assert len(lines) == 1, (args, p.stderr)
        assert lines[0].startswith("trayproxy: note: no system keychain (") and "(mode 0600)" in lines[0]
        assert str(tmp_path) in lines[0]
    doctor = cli(tmp_path, "doctor")
    assert "trayproxy: note" not in doctor.stderr + doctor.stdout  # doctor says it in its own report
    assert "keyring:      FALLBACK" in doctor.stdout


def test_handler_says_each_thing_once() -> None:
    out = io.StringIO()
    route_notices("key", out)
    try:
        log = logging.getLogger("trayproxy.secrets")
        for _ in range(2):
            log.warning("No usable system keychain (%s); secrets are stored in %s (mode 0600) instead", "none", "/x")
        log.warning("The system keychain failed while %s: %s", "reading", "locked")
    finally:
        unroute_notices()
    assert out.getvalue().splitlines() == [
        "trayproxy: note: no system keychain (none); secrets are kept in /x (mode 0600)",
        "trayproxy: warning: The system keychain failed while reading: locked",
    ]
    assert logging.getLogger("trayproxy.secrets").propagate


def test_logs_show_the_route_and_the_whole_error_wrapped(tmp_path: Path) -> None:
    from trayproxy.monitor import Monitor, RequestRecord

    db = tmp_path / "monitor.db"
    mon = Monitor(db)
    mon.start()
    long_error = ("Every account failed for this request. Last error: upstream answered 500: "
                  "<html>Internal error</html> " + "and then some more words " * 6 + "THE-END")
    mon.record(RequestRecord(
        id="r1", ts=time.time(), method="POST", route="/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        protocol="gemini", client_model="gemini-2.5-flash", upstream_model="gemini-2.5-flash",
        account_id="0123456789abcdef", upstream="google", status=502, outcome="error", duration_ms=900.0,
        ttfb_ms=None, error=long_error))
    mon.record(RequestRecord(
        id="r2", ts=time.time(), method="POST", route="/v1/messages", protocol="anthropic",
        client_model="claude-sonnet-4-6", upstream_model="claude-sonnet-4-6", account_id=None, upstream=None,
        status=401, outcome="rejected", duration_ms=1.0, ttfb_ms=None, error="Invalid API key"))
    mon.flush()
    mon.close()
    for columns in (80, 100, 140):
        p = cli(tmp_path, "logs", columns=columns)
        assert p.returncode == 0, p.stderr
        out = p.stdout.rstrip("\n")
        assert all(len(line) <= columns for line in out.splitlines()), (columns, out)
        flat = " ".join(out.split())
        assert " ".join(long_error.split()) in flat  # the whole error, wrapped, nothing cut
        assert "/v1beta/models/gemini-2.5-flash:streamGenerateContent" in flat and "/v1/messages" in out
        assert "Invalid API key" in out
