"""Big request bodies are parsed and converted off the event loop.

Below `BIG_BODY` bytes the work runs inline (a thread hop costs more than parsing an agent
turn); above it, `asyncio.to_thread`, so one 30 MB request does not freeze every other client.
A thread alone does not do it for one C call that holds the GIL throughout (orjson), so big
bodies are parsed in slices (`loads_sliced`).
The converters are pure, so they run unchanged in the worker thread; the one piece of shared
state they read, the signature store, is handed over as a snapshot taken on the loop.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from aiohttp import web

__all__ = ["BIG_BODY", "BODY_SIZE", "is_big", "off_loop", "loads_sliced"]

T = TypeVar("T")
BIG_BODY = 1 << 20
# the size of the request body read_json parsed, for the handlers' conversion step
BODY_SIZE = web.RequestKey("trayproxy_body_size", int)


def is_big(request: web.Request) -> bool:
    return request.get(BODY_SIZE, 0) >= BIG_BODY


async def off_loop(big: bool, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """fn(*args, **kwargs): in a worker thread when `big`, inline otherwise."""
    if not big:
        return fn(*args, **kwargs)
    return await asyncio.to_thread(fn, *args, **kwargs)


SLICE_DEPTH = 2  # levels walked in Python: the body object and its arrays (messages, contents, ...)
_WS = re.compile(r"[ \t\n\r]*")


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _int(text: str) -> int | float:
    v = int(text)
    return v if -(1 << 63) <= v < (1 << 64) else float(text)  # as orjson: a float beyond 64 bits


def _float(text: str) -> float:
    v = float(text)
    if v in (float("inf"), float("-inf")):
        raise ValueError(f"the number {text[:30]} is infinite as a double")
    return v


_DECODER = json.JSONDecoder(parse_constant=_no_constants, parse_int=_int, parse_float=_float)
_scan: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]


def loads_sliced(raw: bytes) -> Any:
    """orjson.loads(raw) for a big body (ValueError on bad input), parsed one element at a time
    below the top `SLICE_DEPTH` levels, so a worker thread running it gives the GIL back between
    elements: a 30 MB body held the loop for 50-100 ms in one orjson call, 6-30 ms at a time
    this way. Bodies with surrogate escapes go to orjson whole, for its exact rules on them."""
    if b"\\ud" in raw or b"\\uD" in raw:
        return orjson.loads(raw)
    text = raw.decode("utf-8")  # UnicodeDecodeError is a ValueError
    end = _WS.match(text, 0).end()  # type: ignore[union-attr]
    value, end = _value(text, end, 0)
    end = _WS.match(text, end).end()  # type: ignore[union-attr]
    if end != len(text):
        raise ValueError(f"unexpected content after the JSON value at character {end}")
    return value


def _value(s: str, i: int, depth: int) -> tuple[Any, int]:
    if depth >= SLICE_DEPTH or i >= len(s) or s[i] not in "{[":
        try:
            return _scan(s, i)
        except StopIteration as e:
            raise ValueError(f"expected a JSON value at character {e.value}") from None
    ws = _WS.match
    if s[i] == "[":
        out: list[Any] = []
        i = ws(s, i + 1).end()  # type: ignore[union-attr]
        if s[i : i + 1] == "]":
            return out, i + 1
        while True:
            v, i = _value(s, i, depth + 1)
            out.append(v)
            i = ws(s, i).end()  # type: ignore[union-attr]
            c = s[i : i + 1]
            if c == "]":
                return out, i + 1
            if c != ",":
                raise ValueError(f"expected ',' or ']' at character {i}")
            i = ws(s, i + 1).end()  # type: ignore[union-attr]
    obj: dict[str, Any] = {}
    i = ws(s, i + 1).end()  # type: ignore[union-attr]
    if s[i : i + 1] == "}":
        return obj, i + 1
    while True:
        if s[i : i + 1] != '"':
            raise ValueError(f"expected a property name at character {i}")
        key, i = _scan(s, i)
        i = ws(s, i).end()  # type: ignore[union-attr]
        if s[i : i + 1] != ":":
            raise ValueError(f"expected ':' at character {i}")
        i = ws(s, i + 1).end()  # type: ignore[union-attr]
        obj[key], i = _value(s, i, depth + 1)
        i = ws(s, i).end()  # type: ignore[union-attr]
        c = s[i : i + 1]
        if c == "}":
            return obj, i + 1
        if c != ",":
            raise ValueError(f"expected ',' or '}}' at character {i}")
        i = ws(s, i + 1).end()  # type: ignore[union-attr]
