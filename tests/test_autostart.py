"""Start at login: the XDG desktop entry for real, the LaunchAgent plist, the HKCU Run value."""

from __future__ import annotations

import json
import os
import plistlib
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trayproxy import autostart
from trayproxy.autostart import (
    RUN_KEY,
    STARTUP_APPROVED_KEY,
    AutostartError,
    desktop_entry,
    desktop_exec_quote,
    desktop_exec_split,
    launch_command,
    windows_cmdline_split,
)

VALIDATOR = shutil.which("desktop-file-validate")


def validate(path: Path) -> None:
    """desktop-file-validate must accept the file (skipped only if the tool is missing)."""
    if VALIDATOR is None:
        return
    r = subprocess.run([VALIDATOR, str(path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "error" not in r.stdout


@pytest.fixture
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary HOME and XDG_CONFIG_HOME; no system-wide autostart dirs."""
    home = tmp_path / "userhome"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "cfg"))
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(tmp_path / "etc-xdg"))
    return home / "cfg" / "autostart"


# -- Linux, for real -----------------------------------------------------------------------------


def test_linux_enable_status_disable_round_trip(xdg: Path) -> None:
    path = xdg / "trayproxy.desktop"
    st0 = autostart.status(platform="linux")
    assert not st0.enabled and st0.path_or_key == str(path) and st0.platform == "linux"
    assert st0.command == launch_command()

    st1 = autostart.enable(platform="linux")
    assert st1.enabled and not st1.stale and path.is_file()
    assert st1.command == launch_command()
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    validate(path)
    text = path.read_text()
    assert "Type=Application" in text and "X-GNOME-Autostart-enabled=true" in text
    assert [ln for ln in text.splitlines() if ln.startswith("Exec=")] == [
        "Exec=" + desktop_exec_quote(launch_command())
    ]
    assert autostart.enable(platform="linux") == st1  # idempotent
    assert json.loads(json.dumps(st1.to_dict()))["enabled"] is True  # what the settings API returns
    assert sorted(p.name for p in xdg.iterdir()) == ["trayproxy.desktop"]  # no temp files left

    st2 = autostart.disable(platform="linux")
    assert not st2.enabled and not path.exists()
    assert not autostart.disable(platform="linux").enabled  # disabling twice is fine


def test_linux_default_config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(tmp_path / "none"))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    assert autostart.enable(platform="linux").path_or_key == str(tmp_path / ".config/autostart/trayproxy.desktop")
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/dir")  # invalid per spec: ignored
    assert autostart.status(platform="linux").enabled


def test_cli_prints_one_line_and_exit_codes(xdg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from trayproxy.cli import main

    path = xdg / "trayproxy.desktop"
    assert main(["autostart", "status"]) == 0
    assert capsys.readouterr().out.startswith(f"autostart: disabled (would write {path}")
    assert main(["autostart", "enable"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"autostart enabled: {path} starts `") and out.count("\n") == 1
    assert main(["autostart", "status"]) == 0
    assert capsys.readouterr().out.startswith(f"autostart: enabled, {path} starts `")
    assert main(["autostart", "disable"]) == 0
    assert capsys.readouterr().out == f"autostart disabled: removed {path}\n"
    assert main(["autostart", "disable"]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert autostart.cli("bogus") == 2


def test_cli_reports_write_failure(xdg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    xdg.parent.mkdir(parents=True)
    xdg.write_text("a file where the autostart directory should be")
    assert autostart.cli("enable") == 1
    err = capsys.readouterr().err
    assert err.startswith("trayproxy: autostart enable failed: cannot write ") and str(xdg) in err


def test_stale_entry_is_reported_and_rewritten(xdg: Path) -> None:
    autostart.enable(platform="linux", command=["/old/venv/bin/trayproxy"])
    st = autostart.status(platform="linux", command=["/new/venv/bin/trayproxy"])
    assert st.enabled and st.stale and st.command == ["/old/venv/bin/trayproxy"]
    assert st.current_command == ["/new/venv/bin/trayproxy"] and "different installation" in st.note
    st = autostart.enable(platform="linux", command=["/new/venv/bin/trayproxy"])
    assert st.enabled and not st.stale and st.command == ["/new/venv/bin/trayproxy"]


def test_system_wide_entry_is_hidden_by_a_user_copy(xdg: Path, tmp_path: Path) -> None:
    system = tmp_path / "etc-xdg" / "autostart" / "trayproxy.desktop"
    system.parent.mkdir(parents=True)
    system.write_text(desktop_entry(["/usr/bin/trayproxy"]))
    st = autostart.status(platform="linux", command=["/usr/bin/trayproxy"])
    assert st.enabled and st.path_or_key == str(system) and "system-wide" in st.note
    st = autostart.disable(platform="linux", command=["/usr/bin/trayproxy"])
    user = xdg / "trayproxy.desktop"
    assert not st.enabled and st.path_or_key == str(user)
    assert "Hidden=true" in user.read_text() and system.is_file()
    validate(user)
    assert autostart.enable(platform="linux", command=["/usr/bin/trayproxy"]).enabled


def test_gnome_disabled_key_counts_as_disabled(xdg: Path) -> None:
    autostart.enable(platform="linux")
    path = xdg / "trayproxy.desktop"
    path.write_text(path.read_text().replace("X-GNOME-Autostart-enabled=true", "X-GNOME-Autostart-enabled=false"))
    assert not autostart.status(platform="linux").enabled


# -- Exec= quoting -------------------------------------------------------------------------------

AWKWARD = [
    ["/opt/my app/trayproxy"],
    ["/home/jos\u00e9/.venv/bin/trayproxy", "--opt=1"],
    ["/a/b\\c/py", "-m", "tray$proxy", "100%", 'say "hi"', "it's", "", "a\tb", "`x`", "~/p", "a\nb", "x;y|z&"],
]


@pytest.mark.parametrize("argv", AWKWARD)
def test_exec_quoting_awkward_paths_validate(argv: list[str], tmp_path: Path) -> None:
    path = tmp_path / "trayproxy.desktop"
    path.write_text(desktop_entry(argv), encoding="utf-8")
    validate(path)
    exec_value = desktop_entry(argv).split("\nExec=", 1)[1].split("\n", 1)[0]
    assert desktop_exec_split(exec_value) == argv


def test_exec_quoting_examples() -> None:
    assert desktop_exec_quote(["/usr/bin/trayproxy"]) == "/usr/bin/trayproxy"
    assert desktop_exec_quote(["/opt/my app/t", "-m", "x"]) == '"/opt/my app/t" -m x'
    # literal backslash in a quoted argument: four backslashes in the file; dollar: \\$
    assert desktop_exec_quote(["/a\\b"]) == '"/a\\\\\\\\b"'
    assert desktop_exec_quote(["$HOME"]) == '"\\\\$HOME"'
    assert desktop_exec_quote(["50%"]) == "50%%"
    with pytest.raises(ValueError):
        desktop_exec_quote([])


def test_exec_quoting_matches_glib(tmp_path: Path) -> None:
    """GLib (what GNOME and most session managers use) parses our Exec back into the same argv."""
    try:
        from gi.repository import GLib  # type: ignore[import-not-found,unused-ignore]
    except Exception:
        pytest.skip("PyGObject not available")
    for argv in AWKWARD:
        data = desktop_entry(argv)
        kf = GLib.KeyFile()
        kf.load_from_data(data, len(data.encode()), GLib.KeyFileFlags.NONE)
        ok, parsed = GLib.shell_parse_argv(kf.get_string("Desktop Entry", "Exec").replace("%%", "%"))
        assert ok and parsed == argv


argv_text = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"))


@given(st.lists(argv_text, min_size=1, max_size=5))
def test_exec_quoting_round_trips(argv: list[str]) -> None:
    assert desktop_exec_split(desktop_exec_quote(argv)) == argv


# -- macOS (forced code path) --------------------------------------------------------------------


def test_macos_launch_agent_round_trip(tmp_path: Path) -> None:
    cmd = ["/Applications/TrayProxy.app/Contents/MacOS/trayproxy"]
    st0 = autostart.status(platform="darwin", home=tmp_path, command=cmd)
    plist = tmp_path / "Library" / "LaunchAgents" / "io.github.trayproxy.plist"
    assert not st0.enabled and st0.path_or_key == str(plist) and st0.platform == "macos"

    st1 = autostart.enable(platform="darwin", home=tmp_path, command=cmd)
    assert st1.enabled and st1.command == cmd and not st1.stale
    data = plistlib.loads(plist.read_bytes())
    assert data == {
        "Label": "io.github.trayproxy",
        "ProgramArguments": cmd,
        "RunAtLoad": True,
        "ProcessType": "Interactive",
        "LimitLoadToSessionType": "Aqua",
    }
    assert plist.read_bytes().startswith(b"<?xml")  # XML plist, readable by launchd and humans

    assert autostart.status(platform="darwin", home=tmp_path, command=["/other"]).stale
    st2 = autostart.disable(platform="darwin", home=tmp_path, command=cmd)
    assert not st2.enabled and not plist.exists()


def test_macos_default_home_and_corrupt_plist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    plist = tmp_path / "Library" / "LaunchAgents" / "io.github.trayproxy.plist"
    assert autostart.enable(platform="darwin").path_or_key == str(plist)
    assert plistlib.loads(plist.read_bytes())["ProgramArguments"] == launch_command(platform="darwin")
    plist.write_text("not a plist")
    st = autostart.status(platform="darwin")
    assert not st.enabled and "unreadable" in st.note
    assert autostart.enable(platform="darwin").enabled


def test_macos_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert autostart.cli("enable", platform="darwin") == 0
    assert "LaunchAgents/io.github.trayproxy.plist starts `" in capsys.readouterr().out
    assert autostart.cli("disable", platform="darwin") == 0
    assert capsys.readouterr().out.startswith("autostart disabled: removed ")


# -- Windows (stand-in winreg) -------------------------------------------------------------------


class FakeKey:
    def __init__(self, reg: FakeWinreg, path: str) -> None:
        self.reg, self.path = reg, path

    def __enter__(self) -> FakeKey:
        return self

    def __exit__(self, *exc: object) -> None:
        self.reg.open_handles -= 1


class FakeWinreg:
    """Just enough of `winreg` for HKCU: keys are paths, values are (data, type)."""

    HKEY_CURRENT_USER = "HKCU"
    KEY_READ = 0x20019
    KEY_SET_VALUE = 0x0002
    REG_SZ = 1
    REG_BINARY = 3

    def __init__(self) -> None:
        self.keys: dict[str, dict[str, tuple[Any, int]]] = {}
        self.open_handles = 0

    def OpenKey(self, root: str, path: str, reserved: int = 0, access: int = KEY_READ) -> FakeKey:
        assert root == self.HKEY_CURRENT_USER and reserved == 0
        if path not in self.keys:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        self.open_handles += 1
        return FakeKey(self, path)

    def CreateKeyEx(self, root: str, path: str, reserved: int = 0, access: int = KEY_SET_VALUE) -> FakeKey:
        assert root == self.HKEY_CURRENT_USER and access & self.KEY_SET_VALUE
        self.keys.setdefault(path, {})
        self.open_handles += 1
        return FakeKey(self, path)

    def QueryValueEx(self, key: FakeKey, name: str) -> tuple[Any, int]:
        try:
            return self.keys[key.path][name]
        except KeyError:
            raise FileNotFoundError(2, "The system cannot find the file specified") from None

    def SetValueEx(self, key: FakeKey, name: str, reserved: int, type_: int, value: Any) -> None:
        assert type_ == self.REG_SZ and isinstance(value, str)
        self.keys[key.path][name] = (value, type_)

    def DeleteValue(self, key: FakeKey, name: str) -> None:
        if name not in self.keys[key.path]:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        del self.keys[key.path][name]


@pytest.fixture
def winreg() -> Iterator[FakeWinreg]:
    reg = FakeWinreg()
    yield reg
    assert reg.open_handles == 0  # every key handle was closed


WIN_CMD = ["C:\\Program Files\\TrayProxy\\trayproxy.exe"]


def test_windows_run_value_round_trip(winreg: FakeWinreg) -> None:
    st0 = autostart.status(platform="win32", winreg=winreg, command=WIN_CMD)
    assert not st0.enabled and st0.platform == "windows"
    assert st0.path_or_key == f"HKEY_CURRENT_USER\\{RUN_KEY}\\trayproxy"

    st1 = autostart.enable(platform="win32", winreg=winreg, command=WIN_CMD)
    assert st1.enabled and st1.command == WIN_CMD and not st1.stale
    assert winreg.keys[RUN_KEY]["trayproxy"] == ('"C:\\Program Files\\TrayProxy\\trayproxy.exe"', FakeWinreg.REG_SZ)

    st2 = autostart.disable(platform="win32", winreg=winreg, command=WIN_CMD)
    assert not st2.enabled and "trayproxy" not in winreg.keys[RUN_KEY]
    assert not autostart.disable(platform="win32", winreg=winreg, command=WIN_CMD).enabled


def test_windows_task_manager_switch(winreg: FakeWinreg) -> None:
    autostart.enable(platform="win32", winreg=winreg, command=WIN_CMD)
    winreg.keys[STARTUP_APPROVED_KEY] = {"trayproxy": (b"\x03" + bytes(11), FakeWinreg.REG_BINARY)}
    st = autostart.status(platform="win32", winreg=winreg, command=WIN_CMD)
    assert not st.enabled and "Task Manager" in st.note
    winreg.keys[STARTUP_APPROVED_KEY]["trayproxy"] = (b"\x02" + bytes(11), FakeWinreg.REG_BINARY)
    assert autostart.status(platform="win32", winreg=winreg, command=WIN_CMD).enabled
    winreg.keys[STARTUP_APPROVED_KEY]["trayproxy"] = (b"\x03" + bytes(11), FakeWinreg.REG_BINARY)
    assert autostart.enable(platform="win32", winreg=winreg, command=WIN_CMD).enabled
    assert "trayproxy" not in winreg.keys[STARTUP_APPROVED_KEY]


def test_windows_venv_command_with_arguments(winreg: FakeWinreg) -> None:
    cmd = ["C:\\Users\\A B\\venv\\Scripts\\pythonw.exe", "-m", "trayproxy"]
    autostart.enable(platform="win32", winreg=winreg, command=cmd)
    assert winreg.keys[RUN_KEY]["trayproxy"][0] == '"C:\\Users\\A B\\venv\\Scripts\\pythonw.exe" -m trayproxy'
    assert autostart.status(platform="win32", winreg=winreg, command=cmd).command == cmd


def test_windows_without_winreg_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    if sys.platform == "win32":
        pytest.skip("winreg exists here")
    with pytest.raises(AutostartError, match="registry is not available"):
        autostart.status(platform="win32")
    assert autostart.cli("status", platform="win32") == 1
    assert "registry is not available" in capsys.readouterr().err


@given(st.lists(st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00")),
                min_size=1, max_size=5))
def test_windows_cmdline_split_inverts_list2cmdline(argv: list[str]) -> None:
    assert windows_cmdline_split(subprocess.list2cmdline(argv)) == argv


# -- which command launches this installation ----------------------------------------------------


def _script(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_launch_command_frozen(tmp_path: Path) -> None:
    exe = tmp_path / "trayproxy"
    assert launch_command(frozen=True, executable=str(exe), platform="linux") == [str(exe)]
    cli_exe = tmp_path / "trayproxy-cli.exe"
    assert launch_command(frozen=True, executable=str(cli_exe), platform="win32") == [str(cli_exe)]
    gui = tmp_path / "trayproxy.exe"
    gui.write_bytes(b"MZ")
    assert launch_command(frozen=True, executable=str(cli_exe), platform="win32") == [str(gui)]


def test_launch_command_venv_or_pipx_script(tmp_path: Path) -> None:
    bindir = tmp_path / "venvs" / "trayproxy" / "bin"
    python = bindir / "python"
    assert launch_command(frozen=False, executable=str(python), platform="linux", scripts_dirs=[bindir]) == [
        str(python), "-m", "trayproxy"]
    script = _script(bindir / "trayproxy")
    assert launch_command(frozen=False, executable=str(python), platform="linux") == [str(script)]
    script.chmod(0o644)  # not executable: not a launcher
    assert launch_command(frozen=False, executable=str(python), platform="darwin",
                          scripts_dirs=[bindir])[1:] == ["-m", "trayproxy"]


def test_launch_command_windows_prefers_gui_script(tmp_path: Path) -> None:
    scripts = tmp_path / "venv" / "Scripts"
    python = scripts / "python.exe"
    kw: dict[str, Any] = {"frozen": False, "executable": str(python), "platform": "win32", "scripts_dirs": [scripts]}
    assert launch_command(**kw) == [str(python), "-m", "trayproxy"]
    (tmp_path / "venv" / "Scripts").mkdir(parents=True)
    (scripts / "pythonw.exe").write_bytes(b"MZ")
    assert launch_command(**kw) == [str(scripts / "pythonw.exe"), "-m", "trayproxy"]
    (scripts / "trayproxy.exe").write_bytes(b"MZ")
    assert launch_command(**kw) == [str(scripts / "trayproxy.exe")]
    (scripts / "trayproxy-gui.exe").write_bytes(b"MZ")
    assert launch_command(**kw) == [str(scripts / "trayproxy-gui.exe")]
    # a system-wide Python keeps scripts in <prefix>\Scripts
    base = tmp_path / "Python311"
    (base / "Scripts").mkdir(parents=True)
    (base / "Scripts" / "trayproxy-gui.exe").write_bytes(b"MZ")
    assert launch_command(frozen=False, executable=str(base / "python.exe"), platform="win32",
                          scripts_dirs=[base]) == [str(base / "Scripts" / "trayproxy-gui.exe")]


def test_launch_command_of_this_test_run_starts_trayproxy() -> None:
    """The command for the running interpreter really launches this installation."""
    cmd = launch_command()
    r = subprocess.run([*cmd, "--version"], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "PYSTRAY_BACKEND": "dummy"})
    assert r.returncode == 0 and r.stdout.startswith("trayproxy ")
