"""Connect a client (Claude Code, Codex, Gemini CLI) to the proxy: write its own settings files,
prove the result works, undo it. See service.py."""

from trayproxy.connect.service import CLIENTS, ConnectError, Result, check, connect, status, summary, undo

__all__ = ["CLIENTS", "ConnectError", "Result", "check", "connect", "status", "summary", "undo"]
