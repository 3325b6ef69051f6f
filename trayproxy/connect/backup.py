"""Timestamped backups of a client's files before connect writes them, and undo.

Undo takes back what connect changed and nothing else:
1. a file still exactly as connect wrote it (its hash) gets the backup's bytes back, byte for
   byte (a file connect created is removed again);
2. a file changed since (by the user, or by the client itself: Kilo Code adds a permission on
   its first run) gets the inverse of each of connect's edits (`edits.Change`): a value still
   as connect set it goes back to what it was before, a value the user changed stays theirs;
   when that leaves the same settings as before connect (the client only rewrote its file, as
   Claude Code does), the backup's bytes go back;
3. a file the user deleted since gets the backup's bytes back.
Files are written through `fileio.atomic_write`, so a symlinked settings file stays a symlink
and its target gets the bytes.

Layout: <root>/<client>/<UTC timestamp>/manifest.json + one copy per file that existed.
The copies keep the files' modes; the folder is 0700 (the files may hold keys). The manifest
holds the old values of the keys connect changed and only hashes of the new ones.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from trayproxy.connect import edits
from trayproxy.connect.edits import Change
from trayproxy.connect.jsonfile import JsonFileError
from trayproxy.fileio import atomic_write

__all__ = ["Backup", "Entry", "BackupError", "Undone", "take", "newest", "restore"]


class BackupError(Exception):
    pass


@dataclass(frozen=True)
class Entry:
    path: Path
    copy: str | None  # the copy's file name, None if the file did not exist
    mode: int | None
    written: str | None = None  # sha256 of the bytes connect wrote (None: an old backup)
    fmt: str | None = None
    changes: tuple[Change, ...] = ()


@dataclass(frozen=True)
class Backup:
    folder: Path
    created: str  # UTC, ISO 8601
    entries: tuple[Entry, ...]

    @property
    def files(self) -> tuple[tuple[Path, str | None, int | None], ...]:
        return tuple((e.path, e.copy, e.mode) for e in self.entries)


@dataclass
class Undone:
    touched: list[Path] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # "<file>: <key>" the user changed since connect


def _stamp(now: float) -> str:
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f"{now % 1:.6f}"[1:].replace(".", "-")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def take(root: Path, client: str, paths: list[Path], *, now: float | None = None,
         written: Mapping[Path, bytes] | None = None,
         changes: Mapping[Path, tuple[str, list[Change]]] | None = None) -> Backup:
    """Copy `paths` as they are now; `written`: what connect is about to write to each,
    `changes`: its edits there (format, Change list)."""
    now = time.time() if now is None else now
    folder = root / client / _stamp(now)
    folder.mkdir(parents=True, exist_ok=False)
    for d in (root, root / client, folder):
        os.chmod(d, 0o700)
    entries: list[Entry] = []
    for i, p in enumerate(paths):
        fmt, chs = (changes or {}).get(p, (None, []))
        new = (written or {}).get(p)
        copy: str | None = None
        mode: int | None = None
        if p.exists():
            copy = f"{i}-{p.name}"
            mode = p.stat().st_mode & 0o777
            atomic_write(folder / copy, p.read_bytes(), mode=0o600, follow_symlinks=False)
        entries.append(Entry(p, copy, mode, _sha(new) if new is not None else None, fmt, tuple(chs)))
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    manifest = [{"path": str(e.path), "copy": e.copy, "mode": e.mode, "written": e.written, "format": e.fmt,
                 "changes": [c.to_json() for c in e.changes]} for e in entries]
    atomic_write(folder / "manifest.json",
                 json.dumps({"client": client, "created": created, "files": manifest}, indent=1).encode(), mode=0o600)
    return Backup(folder, created, tuple(entries))


def _load(folder: Path) -> Backup | None:
    try:
        m = json.loads((folder / "manifest.json").read_text())
        entries = tuple(Entry(Path(f["path"]), f["copy"], f["mode"], f.get("written"), f.get("format"),
                              tuple(Change.from_json(c) for c in f.get("changes") or []))
                        for f in m["files"])
        return Backup(folder, str(m["created"]), entries)
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


def _inverse(e: Entry, text: str, undone: Undone) -> str:
    """The current text with connect's edits taken back where they are still connect's."""
    assert e.fmt is not None
    for ch in reversed(e.changes):
        now = edits.read(e.fmt, text, ch.key, str(e.path))
        if edits.value_hash(now) != ch.new_hash:
            undone.kept.append(f"{e.path}: {'.'.join(ch.key)}")
            continue
        text = edits.write(e.fmt, text, ch.key, ch.old, str(e.path))
    return text


def restore(backup: Backup) -> Undone:
    """Take back what connect changed (see the module comment); remove the backup."""
    for e in backup.entries:
        if e.copy is not None and not (backup.folder / e.copy).exists():
            raise BackupError(f"the backup copy {backup.folder / e.copy} is missing; nothing was restored")
    planned: list[tuple[Entry, bytes | None]] = []  # (entry, new bytes or None: remove the file)
    undone = Undone()
    for e in backup.entries:
        old = (backup.folder / e.copy).read_bytes() if e.copy is not None else None
        if not e.path.exists():
            if old is not None:
                planned.append((e, old))
            continue
        current = e.path.read_bytes()
        if e.written is None or e.fmt is None or _sha(current) == e.written:
            planned.append((e, old))  # as connect left it (or a backup from before edits were kept)
            continue
        try:
            text = _inverse(e, current.decode("utf-8"), undone)
        except (JsonFileError, UnicodeDecodeError, ValueError) as err:
            raise BackupError(f"{e.path} changed since connect and cannot be read now ({err}); "
                              "nothing was restored") from err
        if old is None and edits.is_empty(e.fmt, text):
            planned.append((e, None))
        elif old is not None and edits.same(e.fmt, text, old.decode("utf-8", "replace"), str(e.path)):
            planned.append((e, old))  # only reformatted since (Claude Code rewrites its file): the old bytes
        elif text.encode("utf-8") != current:
            planned.append((e, text.encode("utf-8")))
    for e, data in planned:
        if data is None:
            if e.path.exists() or e.path.is_symlink():
                e.path.unlink()
                undone.touched.append(e.path)
            continue
        mode = e.mode if e.mode is not None else (e.path.stat().st_mode & 0o777 if e.path.exists() else 0o600)
        atomic_write(e.path, data, mode=mode)
        undone.touched.append(e.path)
    for f in backup.folder.iterdir():
        f.unlink()
    backup.folder.rmdir()
    return undone
