from __future__ import annotations

import logging
import threading

import pytest

from trayproxy.monitor.writer import BatchWriter


def test_batches_are_written_in_order_and_capped() -> None:
    batches: list[list[int]] = []
    gate = threading.Event()

    def write(b: list[int]) -> int:
        gate.wait(5)
        batches.append(list(b))
        return 0

    w: BatchWriter[int] = BatchWriter(write, batch=100)
    w.start()
    for i in range(1050):
        w.put(i)
    gate.set()
    assert w.flush()
    assert [x for b in batches for x in b] == list(range(1050))
    assert max(len(b) for b in batches) <= 100 and len(batches) >= 11
    assert w.written == 1050 and w.dropped == 0 and w.pending == 0
    w.stop()
    assert not w.alive


def test_a_failing_batch_is_retried_row_by_row(caplog: pytest.LogCaptureFixture) -> None:
    written: list[int] = []

    def write(b: list[int]) -> int:
        if any(x % 10 == 3 for x in b):
            raise ValueError("bad row")
        written.extend(b)
        return 0

    caplog.set_level(logging.ERROR, logger="trayproxy.monitor")
    w: BatchWriter[int] = BatchWriter(write)
    for i in range(100):
        w.put(i)
    w.start()
    assert w.flush()
    assert sorted(written) == [i for i in range(100) if i % 10 != 3]
    assert w.dropped == 10
    w.stop()


def test_failure_is_logged_once_per_streak(caplog: pytest.LogCaptureFixture) -> None:
    fail = True

    def write(b: list[int]) -> int:
        if fail:
            raise OSError("disk full")
        return 0

    caplog.set_level(logging.INFO, logger="trayproxy.monitor")
    w: BatchWriter[int] = BatchWriter(write)
    w.start()
    for i in range(5):
        w.put(i)
        w.flush()
    assert w.dropped == 5 and w.alive
    assert sum(r.levelno == logging.ERROR for r in caplog.records) == 1
    fail = False
    w.put(9)
    w.flush()
    assert w.written == 1 and any("again" in r.getMessage() for r in caplog.records)
    w.stop()


def test_stop_writes_everything_queued_first() -> None:
    written: list[int] = []
    w: BatchWriter[int] = BatchWriter(lambda b: written.extend(b) or 0, batch=7)
    w.start()
    for i in range(500):
        w.put(i)
    w.stop()
    assert written == list(range(500))


def test_backlog_is_bounded() -> None:
    w: BatchWriter[int] = BatchWriter(lambda b: 0, max_pending=10)
    results = [w.put(i) for i in range(15)]  # not started: nothing drains
    assert results.count(True) == 10 and w.dropped == 5
    w.start()
    assert w.flush() and w.written == 10
    w.stop()


def test_a_writer_that_cannot_open_gives_up_cleanly() -> None:
    def boom() -> None:
        raise OSError("read-only file system")

    w: BatchWriter[int] = BatchWriter(lambda b: 0, on_start=boom)
    w.put(1)
    w.start()
    w.flush(timeout=2)
    w.stop()
    assert w.put(2) is False and w.dropped == 2 and w.pending == 0


def test_on_done_runs_once_per_batch_even_when_retried() -> None:
    done: list[int] = []

    def write(b: list[int]) -> int:
        if len(b) > 1:
            raise ValueError
        return 0

    w: BatchWriter[int] = BatchWriter(write, on_done=lambda b: done.extend(b))
    for i in range(20):
        w.put(i)
    w.start()
    w.flush()
    w.stop()
    assert sorted(done) == list(range(20))


def test_linger_gathers_a_burst_into_one_batch_and_flush_cuts_it_short() -> None:
    batches: list[list[int]] = []
    w: BatchWriter[int] = BatchWriter(lambda b: batches.append(list(b)) or 0, batch=100, linger=120.0)
    w.start()
    for i in range(5):  # requests arriving one after another, each a separate put
        w.put(i)
    assert w.flush(timeout=30)  # without the wake-up this would sit out the 120 s linger
    assert batches == [[0, 1, 2, 3, 4]]
    w.put(5)
    w.stop()  # stop writes what is queued without lingering either
    assert batches == [[0, 1, 2, 3, 4], [5]] and w.written == 6
