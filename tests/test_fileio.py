"""trayproxy/fileio.py: the one atomic writer."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from trayproxy import fileio
from trayproxy.fileio import atomic_write


@pytest.fixture()
def first_write_modes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The mode of every file trayproxy writes, as it is when the first byte goes in."""
    seen: list[int] = []
    real = os.fdopen

    def spy(fd: int, *args: Any, **kwargs: Any) -> Any:
        f = real(fd, *args, **kwargs)
        write = f.write

        def checked(data: Any) -> Any:
            seen.append(stat.S_IMODE(os.fstat(fd).st_mode))
            return write(data)

        f.write = checked
        return f

    monkeypatch.setattr(fileio.os, "fdopen", spy)
    return seen


def test_mode_is_set_before_any_byte_is_written(tmp_path: Path, first_write_modes: list[int]) -> None:
    old = os.umask(0o022)  # the umask that made connect's temporary file 0644 (attack run finding 1)
    try:
        atomic_write(tmp_path / "settings.json", b'{"key": "sk-secret"}', mode=0o600)
    finally:
        os.umask(old)
    assert first_write_modes == [0o600]
    assert stat.S_IMODE((tmp_path / "settings.json").stat().st_mode) == 0o600


def test_replaces_whole_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "a.json"
    atomic_write(target, b"one")
    atomic_write(target, b"two", mode=0o644)
    assert target.read_bytes() == b"two"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert [p.name for p in target.parent.iterdir()] == ["a.json"]


def test_a_failed_write_keeps_the_old_file_and_cleans_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "a.json"
    target.write_bytes(b"old")

    def broken(*args: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(fileio.os, "replace", broken)
    with pytest.raises(OSError):
        atomic_write(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_a_symlink_stays_a_symlink_and_its_target_is_written(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "settings.json"
    real.parent.mkdir()
    real.write_bytes(b"old")
    link = tmp_path / "settings.json"
    link.symlink_to(Path("dotfiles") / "settings.json")  # relative, as dotfile managers make them
    written = atomic_write(link, b"new")
    assert link.is_symlink()
    assert written == real.resolve()
    assert real.read_bytes() == b"new"


def test_follow_symlinks_false_replaces_the_link(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.write_bytes(b"keep")
    link = tmp_path / "link"
    link.symlink_to(real)
    atomic_write(link, b"own", follow_symlinks=False)
    assert not link.is_symlink() and link.read_bytes() == b"own"
    assert real.read_bytes() == b"keep"
