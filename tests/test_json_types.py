"""json_types.deeper_than: orjson's refusal inside `levels - MAX_DEPTH` lists answers exactly
as the Python walk does, at the limit and around it, for objects, arrays and both."""

from __future__ import annotations

import threading
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from trayproxy import json_types
from trayproxy.json_types import MAX_DEPTH, deeper_than


def _nest(n: int, kinds: str) -> Any:
    v: Any = "leaf"
    for i in range(n):
        v = [v] if kinds[i % len(kinds)] == "l" else {"k": v, "n": 1}
    return v


def test_orjson_limit_is_learned_whatever_the_release() -> None:
    """orjson 3.8 writes 255 levels, 3.13 writes 254: the check is built on the one installed."""
    levels = json_types._orjson_levels()
    assert levels is not None and levels > MAX_DEPTH
    assert json_types._writes(levels) and not json_types._writes(levels + 1)


def test_the_limit_exactly() -> None:
    for kinds in ("l", "d", "ld", "dll"):
        for n in range(MAX_DEPTH - 3, MAX_DEPTH + 4):
            body = {"messages": [_nest(n - 2, kinds)]}  # the body and its array are two levels
            assert deeper_than(body) is (n > MAX_DEPTH), (kinds, n)
            assert deeper_than(body) is json_types._deeper(body, MAX_DEPTH)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(inner=json_values, depth=st.integers(MAX_DEPTH - 8, MAX_DEPTH + 2), kinds=st.sampled_from(["l", "d", "ld"]))
def test_the_same_answer_as_the_walk(inner: Any, depth: int, kinds: str) -> None:
    value = _nest(depth, kinds)
    value = [value, inner] if kinds == "l" else {"a": value, "b": inner}
    assert deeper_than(value) is json_types._deeper(value, MAX_DEPTH)
    assert deeper_than(inner) is json_types._deeper(inner, MAX_DEPTH) if isinstance(inner, (dict, list)) else True


def test_other_limits_and_scalars() -> None:
    assert deeper_than({"a": {"b": {}}}, 2) and not deeper_than({"a": {"b": {}}}, 3)
    assert not deeper_than("x") and not deeper_than(5)


def test_threads_never_share_a_chain() -> None:
    deep, shallow = _nest(MAX_DEPTH + 1, "l"), _nest(MAX_DEPTH, "l")
    wrong: list[bool] = []

    def run() -> None:
        for i in range(300):
            v, want = (deep, True) if i % 2 else (shallow, False)
            if deeper_than(v) is not want:
                wrong.append(True)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not wrong
    assert all(inner[0] is None for inner, _ in json_types._CHAINS)  # no body kept alive
