"""Request monitor: every proxied request in a SQLite log, with token counts and retention."""

from trayproxy.monitor.record import COLUMNS, RequestRecord
from trayproxy.monitor.redact import redact_bytes, redact_text
from trayproxy.monitor.report import format_table, to_csv, to_json
from trayproxy.monitor.store import Monitor

__all__ = ["COLUMNS", "Monitor", "RequestRecord", "format_table", "redact_bytes", "redact_text", "to_csv", "to_json"]
