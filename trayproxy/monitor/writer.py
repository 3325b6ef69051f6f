"""The monitor's one writer thread: it sleeps on a queue, then writes what is queued in batches.

No timers and no polling: an idle app never wakes this thread. Under traffic it lingers up to
`linger` seconds after the first queued item so one transaction carries many requests (at one
connection, a commit per request was a fifth of the proxy's CPU); `flush()` cuts that short. `put()` never blocks and never
raises. A batch that fails as a whole is retried row by row, so one bad row never costs the
others; rows that cannot be written at all (locked or full disk) are counted in `dropped` and
logged once per failure streak, and the thread keeps going.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

__all__ = ["BatchWriter"]

log = logging.getLogger("trayproxy.monitor")
T = TypeVar("T")
_STOP = object()
_WAKE = object()  # flush(): write what is queued now, without lingering


class BatchWriter(Generic[T]):
    """`write(batch)` runs on the writer thread and returns how many items it could not write
    (it may raise: then the batch is retried item by item). `on_start` / `on_stop` bracket the
    thread's life so it can own a connection; `on_done(batch)` runs once per batch, written or not."""

    def __init__(
        self,
        write: Callable[[list[T]], int],
        *,
        batch: int = 500,
        max_pending: int = 50_000,
        name: str = "trayproxy-monitor",
        on_start: Callable[[], None] | None = None,
        on_stop: Callable[[], None] | None = None,
        on_done: Callable[[list[T]], None] | None = None,
        linger: float = 0.0,
    ) -> None:
        self._write = write
        self._batch = batch
        self._max_pending = max_pending
        self._name = name
        self._on_start = on_start
        self._on_stop = on_stop
        self._on_done = on_done
        self._linger = linger
        self._q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._cond = threading.Condition()
        self._cut = threading.Event()  # ends a linger early (flush, stop)
        self._pending = 0
        self._thread: threading.Thread | None = None
        self._failing = False
        self._dead = False
        self.dropped = 0
        self.written = 0

    @property
    def pending(self) -> int:
        return self._pending

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.alive:
            return
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def put(self, item: T) -> bool:
        """Queue one item; False (and counted as dropped) when the backlog is full."""
        with self._cond:
            if self._dead or self._pending >= self._max_pending:
                self.dropped += 1
                return False
            self._pending += 1
        self._q.put(item)
        return True

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything put so far is written (or given up on). True when drained."""
        deadline = time.monotonic() + timeout
        if self._linger and self._pending:
            self._q.put(_WAKE)
            self._cut.set()
        with self._cond:
            while self._pending and self.alive:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return self._pending == 0

    def stop(self, timeout: float = 5.0) -> None:
        """Write what is queued, then end the thread."""
        t = self._thread
        if t is None:
            return
        self._q.put(_STOP)
        self._cut.set()
        t.join(timeout)
        self._thread = None

    # -- thread ------------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            if self._on_start is not None:
                self._on_start()
        except Exception:
            log.exception("the request log could not be opened; requests will not be recorded")
            self._abandon()
            return
        try:
            stop = False
            while not stop:
                item = self._q.get()  # sleeps until there is work
                batch: list[T] = []
                if item is _STOP:
                    stop = True
                elif item is not _WAKE:
                    batch.append(item)
                    if self._linger:
                        # Linger without being woken by every put (a wake-up per request costs
                        # the loop the GIL); flush() and stop() set the event to cut it short.
                        self._cut.wait(self._linger)
                self._cut.clear()
                # After a stop request, still write whatever raced in before it.
                while True:
                    try:
                        nxt = self._q.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is _STOP:
                        stop = True
                        continue
                    if nxt is _WAKE:
                        continue
                    batch.append(nxt)
                    if len(batch) >= self._batch:
                        self._commit(batch)
                        batch = []
                if batch:
                    self._commit(batch)
        finally:
            try:
                if self._on_stop is not None:
                    self._on_stop()
            except Exception:
                log.debug("closing the request log failed", exc_info=True)

    def _commit(self, batch: list[T]) -> None:
        failed = 0
        try:
            failed = self._write(batch)
        except Exception as e:
            failed = 0
            for one in batch:  # one bad row must not cost the other 499
                try:
                    failed += self._write([one])
                except Exception:
                    failed += 1
            if failed:
                self._note_failure(e, failed)
        else:
            if failed:
                self._note_failure(None, failed)
            elif self._failing:
                self._failing = False
                log.info("the request log is being written again")
        if self._on_done is not None:
            try:
                self._on_done(batch)
            except Exception:
                log.debug("monitor batch callback failed", exc_info=True)
        with self._cond:
            self.dropped += failed
            self.written += len(batch) - failed
            self._pending -= len(batch)
            self._cond.notify_all()

    def _note_failure(self, e: BaseException | None, n: int) -> None:
        if not self._failing:
            self._failing = True
            log.error("the request log could not be written (%s); %d rows dropped", e or "write failed", n)

    def _abandon(self) -> None:
        """The thread cannot run: count everything queued as dropped so flush() returns."""
        with self._cond:
            self._dead = True
            n = 0
            while True:
                try:
                    if self._q.get_nowait() is not _STOP:
                        n += 1
                except queue.Empty:
                    break
            self.dropped += n
            self._pending = 0
            self._cond.notify_all()
