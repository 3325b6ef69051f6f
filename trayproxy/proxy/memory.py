"""Bounded, expiring in-memory stores the proxy keeps between requests.

- SignatureStore: thought signatures by tool-call id. OpenAI clients drop unknown fields, so
  the signature the upstream put on a function call would be lost; the next turn needs it back.
- ResponseStore: `/v1/responses` objects for `previous_response_id`.

Both are LRU-bounded and expire entries, so memory cannot grow without limit.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar

__all__ = ["ExpiringLRU", "SignatureStore", "ResponseStore"]

V = TypeVar("V")


class ExpiringLRU(Generic[V]):
    def __init__(self, *, max_items: int, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_items = max_items
        self.ttl = ttl
        self.clock = clock
        self._d: OrderedDict[str, tuple[float, V]] = OrderedDict()

    def put(self, key: str, value: V) -> None:
        self._d[key] = (self.clock() + self.ttl, value)
        self._d.move_to_end(key)
        while len(self._d) > self.max_items:
            self._d.popitem(last=False)

    def get(self, key: str) -> V | None:
        item = self._d.get(key)
        if item is None:
            return None
        if item[0] < self.clock():
            del self._d[key]
            return None
        self._d.move_to_end(key)
        return item[1]

    def __len__(self) -> int:
        return len(self._d)


class SignatureStore(Mapping[str, str]):
    """tool-call id -> thought signature. Read as a Mapping by the request converters."""

    def __init__(self, *, max_items: int = 20_000, ttl: float = 6 * 3600.0) -> None:
        self._lru: ExpiringLRU[str] = ExpiringLRU(max_items=max_items, ttl=ttl)

    def remember(self, items: Iterable[tuple[str, str]]) -> None:
        for k, v in items:
            if k and v:
                self._lru.put(k, v)

    def snapshot(self) -> dict[str, str]:
        """The live entries as a plain dict, for a converter running in a worker thread (the
        store itself is only touched on the event loop)."""
        now = self._lru.clock()
        return {k: v for k, (exp, v) in list(self._lru._d.items()) if exp >= now}

    def __getitem__(self, key: str) -> str:
        v = self._lru.get(key)
        if v is None:
            raise KeyError(key)
        return v

    def get(self, key: str, default: Any = None) -> Any:
        v = self._lru.get(key)
        return default if v is None else v

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._lru.get(key) is not None

    def __iter__(self) -> Any:
        return iter(list(self._lru._d))

    def __len__(self) -> int:
        return len(self._lru)


class ResponseStore:
    def __init__(self, *, max_items: int = 2_000, ttl: float = 3600.0) -> None:
        self._lru: ExpiringLRU[dict[str, Any]] = ExpiringLRU(max_items=max_items, ttl=ttl)

    def put(self, response_id: str, record: dict[str, Any]) -> None:
        self._lru.put(response_id, record)

    def get(self, response_id: str) -> dict[str, Any] | None:
        return self._lru.get(response_id)
