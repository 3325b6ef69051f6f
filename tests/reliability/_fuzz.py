"""What the fuzz tests share (test_fuzz_bodies.py, test_fuzz_headers.py, test_fuzz_socket.py):
the app over a healthy upstream, the app's log as production sets it up (applog: aiohttp's
parser refusals as one line), a watch on that log for tracebacks and errors, and the budget.

Budget: CI runs a fixed number of examples per test (`examples(ci)`). For the long run, set
`TRAYPROXY_FUZZ_SECONDS` (e.g. 600): the time is shared out between the tests (`share`), each
runs hypothesis batches until its share is spent, and every test adds its figures (examples,
routes, findings, seconds) to test-artifacts/fuzz-summary.json.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from trayproxy import applog
from trayproxy.upstream.transport import MockTransport, UpstreamRequest

SECONDS = float(os.environ.get("TRAYPROXY_FUZZ_SECONDS") or 0)
# the long run's time, shared: bodies (per route), headers (all routes), socket messages
WEIGHTS = {"bodies": 0.5, "headers": 0.3, "socket": 0.2}
SUMMARY = Path(__file__).resolve().parents[2] / "test-artifacts" / "fuzz-summary.json"


def examples(ci: int) -> int:
    return ci


def share(kind: str, of: int = 1) -> float:
    """Seconds for one test of `kind` (one of `of` such tests) in the long run; 0 in CI."""
    return SECONDS * WEIGHTS[kind] / of


def run_budget(batch: Callable[[int], None], *, ci_examples: int, seconds: float, per_batch: int = 200) -> float:
    """Run `batch(n)` (a hypothesis test running n examples) for `ci_examples`, or in batches
    until `seconds` are spent. Returns the seconds it took."""
    start = time.monotonic()
    if seconds <= 0:
        batch(ci_examples)
    else:
        while time.monotonic() - start < seconds:
            batch(per_batch)
    return time.monotonic() - start


def record(test: str, figures: dict[str, Any]) -> None:
    """Add this test's figures to the summary file (the long run's report)."""
    SUMMARY.parent.mkdir(exist_ok=True)
    try:
        data = json.loads(SUMMARY.read_text())
    except (OSError, ValueError):
        data = {}
    data[test] = {**figures, "seconds_budget": SECONDS}
    SUMMARY.write_text(json.dumps(data, indent=1, sort_keys=True))


# -- a healthy upstream ---------------------------------------------------------------------------

SSE = b"".join(
    b"data: " + json.dumps({"response": e}).encode() + b"\r\n\r\n"
    for e in (
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "Hel"}]}}]},
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "lo"}]}, "finishReason": "STOP"}],
         "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 2, "totalTokenCount": 7}},
    )
)


IMAGE_SSE = b"data: " + json.dumps({"response": {"candidates": [{"content": {"role": "model", "parts": [
    {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}]}, "finishReason": "STOP"}]}}).encode() + b"\r\n\r\n"


async def _upstream(req: UpstreamRequest) -> tuple[int, dict[str, str], bytes]:
    if "token" in req.url.rsplit("/", 1)[-1]:
        return 200, {}, b'{"access_token": "at-fuzz", "expires_in": 3600}'
    if req.url.endswith(":countTokens"):
        return 200, {}, b'{"totalTokens": 7}'
    image = b'"requestType":"image_gen"' in (req.body_bytes() or b"")
    return 200, {"content-type": "text/event-stream"}, IMAGE_SSE if image else SSE


def healthy_upstream() -> MockTransport:
    return MockTransport(_upstream)


# -- the log, watched --------------------------------------------------------------------------


class LogWatch:
    """The app's log as production writes it (applog.setup on a buffer), and every record at
    ERROR or with a traceback, from any logger."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self.bad: list[str] = []

    def take(self) -> tuple[list[str], str]:
        bad, self.bad = self.bad, []
        text = self.buffer.getvalue()
        self.buffer.seek(0)
        self.buffer.truncate()
        return bad, text


class _Catch(logging.Handler):
    def __init__(self, watch: LogWatch) -> None:
        super().__init__(logging.DEBUG)
        self.watch = watch

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR or record.exc_info:
            self.watch.bad.append(f"{record.name}: {record.getMessage()[:300]}")


@contextmanager
def watched_log() -> Iterator[LogWatch]:
    watch = LogWatch()
    applog.setup(console=watch.buffer, console_level=logging.INFO)
    catch = _Catch(watch)
    root = logging.getLogger()
    root.addHandler(catch)
    try:
        yield watch
    finally:
        root.removeHandler(catch)
        applog.teardown()


def assert_clean_log(watch: LogWatch, what: str) -> None:
    bad, text = watch.take()
    assert not bad, f"{what}: logged {bad}"
    assert "Traceback" not in text, f"{what}: a traceback in the log:\n{text[:2000]}"


@contextmanager
def served_app(tmp: Path, **settings: Any) -> Iterator[tuple[asyncio.AbstractEventLoop, Any, LogWatch]]:
    """The proxy's app (no Controller, no monitor) over the healthy upstream with one account,
    on a loop of its own (hypothesis drives it example by example with run_until_complete), and
    the watched log."""
    from tests.proxy.app_stack import app_stack

    loop = asyncio.new_event_loop()
    with watched_log() as watch:
        cm = app_stack(tmp, transport=healthy_upstream(), **settings)
        stack = loop.run_until_complete(cm.__aenter__())
        stack.add_account("a@example.com")
        try:
            yield loop, stack, watch
        finally:
            loop.run_until_complete(cm.__aexit__(None, None, None))
            loop.close()
