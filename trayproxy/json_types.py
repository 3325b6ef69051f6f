"""The one name for a parsed JSON object, used by every module that builds or reads one, and the
one limit on how deep one may nest.

A client's JSON is carried a few levels deeper than it arrived (the Cloud Code envelope wraps a
tool call's arguments in `request.contents[].parts[].functionCall.args`), and orjson serialises
at most about 255 levels (255 in orjson 3.8, 254 in 3.13): a body nested 300 levels deep passed the door and failed on the way up, a
500 with a traceback. `MAX_DEPTH` is checked where client JSON is parsed (the request body, tool
arguments sent as a JSON string), so what passes is always carried; no client sends more than a
few dozen levels (JSON schemas in tool definitions are the deepest).

The check runs for every request body, so orjson does the walking: the value is serialised inside
`levels - MAX_DEPTH` lists, which orjson refuses exactly when the value nests more than
`MAX_DEPTH` levels (a Python walk of an agent turn cost twice the instructions). orjson's own
limit (`levels`) is learned once, since it moves between releases; should orjson have none below
4,096 levels, and for other limits, the Python walk answers.
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["JSON", "MAX_DEPTH", "deeper_than"]

JSON = dict[str, Any]
"""A JSON object as orjson / json parse it (values not narrowed further)."""

MAX_DEPTH = 128


def deeper_than(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether `value` nests objects and arrays more than `limit` levels (`{}` is one level).
    Stops at the first path that does."""
    t = type(value)
    if not (t is dict or t is list):
        return False
    levels = _orjson_levels()
    if limit == MAX_DEPTH and levels is not None:
        chain = _CHAINS.pop() if _CHAINS else _chain(levels)
        inner, outer = chain
        inner[0] = value
        try:
            orjson.dumps(outer)
        except orjson.JSONEncodeError as e:
            if "Recursion limit" in str(e):
                return True
            # anything else orjson will not write (not from its own parser): the walk decides
        else:
            return False
        finally:
            inner[0] = None  # the chain must not keep the body alive
            _CHAINS.append(chain)
    return _deeper(value, limit)


def _deeper(v: Any, left: int) -> bool:
    if left <= 0:
        return True
    for x in (v.values() if type(v) is dict else v):
        t = type(x)
        if (t is dict or t is list) and _deeper(x, left - 1):
            return True
    return False


_SEARCH_TOP = 4096  # orjson writing this deep has no limit worth building on
_levels: list[int | None] = []  # orjson's limit, once learned (None: none found, the walk answers)
# Chains of `levels - MAX_DEPTH` lists, the innermost holding one slot: taken and put back whole
# (a list's pop and append are atomic), so a worker thread's check never shares one.
_CHAINS: list[tuple[list[Any], list[Any]]] = []


def _nested(n: int) -> list[Any]:
    v: list[Any] = []
    for _ in range(n - 1):
        v = [v]
    return v


def _writes(n: int) -> bool:
    try:
        orjson.dumps(_nested(n))
    except orjson.JSONEncodeError:
        return False
    return True


def _orjson_levels() -> int | None:
    """The deepest nesting orjson.dumps writes, learned once (a dozen dumps of a few hundred levels)."""
    if not _levels:
        found: int | None = None
        if _writes(MAX_DEPTH + 1) and not _writes(_SEARCH_TOP):
            lo, hi = MAX_DEPTH + 1, _SEARCH_TOP - 1
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if _writes(mid):
                    lo = mid
                else:
                    hi = mid - 1
            found = lo
        _levels.append(found)
    return _levels[0]


def _chain(levels: int) -> tuple[list[Any], list[Any]]:
    inner: list[Any] = [None]
    outer = inner
    for _ in range(levels - MAX_DEPTH - 1):
        outer = [outer]
    return inner, outer
