"""The engine thread: one loop, `call` from other threads, refused on its own."""

from __future__ import annotations

import threading

import pytest

from trayproxy.engine import Engine


def test_call_runs_on_the_loop_and_brings_back_result_or_error() -> None:
    engine = Engine()
    try:
        async def where() -> str:
            return threading.current_thread().name

        assert engine.call(where()) == "trayproxy-engine"
        assert engine.running and not engine.in_engine_thread

        async def fails() -> None:
            raise KeyError("nobody")

        with pytest.raises(KeyError, match="nobody"):
            engine.call(fails())

        async def nested() -> str:
            inner = where()
            try:
                engine.call(inner)
            except RuntimeError as e:
                return str(e)
            return "waited on itself"

        assert "a_* method" in engine.call(nested())
    finally:
        engine.stop()
    assert not engine.running
