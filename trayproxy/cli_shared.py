"""`trayproxy doctor`'s shared-mode lines: which engines, whether they answer, since when not.

With an instance running, its own view (it talks to the engines all the time: "shared state
unreachable since …" is its word); with none, each engine is tried once from here, briefly.
URLs are shown with their passwords masked.
"""

from __future__ import annotations

import asyncio
from typing import Any

from trayproxy.config import SharedConfig
from trayproxy.paths import AppPaths

__all__ = ["doctor_shared", "probe"]


async def _probe(cfg: SharedConfig) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    if cfg.redis_url:
        try:
            import redis.asyncio as redis

            client = redis.Redis.from_url(cfg.redis_url, socket_timeout=2, socket_connect_timeout=2)
            try:
                await client.ping()
                out["Redis"] = None
            finally:
                await client.aclose()
        except Exception as e:
            out["Redis"] = f"{type(e).__name__}: {e}"
    if cfg.database_url:
        try:
            import asyncpg

            conn = await asyncpg.connect(cfg.database_url, timeout=3)
            try:
                version = await conn.fetchval("SELECT max(version) FROM schema_version")
                out["PostgreSQL"] = None if version is not None else "reachable, but no trayproxy schema yet (an "\
                    "instance creates it when it starts)"
            except Exception:
                out["PostgreSQL"] = "reachable, but no trayproxy schema yet (an instance creates it when it starts)"
            finally:
                await conn.close()
        except Exception as e:
            out["PostgreSQL"] = f"{type(e).__name__}: {e}"
    return out


def probe(cfg: SharedConfig) -> dict[str, str | None]:
    """Each configured engine: None when it answers, else why not."""
    return asyncio.run(_probe(cfg))


def doctor_shared(cfg: SharedConfig, paths: AppPaths, inst: Any) -> tuple[list[str], int]:
    from trayproxy.shared.state import mask_url

    lines = []
    if cfg.redis_url:
        lines.append(f"redis:        {mask_url(cfg.redis_url)}")
    if cfg.database_url:
        lines.append(f"postgresql:   {mask_url(cfg.database_url)}")
    shared: dict[str, Any] | None = None
    if inst is not None:
        from trayproxy.control.local import ControlClient, ControlError

        try:
            shared = ControlClient(inst, timeout=5).call("cli/status").get("shared")
        except ControlError:
            shared = None
    if shared is not None:
        if shared.get("problem"):
            lines.append(f"shared:       PROBLEM: {shared['problem']}")
            return lines, 1
        waiting = shared.get("log_rows_waiting") or 0
        lines.append("shared:       ok (the running instance reaches " + " and ".join(
            e["name"] for e in shared.get("engines", [])) + (f"; {waiting} log rows on their way" if waiting else "")
            + ")")
        return lines, 0
    try:
        found = probe(cfg)
    except ImportError as e:
        lines.append(f"shared:       PROBLEM: the shared-mode drivers are not installed ({e}); "
                     "pip install 'trayproxy[team]'")
        return lines, 1
    bad = {k: v for k, v in found.items() if v}
    if bad:
        lines.append("shared:       PROBLEM: shared state unreachable from here (" +
                     "; ".join(f"{k}: {v}" for k, v in bad.items()) + ")")
        return lines, 1
    lines.append("shared:       ok (" + " and ".join(found) + " answer)")
    return lines, 0
