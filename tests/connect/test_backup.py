"""Backups and undo: byte-for-byte, modes kept, absent files removed again, newest first."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from trayproxy.connect import backup
from trayproxy.fileio import atomic_write


def test_restore_puts_bytes_and_modes_back_and_removes_new_files(tmp_path: Path) -> None:
    a, b = tmp_path / "a.json", tmp_path / "sub" / "b.env"
    a.write_bytes(b"{\r\n  \"x\": 1 // odd bytes \xc3\xa9\r\n}")
    os.chmod(a, 0o640)
    bk = backup.take(tmp_path / "bk", "c", [a, b], now=1_700_000_000.25)
    assert oct((tmp_path / "bk").stat().st_mode & 0o777) == "0o700"
    atomic_write(a, b"changed", mode=0o600)
    atomic_write(b, b"new file", mode=0o600)
    assert backup.newest(tmp_path / "bk", "c") == bk
    assert backup.restore(bk).touched == [a, b]
    assert a.read_bytes() == b"{\r\n  \"x\": 1 // odd bytes \xc3\xa9\r\n}"
    assert a.stat().st_mode & 0o777 == 0o640
    assert not b.exists()
    assert backup.newest(tmp_path / "bk", "c") is None


def test_newest_backup_first_and_missing_copy_restores_nothing(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_text("one")
    first = backup.take(tmp_path / "bk", "c", [f], now=1000.0)
    f.write_text("two")
    second = backup.take(tmp_path / "bk", "c", [f], now=2000.0)
    assert backup.newest(tmp_path / "bk", "c") == second
    f.write_text("three")
    backup.restore(second)
    assert f.read_text() == "two"
    assert backup.newest(tmp_path / "bk", "c") == first
    (first.folder / first.files[0][1]).unlink()  # type: ignore[operator]
    with pytest.raises(backup.BackupError):
        backup.restore(first)
    assert f.read_text() == "two"
