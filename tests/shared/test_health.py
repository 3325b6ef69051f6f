"""shared/health.py: the sentence `doctor` and /readyz say and the same as data for the tray and
the page, from each engine's health (no engine needed)."""

from __future__ import annotations

import time

from trayproxy.shared.health import SharedHealth


def test_down_is_the_problem_as_data_from_the_first_engine_down() -> None:
    health = SharedHealth()
    pg, redis = health.engine("PostgreSQL"), health.engine("Redis")
    pg.ok()
    redis.ok()
    assert health.down() is None and health.problem() is None
    before = time.time()
    redis.failed(ConnectionRefusedError(111, "refused"))
    down = health.down()
    assert down is not None and down["kind"] == "unreachable" and before <= down["since"] <= time.time()
    assert down["detail"] == "Redis: ConnectionRefusedError: [Errno 111] refused"
    assert (health.problem() or "").startswith("shared state unreachable since ")
    assert down["detail"] in (health.problem() or "")
    redis.ok()
    assert health.down() is None and health.problem() is None
