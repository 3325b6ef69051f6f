"""Put text on the system clipboard without a GUI toolkit of our own.

macOS `pbcopy`, Windows `clip`, Linux `wl-copy` (Wayland) then `xclip` / `xsel` (X11). The
helpers run with stdin fed, stdout/stderr to DEVNULL and no inherited descriptors: `xclip`
forks a child that keeps serving the selection, and it must never hold our pipes open.
When no helper exists on Linux and the GTK backend is already loaded, GTK's clipboard is used
from the GLib main loop.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable

__all__ = ["Copier", "copy_text", "clipboard_commands"]

log = logging.getLogger("trayproxy.control.clipboard")
Copier = Callable[[str], bool]


def clipboard_commands(platform: str | None = None, env: dict[str, str] | None = None) -> list[list[str]]:
    """Candidate commands, best first, for this platform."""
    platform = platform or sys.platform
    env = dict(os.environ) if env is None else env
    if platform == "darwin":
        return [["pbcopy"]]
    if platform == "win32":
        return [["clip"]]
    cmds: list[list[str]] = []
    if env.get("WAYLAND_DISPLAY"):
        cmds.append(["wl-copy"])
    cmds += [["xclip", "-selection", "clipboard", "-in"], ["xsel", "--clipboard", "--input"]]
    return cmds


def _run(cmd: list[str], text: str) -> bool:
    exe = shutil.which(cmd[0])
    if exe is None:
        return False
    data = text.encode("utf-16-le" if cmd[0] == "clip" else "utf-8")
    try:
        res = subprocess.run(
            [exe, *cmd[1:]],
            input=data,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as e:
        log.warning("clipboard helper %s failed: %s", cmd[0], e)
        return False
    return res.returncode == 0


def _gtk_copy(text: str) -> bool:
    if "gi.repository.Gtk" not in sys.modules:
        return False
    try:
        from gi.repository import Gdk, GLib, Gtk  # type: ignore[import-not-found, unused-ignore]
    except Exception:
        return False

    def _set() -> bool:
        Gtk.Clipboard.get(Gdk.SELECTION_CLIPBOARD).set_text(text, -1)
        return False

    GLib.idle_add(_set)
    return True


def copy_text(text: str) -> bool:
    """Copy text; True when a clipboard took it."""
    for cmd in clipboard_commands():
        if _run(cmd, text):
            return True
    return _gtk_copy(text)
