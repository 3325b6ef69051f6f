"""Open the settings page in the system browser without the control token in a URL.

`webbrowser.open(URL)` would put the token in the browser's command line (which other local
users can read in the process list) and in its history. Instead a small HTML file goes in a
fresh private directory (0700, file 0600, so only this user can read it); the browser is given
that file's path, and the file posts the token to the ControlServer in a form body (`POST /`).
The file is removed again once the browser has had time to load it.
"""

from __future__ import annotations

import html
import os
import shutil
import tempfile
import threading
import webbrowser
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

__all__ = ["write_launcher", "open_in_browser"]


def write_launcher(url: str, directory: Path | None = None) -> Path:
    """Write the launcher file for a settings URL (`http://127.0.0.1:P/?token=T`)."""
    parts = urlsplit(url)
    token = parse_qs(parts.query).get("token", [""])[0]
    origin = f"{parts.scheme}://{parts.netloc}"
    folder = Path(directory) if directory is not None else Path(tempfile.mkdtemp(prefix="trayproxy-open-"))
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    path = folder / "open-settings.html"
    page = (
        '<!doctype html><meta charset="utf-8"><title>trayproxy settings</title>'
        f'<form method="post" action="{html.escape(origin)}/">'
        f'<input type="hidden" name="token" value="{html.escape(token)}">'
        '<noscript><button>Open the trayproxy settings</button></noscript></form>'
        "<script>document.forms[0].submit()</script>\n"
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # 0600 from the first byte
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(page)
    return path


def open_in_browser(
    url: str,
    *,
    open_url: Callable[[str], object] = webbrowser.open,
    linger: float = 60.0,
) -> threading.Timer:
    """Open the settings in the browser through a launcher file. The returned (daemon) timer
    removes the file after `linger` s; a process about to exit joins it first."""
    path = write_launcher(url)
    open_url(path.as_uri())
    timer = threading.Timer(linger, shutil.rmtree, args=(path.parent,), kwargs={"ignore_errors": True})
    timer.daemon = True
    timer.start()
    return timer
