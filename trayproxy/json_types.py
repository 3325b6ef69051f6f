"""The one name for a parsed JSON object, used by every module that builds or reads one, and the
one limit on how deep one may nest.

A client's JSON is carried a few levels deeper than it arrived (the Cloud Code envelope wraps a
tool call's arguments in `request.contents[].parts[].functionCall.args`), and orjson serialises
at most 255 levels: a body nested 300 levels deep passed the door and failed on the way up, a
500 with a traceback. `MAX_DEPTH` is checked where client JSON is parsed (the request body, tool
arguments sent as a JSON string), so what passes is always carried; no client sends more than a
few dozen levels (JSON schemas in tool definitions are the deepest).

The check runs for every request body, so orjson does the walking: the value is serialised inside
`ORJSON_LEVELS - MAX_DEPTH` lists, which orjson refuses exactly when the value nests more than
`MAX_DEPTH` levels (a Python walk of an agent turn cost twice the instructions). orjson's own
limit is confirmed once; should it ever differ, and for other limits, the Python walk answers.
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
    if limit == MAX_DEPTH and _orjson_levels() == ORJSON_LEVELS:
        chain = _CHAINS.pop() if _CHAINS else _chain()
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


ORJSON_LEVELS = 255  # the deepest nesting orjson.dumps writes (orjson 3.x)
_levels: list[int | None] = []  # orjson's, once confirmed: ORJSON_LEVELS, or None when it differs
# Chains of ORJSON_LEVELS - MAX_DEPTH lists, the innermost holding one slot: taken and put back
# whole (a list's pop and append are atomic), so a worker thread's check never shares one.
_CHAINS: list[tuple[list[Any], list[Any]]] = []


def _nested(n: int) -> list[Any]:
    v: list[Any] = []
    for _ in range(n - 1):
        v = [v]
    return v


def _orjson_levels() -> int | None:
    if not _levels:
        def writes(n: int) -> bool:
            try:
                orjson.dumps(_nested(n))
            except orjson.JSONEncodeError:
                return False
            return True

        _levels.append(ORJSON_LEVELS if writes(ORJSON_LEVELS) and not writes(ORJSON_LEVELS + 1) else None)
    return _levels[0]


def _chain() -> tuple[list[Any], list[Any]]:
    inner: list[Any] = [None]
    outer = inner
    for _ in range(ORJSON_LEVELS - MAX_DEPTH - 1):
        outer = [outer]
    return inner, outer
