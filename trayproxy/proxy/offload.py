"""Big request bodies are parsed and converted off the event loop.

Below `BIG_BODY` bytes the work runs inline (a thread hop costs more than parsing an agent
turn); above it, `asyncio.to_thread`, so one 30 MB request does not freeze every other client.
A thread alone does not do it for one C call that holds the GIL throughout (orjson), so big
bodies are parsed in slices (`loads_sliced`). Slicing pays a few microseconds of Python per
element, worth it for the few big elements of a real body; a body of tiny values (1 MiB of
small integers: 500,000 elements, 2.2 s of CPU against orjson's 27 ms) would make it a CPU
sink. So the Python-level steps are bounded by the body's size (`MIN_STEPS` plus one per
`SLICE_BYTES`); a body that needs more is parsed by orjson whole.
The converters are pure, so they run unchanged in the worker thread; the one piece of shared
state they read, the signature store, is handed over as a snapshot taken on the loop.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from aiohttp import web

from trayproxy.upstream.bigbody import in_worker

__all__ = ["BIG_BODY", "BODY_SIZE", "is_big", "off_loop", "loads_sliced", "EmptyBody"]

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
    return await in_worker(fn, *args, **kwargs)


SLICE_DEPTH = 2  # levels walked in Python: the body object and its arrays (messages, contents, ...)
MIN_STEPS = 1000  # Python-level steps (elements, keys) any body may take
SLICE_BYTES = 4096  # one more step per this many bytes of body
WINDOW = 1 << 20  # bytes decoded at a time
SLACK = WINDOW // 4
_WS = re.compile(r"[ \t\n\r]*")
_SURROGATE = re.compile(r"\\u[dD]")


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


class EmptyBody(ValueError):
    """Nothing but whitespace."""


class _Surrogates(Exception):
    pass


class _TooGranular(Exception):
    """More elements than the body's size pays Python-level steps for."""


_whole = orjson.loads  # a body slicing does not suit


class _Text:
    """The body decoded a window at a time: `s` holds the text from the position the parser
    still needs, never the whole 30 MB str (one allocation and copy of it holds the GIL too)."""

    def __init__(self, raw: bytes) -> None:
        self.raw = memoryview(raw)
        self.done = 0  # bytes decoded so far
        self.eof = False
        self.s = ""
        self.steps = MIN_STEPS + len(raw) // SLICE_BYTES
        self.more(0)

    def step(self) -> None:
        self.steps -= 1
        if self.steps < 0:
            raise _TooGranular()

    def more(self, keep: int, at_least: int = 0) -> int:
        """Drop s[:keep], decode at least max(WINDOW, at_least) more bytes onto it; the new
        index of `keep` (0). Raises _Surrogates at a surrogate escape (backslash-u-d)."""
        n = max(WINDOW, at_least, 4)  # 4: a whole UTF-8 character at least, so it always moves on
        final = self.done + n >= len(self.raw)
        text, used = codecs.utf_8_decode(self.raw[self.done : self.done + n], "strict", final)
        self.done += used
        self.eof = final
        if _SURROGATE.search(self.s[-2:] + text[:2]) or _SURROGATE.search(text):
            raise _Surrogates()
        self.s = self.s[keep:] + text
        return 0


def loads_sliced(raw: bytes) -> Any:
    """orjson.loads(raw) for a big body (ValueError on bad input, EmptyBody on whitespace),
    parsed one element at a time below the top `SLICE_DEPTH` levels, so a worker thread
    running it gives the GIL back between elements: a 30 MB body held the loop for 50-100 ms in
    one orjson call. Bodies with surrogate escapes go to orjson whole, for its exact rules on
    them, and so do bodies of more tiny elements than their size pays for (module comment)."""
    try:
        t = _Text(raw)  # UnicodeDecodeError is a ValueError
        i = _skip(t, 0)
        if i >= len(t.s):
            raise EmptyBody("the body is empty")
        value, i = _value(t, i, 0)
        i = _skip(t, i)
    except (_Surrogates, _TooGranular):
        return _whole(raw)
    if i != len(t.s):
        raise ValueError("unexpected content after the JSON value")
    return value


def _skip(t: _Text, i: int) -> int:
    """Past the whitespace at i: an index below len(t.s), or len(t.s) at the end of the body."""
    while True:
        i = _WS.match(t.s, i).end()  # type: ignore[union-attr]
        if i < len(t.s) or t.eof:
            return i
        i = t.more(i)


def _scan_at(t: _Text, i: int) -> tuple[Any, int]:
    """One C scan of the value at i, with the window grown until the value lies inside it. The
    window is topped up before it runs low, so only values longer than SLACK are ever scanned
    twice (a failed scan costs its length, and the error's line count the window's)."""
    t.step()
    if len(t.s) - i < SLACK and not t.eof:
        i = t.more(i)
    while True:
        try:
            value, end = _scan(t.s, i)
        except (StopIteration, ValueError) as e:
            if t.eof:
                at = e.value if isinstance(e, StopIteration) else i
                raise ValueError(f"expected a JSON value at character {at}") from None
        else:
            # a number may go on past the window ("10" of "10.5", "1.0" of "1.0e+5"): it is
            # whole when two more characters follow it; anything else ends in a closing char
            if t.eof or end + (2 if type(value) in (int, float) else 0) < len(t.s):
                return value, end
        i = t.more(i, at_least=2 * (len(t.s) - i))  # doubling: a big value costs O(its size)


def _value(t: _Text, i: int, depth: int) -> tuple[Any, int]:
    s = t.s
    if i >= len(s):
        raise ValueError("the body ends where a JSON value should be")
    if depth >= SLICE_DEPTH or s[i] not in "{[":
        return _scan_at(t, i)
    t.step()
    if s[i] == "[":
        out: list[Any] = []
        i = _skip(t, i + 1)
        if t.s[i : i + 1] == "]":
            return out, i + 1
        while True:
            v, i = _value(t, i, depth + 1)
            out.append(v)
            i = _skip(t, i)
            c = t.s[i : i + 1]
            if c == "]":
                return out, i + 1
            if c != ",":
                raise ValueError("expected ',' or ']' in an array")
            i = _skip(t, i + 1)
    obj: dict[str, Any] = {}
    i = _skip(t, i + 1)
    if t.s[i : i + 1] == "}":
        return obj, i + 1
    while True:
        if t.s[i : i + 1] != '"':
            raise ValueError("expected a property name in an object")
        key, i = _scan_at(t, i)
        i = _skip(t, i)
        if t.s[i : i + 1] != ":":
            raise ValueError("expected ':' after a property name")
        obj[key], i = _value(t, _skip(t, i + 1), depth + 1)
        i = _skip(t, i)
        c = t.s[i : i + 1]
        if c == "}":
            return obj, i + 1
        if c != ",":
            raise ValueError("expected ',' or '}' in an object")
        i = _skip(t, i + 1)
