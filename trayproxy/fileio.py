"""Writing a file so that nobody sees half of it and nobody else can read it while it is written.

1. The temporary file is made with `mkstemp` in the target's own directory (same filesystem, so
   the final rename is atomic; never a predictable name another user could plant first).
2. Its mode is set on the open descriptor before a single byte is written: a file that holds a
   key is never, even for a moment, readable by others.
3. Data, then fsync of the file; rename over the target; fsync of the directory, so a crash at
   any moment leaves either the old file or the new one, whole.

A target that is a symbolic link is written through to the file it points at (the link stays a
link); `follow_symlinks=False` replaces the link itself.

Every writer in trayproxy goes through `atomic_write`: config.json, accounts.json, the secrets
fallback, the instance file, client settings written by `connect` and their backups, autostart
entries. The one file appended to instead, the app's log, is opened by `open_private_append`:
created 0600, and a file that was readable by others (an older version's log) is made private
before a line is added.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TextIO

__all__ = ["atomic_write", "write_target", "open_private_append"]


def write_target(path: Path) -> Path:
    """The file a write to `path` lands in: a symlink's final target (relative links resolved
    against the link's folder), else `path` itself."""
    if not path.is_symlink():
        return path
    return Path(os.path.realpath(path))


def atomic_write(path: Path, data: bytes, *, mode: int = 0o600, follow_symlinks: bool = True) -> Path:
    """Write `data` to `path` (see the module comment). Returns the path actually written."""
    target = write_target(path) if follow_symlinks else path
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if not hasattr(os, "fchmod"):  # pragma: no cover - Windows: mode bits beyond read-only mean little
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(target.parent)
    return target


def _fsync_dir(folder: Path) -> None:
    try:
        dfd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows cannot open a folder
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def open_private_append(path: Path, encoding: str = "utf-8") -> TextIO:
    """`path` opened for appending text, created with mode 0600 (tightened to it if it existed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)
        return os.fdopen(fd, "a", encoding=encoding)
    except BaseException:
        os.close(fd)
        raise
