"""The one name for a parsed JSON object, used by every module that builds or reads one, and the
one limit on how deep one may nest.

A client's JSON is carried a few levels deeper than it arrived (the Cloud Code envelope wraps a
tool call's arguments in `request.contents[].parts[].functionCall.args`), and orjson serialises
at most 255 levels: a body nested 300 levels deep passed the door and failed on the way up, a
500 with a traceback. `MAX_DEPTH` is checked where client JSON is parsed (the request body, tool
arguments sent as a JSON string), so what passes is always carried; no client sends more than a
few dozen levels (JSON schemas in tool definitions are the deepest).
"""

from __future__ import annotations

from typing import Any

__all__ = ["JSON", "MAX_DEPTH", "deeper_than"]

JSON = dict[str, Any]
"""A JSON object as orjson / json parse it (values not narrowed further)."""

MAX_DEPTH = 128


def deeper_than(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether `value` nests objects and arrays more than `limit` levels (`{}` is one level).
    Stops at the first path that does; about 1 µs per KiB of typical JSON."""
    t = type(value)
    return (t is dict or t is list) and _deeper(value, limit)


def _deeper(v: Any, left: int) -> bool:
    if left <= 0:
        return True
    for x in (v.values() if type(v) is dict else v):
        t = type(x)
        if (t is dict or t is list) and _deeper(x, left - 1):
            return True
    return False
