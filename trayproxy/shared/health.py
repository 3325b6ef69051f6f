"""Whether the shared engines answer, and since when they do not.

Each engine (Redis, PostgreSQL) has one `EngineHealth`, changed only on the engine loop by the
code that talks to it: `ok()` after a successful call, `failed(error)` after a failed one.
`SharedHealth.problem()` is the sentence `doctor`, `/readyz` and the log say (English, as the CLI
speaks): "shared state unreachable since 14:02:11 (PostgreSQL: connection refused)"; `down()` is
the same as data, which the tray and the page say in their own language. Listeners hear of each change of state (not of
each call), so the page and the tray are told once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

__all__ = ["EngineHealth", "SharedHealth", "clock_time"]


def clock_time(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


class EngineHealth:
    def __init__(self, name: str, on_change: Callable[[], None] | None = None) -> None:
        self.name = name
        self.up = False
        self.down_since: float | None = time.time()  # not reached yet
        self.error: str | None = "not connected yet"
        self.ever_up = False
        self._on_change = on_change

    def ok(self) -> None:
        if not self.up:
            self.up, self.down_since, self.error, self.ever_up = True, None, None, True
            self._changed()

    def failed(self, error: BaseException | str) -> None:
        text = error if isinstance(error, str) else (f"{type(error).__name__}: {error}".rstrip(": ") or "error")
        if self.up or self.down_since is None:
            self.up, self.down_since = False, time.time()
            self.error = text[:300]
            self._changed()
        else:
            self.error = text[:300]

    def _changed(self) -> None:
        if self._on_change is not None:
            try:
                self._on_change()
            except Exception:
                pass

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "up": self.up, "down_since": self.down_since, "error": self.error}


class SharedHealth:
    def __init__(self) -> None:
        self.engines: list[EngineHealth] = []
        self.listeners: list[Callable[[], None]] = []

    def engine(self, name: str) -> EngineHealth:
        e = EngineHealth(name, self._changed)
        self.engines.append(e)
        return e

    def _changed(self) -> None:
        for fn in list(self.listeners):
            try:
                fn()
            except Exception:
                pass

    @property
    def up(self) -> bool:
        return all(e.up for e in self.engines)

    def down_since(self) -> float | None:
        times = [e.down_since for e in self.engines if not e.up and e.down_since is not None]
        return min(times) if times else None

    def problem(self) -> str | None:
        """"shared state unreachable since …" with which engine and why, or None."""
        down = [e for e in self.engines if not e.up]
        since = self.down_since()
        if not down or since is None:
            return None
        why = "; ".join(f"{e.name}: {e.error}" for e in down)
        return (f"shared state unreachable since {clock_time(since)} ({why}); requests are answered from this "
                "instance's own state and its log rows wait on disk until it is back")

    def down(self) -> dict[str, Any] | None:
        """The same as data the tray and the page say in their language (ui/glance.py
        `shared_line`, app.js): {"kind": "unreachable", "since", "detail"}; the detail (which
        engine, the driver's error) stays English, quoted as such."""
        down = [e for e in self.engines if not e.up]
        since = self.down_since()
        if not down or since is None:
            return None
        return {"kind": "unreachable", "since": since, "detail": "; ".join(f"{e.name}: {e.error}" for e in down)}

    def to_dict(self) -> dict[str, Any]:
        return {"up": self.up, "problem": self.problem(), "down_since": self.down_since(),
                "engines": [e.to_dict() for e in self.engines]}
