"""trayproxy/applog.py: the app's log, as `serve` (stderr) and the tray app (trayproxy.log) set it
up: nothing a client sent reaches it raw or unredacted, the file is private and rotates, and
aiohttp's own log of malformed requests is one short line, not a traceback with the bytes.

Regression (issue #27, finding 4): a request whose Authorization value carried a stray control
byte put the whole API key into stderr / trayproxy.log (aiohttp prints the raw header line), and
2,000 malformed requests added 17 MB of log; trayproxy.log was 0644 and never rotated."""

from __future__ import annotations

import asyncio
import logging
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import raw_exchange
from tests.proxy.app_stack import app_stack
from trayproxy import applog
from trayproxy.paths import AppPaths


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    applog.teardown()
    for h in list(root.handlers):
        if h not in handlers:
            root.removeHandler(h)
    root.setLevel(level)


def _tray_logging(tmp_path: Path) -> Path:
    from trayproxy.ui.app import _setup_logging

    paths = AppPaths(config_dir=tmp_path, data_dir=tmp_path)
    _setup_logging(paths)
    return paths.log_file


async def test_a_malformed_request_puts_no_key_and_no_traceback_in_the_log(tmp_path: Path) -> None:
    log_file = _tray_logging(tmp_path)
    async with app_stack(tmp_path) as s:
        key = s.api_key()
        applog.known_secrets(lambda: [key])
        bad = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + key.encode()
               + b"\x01\r\nContent-Length: 2\r\n\r\n{}")
        answers = await asyncio.gather(*(asyncio.to_thread(raw_exchange, s.port, bad) for _ in range(200)))
    assert all(a.startswith(b"HTTP/1.") and b" 400 " in a.split(b"\r\n", 1)[0] for a in answers)
    for h in logging.getLogger().handlers:
        h.flush()
    text = log_file.read_text()
    assert key[3:] not in text, text[:1500]  # not the key, not even without its prefix
    assert "Traceback" not in text and "\x01" not in text, text[:1500]
    lines = [ln for ln in text.splitlines() if "malformed HTTP request" in ln]
    assert len(lines) == 1, text[:2000]  # 200 refusals in a minute: one line
    assert "127.0.0.1" in lines[0] and "400" in lines[0]
    assert len(text) < 1000


def test_the_serve_console_escapes_client_text(capfd: pytest.CaptureFixture[str]) -> None:
    """What `trayproxy serve` prints: a path with ESC sequences and a line feed stays one line,
    its controls visible; a key-shaped value is redacted."""
    from trayproxy.cli import _setup_logging

    _setup_logging(verbose=True)
    logging.getLogger("trayproxy.proxy").error("Unexpected error while serving %s %s", "GET",
                                               "/v1/\x1b]52;c;cm0gLXJm\x07\x1b[2J\nERROR forged line sk-0123456789abcdef")
    err = capfd.readouterr().err
    assert "\x1b" not in err and "\x07" not in err
    assert "\\x1b]52" in err and "\\x0aERROR forged line" in err
    assert len([ln for ln in err.splitlines() if "ERROR" in ln]) == 1
    assert "sk-0123456789abcdef" not in err and "[REDACTED]" in err


def test_tracebacks_keep_their_lines_but_not_a_clients_controls(capfd: pytest.CaptureFixture[str]) -> None:
    from trayproxy.cli import _setup_logging

    _setup_logging()
    try:
        raise ValueError("bad value \x1b[31mred\x1b[0m")
    except ValueError:
        logging.getLogger("trayproxy.proxy").exception("failed")
    err = capfd.readouterr().err
    assert "Traceback (most recent call last):\n" in err and "\x1b" not in err and "\\x1b[31mred" in err


def test_the_log_file_is_private_and_rotates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old = tmp_path / "trayproxy.log"
    old.write_text("from an older version\n")
    old.chmod(0o644)
    (tmp_path / "trayproxy.log.1").write_text("older\n")
    (tmp_path / "trayproxy.log.1").chmod(0o644)
    monkeypatch.setattr(applog, "MAX_BYTES", 4096)
    log_file = _tray_logging(tmp_path)
    assert stat.S_IMODE(log_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "trayproxy.log.1").stat().st_mode) == 0o600
    log = logging.getLogger("trayproxy.test")
    for i in range(400):
        log.warning("line %d %s", i, "x" * 60)
    files = sorted(p.name for p in tmp_path.glob("trayproxy.log*"))
    assert files == ["trayproxy.log", "trayproxy.log.1", "trayproxy.log.2", "trayproxy.log.3"]
    for p in tmp_path.glob("trayproxy.log*"):
        assert p.stat().st_size <= 4096 + 200 and stat.S_IMODE(p.stat().st_mode) == 0o600
