"""Desktop notifications: the tray icon's own when the backend has them, else a helper command.

Never raises: a notification that cannot be shown is logged, because the same message is also
on the settings page.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from typing import Any

__all__ = ["notify"]

log = logging.getLogger("trayproxy.ui.notify")


def _escape_applescript(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


def _command(title: str, message: str) -> list[str] | None:
    if sys.platform == "darwin":
        script = f'display notification "{_escape_applescript(message)}" with title "{_escape_applescript(title)}"'
        return ["osascript", "-e", script]
    exe = shutil.which("notify-send")
    if exe:
        return [exe, "--app-name=trayproxy", title, message]
    return None


def notify(icon: Any, title: str, message: str) -> None:
    """Show `message` through `icon.notify` if it can, else `notify-send` / `osascript`."""
    log.warning("%s: %s", title, message)
    if icon is not None and getattr(icon, "HAS_NOTIFICATION", False):
        try:
            icon.notify(message, title)
            return
        except Exception as e:  # a missing notification daemon raises GLib errors
            log.info("tray notification failed (%s); trying a helper", e)
    cmd = _command(title, message)
    if cmd is None:
        return
    try:
        subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         close_fds=True, start_new_session=True)
    except OSError as e:
        log.info("notification helper failed: %s", e)
