"""Request monitor: every proxied request in a SQLite log, with token counts and retention."""

from trayproxy.monitor.record import RequestRecord
from trayproxy.monitor.store import Monitor

__all__ = ["Monitor", "RequestRecord"]
