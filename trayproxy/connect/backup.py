"""Timestamped backups of a client's files before connect writes them, and undo: the newest
backup put back byte for byte (a file that did not exist before is removed again).

Layout: <root>/<client>/<UTC timestamp>/manifest.json + one copy per file that existed.
The copies keep the files' modes; the folder is 0700 (the files may hold keys)."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from trayproxy.fileio import atomic_write

__all__ = ["Backup", "BackupError", "take", "newest", "restore"]


class BackupError(Exception):
    pass


@dataclass(frozen=True)
class Backup:
    folder: Path
    created: str  # UTC, ISO 8601
    files: tuple[tuple[Path, str | None, int | None], ...]  # (path, copy name or None if absent, mode)


def _stamp(now: float) -> str:
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f"{now % 1:.6f}"[1:].replace(".", "-")


def take(root: Path, client: str, paths: list[Path], *, now: float | None = None) -> Backup:
    now = time.time() if now is None else now
    folder = root / client / _stamp(now)
    folder.mkdir(parents=True, exist_ok=False)
    for d in (root, root / client, folder):
        os.chmod(d, 0o700)
    entries: list[tuple[Path, str | None, int | None]] = []
    manifest = []
    for i, p in enumerate(paths):
        if p.exists():
            name = f"{i}-{p.name}"
            data = p.read_bytes()
            mode = p.stat().st_mode & 0o777
            atomic_write(folder / name, data, mode=0o600, follow_symlinks=False)
            entries.append((p, name, mode))
            manifest.append({"path": str(p), "copy": name, "mode": mode})
        else:
            entries.append((p, None, None))
            manifest.append({"path": str(p), "copy": None, "mode": None})
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    atomic_write(folder / "manifest.json",
                 json.dumps({"client": client, "created": created, "files": manifest}, indent=1).encode(), mode=0o600)
    return Backup(folder, created, tuple(entries))


def _load(folder: Path) -> Backup | None:
    try:
        m = json.loads((folder / "manifest.json").read_text())
        files = tuple((Path(f["path"]), f["copy"], f["mode"]) for f in m["files"])
        return Backup(folder, str(m["created"]), files)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def newest(root: Path, client: str) -> Backup | None:
    d = root / client
    if not d.is_dir():
        return None
    for folder in sorted((p for p in d.iterdir() if p.is_dir()), reverse=True):
        b = _load(folder)
        if b is not None:
            return b
    return None


def restore(backup: Backup) -> list[Path]:
    """Put every file back as it was; remove the backup. Returns the paths touched."""
    for _, copy, _ in backup.files:
        if copy is not None and not (backup.folder / copy).exists():
            raise BackupError(f"the backup copy {backup.folder / copy} is missing; nothing was restored")
    touched: list[Path] = []
    for path, copy, mode in backup.files:
        if copy is None:
            if path.exists():
                path.unlink()
                touched.append(path)
            continue
        src = backup.folder / copy
        atomic_write(path, src.read_bytes(), mode=0o600 if mode is None else mode)
        touched.append(path)
    for f in backup.folder.iterdir():
        f.unlink()
    backup.folder.rmdir()
    return touched
