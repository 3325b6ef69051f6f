"""Start trayproxy at login ("start at login"), per platform, for the installation that is running.

- Linux and other XDG desktops: a desktop entry in `$XDG_CONFIG_HOME/autostart` (default
  `~/.config/autostart`), per the XDG Desktop Application Autostart spec. If a system-wide entry
  of the same name exists in `$XDG_CONFIG_DIRS/autostart`, disabling writes a user copy with
  `Hidden=true` (the spec's way to switch it off); otherwise disabling deletes the user file.
- macOS: a LaunchAgent plist in `~/Library/LaunchAgents/<LABEL>.plist`, loaded by launchd at the
  next login. Nothing is loaded or unloaded now: `launchctl bootout` would kill the running app.
- Windows: a value in `HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run`. A user who switched
  the entry off in Task Manager's Startup tab (the `StartupApproved\\Run` value) is reported as
  disabled, and enabling clears that switch.

The command registered is the one that launches *this* installation: the frozen executable of a
PyInstaller build, the `trayproxy` script of a venv or pipx install (the `trayproxy-gui`
gui-script on Windows, so no console window opens), else `python -m trayproxy`.

This module is separate from the `auto_start` setting in config.json, which means "start the
proxy when the app launches"; the tray app honours that one.

No display library is imported here: `trayproxy autostart` works headless, and `winreg` is
imported only on the Windows code path (tests inject a stand-in).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import sysconfig
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from trayproxy.fileio import atomic_write

__all__ = [
    "APP_ID",
    "LAUNCH_AGENT_LABEL",
    "RUN_KEY",
    "AutostartError",
    "AutostartStatus",
    "Backend",
    "backend_for",
    "cli",
    "desktop_entry",
    "desktop_exec_quote",
    "desktop_exec_split",
    "disable",
    "enable",
    "launch_command",
    "launch_agent",
    "platform_name",
    "status",
    "windows_cmdline_split",
]

APP_ID = "trayproxy"
DESKTOP_FILE = f"{APP_ID}.desktop"
LAUNCH_AGENT_LABEL = "io.github.trayproxy"
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
STARTUP_APPROVED_KEY = r"Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run"


class AutostartError(Exception):
    """Start-at-login could not be read or changed; the message says where and why."""


@dataclass(frozen=True)
class AutostartStatus:
    """What the settings page and `trayproxy autostart status` show.

    `command` is the registered command when enabled, otherwise the command `enable()` would
    register. `stale` means an entry exists but launches something else than this installation
    (an older install, a moved venv); `enable()` rewrites it.
    """

    enabled: bool
    path_or_key: str
    command: list[str]
    platform: str
    stale: bool = False
    note: str = ""
    current_command: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- which command launches this installation ---------------------------------------------------


def platform_name(platform: str | None = None) -> str:
    """`linux`, `macos` or `windows` for `sys.platform`-style names; other Unixes use XDG (`xdg`)."""
    p = sys.platform if platform is None else platform
    if p in ("linux", "macos", "windows", "xdg"):
        return p
    if p.startswith("linux"):
        return "linux"
    if p == "darwin":
        return "macos"
    if p == "win32":
        return "windows"
    return "xdg"  # FreeBSD, Cygwin, ...: XDG autostart


def launch_command(
    *,
    platform: str | None = None,
    executable: str | None = None,
    frozen: bool | None = None,
    scripts_dirs: Sequence[str | os.PathLike[str]] | None = None,
) -> list[str]:
    """The argv that starts the tray app of the installation running this code.

    Parameters default to the running interpreter; tests pass them to exercise each case.
    """
    plat = platform_name(platform)
    exe = Path(sys.executable if executable is None else executable)
    is_frozen = bool(getattr(sys, "frozen", False)) if frozen is None else frozen
    if is_frozen:
        # A Windows build may ship a console twin (trayproxy-cli.exe) for the CLI; login should
        # start the windowed app next to it, never a console window.
        if plat == "windows" and exe.stem.lower().endswith("-cli"):
            gui = exe.with_name(exe.stem[: -len("-cli")] + exe.suffix)
            if gui.is_file():
                return [str(gui)]
        return [str(exe)]

    if scripts_dirs is None:
        dirs = [exe.parent]
        if executable is None:  # the running interpreter's own scripts directory
            try:
                dirs.append(Path(sysconfig.get_path("scripts")))
            except KeyError:  # pragma: no cover - exotic install schemes
                pass
    else:
        dirs = [Path(d) for d in scripts_dirs]
    if plat == "windows":
        dirs += [d / "Scripts" for d in list(dirs)]
        names = ["trayproxy-gui.exe", "trayproxy.exe"]
    else:
        names = ["trayproxy"]
    for name in names:
        for d in dirs:
            script = d / name
            if script.is_file() and (plat == "windows" or os.access(script, os.X_OK)):
                return [str(script)]
    if plat == "windows":
        pythonw = exe.with_name("pythonw.exe")
        if pythonw.is_file():
            return [str(pythonw), "-m", APP_ID]
    return [str(exe), "-m", APP_ID]


# -- Linux / XDG --------------------------------------------------------------------------------

# Characters that force an Exec argument into double quotes (Desktop Entry spec, "The Exec key").
_EXEC_RESERVED = frozenset(" \t\n\"'\\><~|&;$*?#()`")
# Inside double quotes these take a backslash.
_EXEC_QUOTED_ESCAPES = frozenset('"`$\\')


def _escape_string_value(value: str) -> str:
    """The key-file escapes of a `string` value: backslash, newline, tab, carriage return."""
    return (
        value.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    )


def _unescape_string_value(value: str) -> str:
    out: list[str] = []
    it = iter(value)
    table = {"\\": "\\", "n": "\n", "t": "\t", "r": "\r", "s": " ", ";": ";"}
    for ch in it:
        if ch == "\\":
            nxt = next(it, "")
            if nxt in table:
                out.append(table[nxt])
            else:  # keep unknown escapes as written, as GLib does for Exec
                out.append("\\" + nxt)
        else:
            out.append(ch)
    return "".join(out)


def desktop_exec_quote(argv: Sequence[str]) -> str:
    """The value of `Exec=` for `argv`, as it is written in the file.

    Like `shlex.join`, but with the desktop entry rules: an argument with a reserved character is
    put in double quotes with `"`, `` ` ``, `$` and `\\` backslash-escaped; `%` is doubled (field
    codes); then the string-value escapes apply (so a literal backslash becomes four).
    """
    if not argv:
        raise ValueError("empty command")
    parts: list[str] = []
    for arg in argv:
        a = arg.replace("%", "%%")
        if a == "" or any(c in _EXEC_RESERVED for c in a):
            a = '"' + "".join("\\" + c if c in _EXEC_QUOTED_ESCAPES else c for c in a) + '"'
        parts.append(a)
    return _escape_string_value(" ".join(parts))


def desktop_exec_split(value: str) -> list[str]:
    """Parse an `Exec=` value (as written in the file) back into argv; field codes are dropped."""
    s = _unescape_string_value(value)
    args: list[str] = []
    cur: list[str] = []
    have = False
    i = 0
    while i < len(s):
        c = s[i]
        if c == '"':
            have = True
            i += 1
            while i < len(s) and s[i] != '"':
                if s[i] == "\\" and i + 1 < len(s) and s[i + 1] in _EXEC_QUOTED_ESCAPES:
                    i += 1
                cur.append(s[i])
                i += 1
            i += 1  # closing quote
            continue
        if c in " \t\n":
            if have:
                args.append("".join(cur))
                cur, have = [], False
            i += 1
            continue
        have = True
        cur.append(c)
        i += 1
    if have:
        args.append("".join(cur))
    # undo %% and drop field codes (%f, %U, ...)
    result: list[str] = []
    for a in args:
        out: list[str] = []
        j = 0
        while j < len(a):
            if a[j] == "%" and j + 1 < len(a):
                if a[j + 1] == "%":
                    out.append("%")
                j += 2
                continue
            out.append(a[j])
            j += 1
        if out or a == "":
            result.append("".join(out))
    return result


def _icon_value() -> str:
    """An absolute icon path when this build or checkout has one, else the icon-theme name."""
    bases = [getattr(sys, "_MEIPASS", None), Path(__file__).resolve().parent.parent]
    for base in bases:
        if base:
            png = Path(base) / "assets" / "trayproxy-256.png"
            if png.is_file():
                return str(png)
    return APP_ID


def desktop_entry(command: Sequence[str], icon: str | None = None) -> str:
    """The autostart desktop entry that runs `command` at login."""
    lines = [
        "[Desktop Entry]",
        "Type=Application",
        "Version=1.4",
        "Name=trayproxy",
        "GenericName=LLM API gateway",
        "Comment=Local LLM API gateway in your tray",
        f"Exec={desktop_exec_quote(command)}",
    ]
    if os.path.isabs(command[0]):
        # If the installation is removed, the session skips the entry instead of failing.
        lines.append(f"TryExec={_escape_string_value(command[0])}")
    lines += [
        f"Icon={_escape_string_value(icon or _icon_value())}",
        "Terminal=false",
        "Categories=Network;",
        "StartupNotify=false",
        "X-GNOME-Autostart-enabled=true",
        "",
    ]
    return "\n".join(lines)


def _read_desktop_entry(path: Path) -> dict[str, str]:
    """Keys of the `[Desktop Entry]` group (raw values, not unescaped)."""
    keys: dict[str, str] = {}
    group = None
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            group = line[1:-1]
            continue
        if group == "Desktop Entry" and "=" in line:
            k, v = line.split("=", 1)
            keys.setdefault(k.strip(), v.strip())
    return keys


def _entry_enabled(keys: Mapping[str, str]) -> bool:
    if keys.get("Hidden", "false").lower() == "true":
        return False
    return keys.get("X-GNOME-Autostart-enabled", "true").lower() != "false"


class Backend(Protocol):
    platform: str

    def status(self) -> AutostartStatus: ...

    def enable(self) -> AutostartStatus: ...

    def disable(self) -> AutostartStatus: ...


class XdgAutostart:
    """`$XDG_CONFIG_HOME/autostart/trayproxy.desktop`."""

    def __init__(self, command: Sequence[str], env: Mapping[str, str] | None = None,
                 home: Path | None = None, platform: str = "linux") -> None:
        env = os.environ if env is None else env
        home = Path(env.get("HOME") or Path.home()) if home is None else home
        config_home = env.get("XDG_CONFIG_HOME") or ""
        # The spec says a relative XDG_CONFIG_HOME is invalid and must be ignored.
        base = Path(config_home) if os.path.isabs(config_home) else home / ".config"
        self.path = base / "autostart" / DESKTOP_FILE
        dirs = [d for d in (env.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(":") if os.path.isabs(d)]
        self.system_paths = [Path(d) / "autostart" / DESKTOP_FILE for d in dirs]
        self.command = list(command)
        self.platform = platform

    def _system_entry(self) -> Path | None:
        return next((p for p in self.system_paths if p.is_file()), None)

    def status(self) -> AutostartStatus:
        try:
            effective = self.path if self.path.is_file() else self._system_entry()
            if effective is None:
                return AutostartStatus(False, str(self.path), self.command, self.platform,
                                       current_command=self.command)
            keys = _read_desktop_entry(effective)
        except OSError as e:
            raise AutostartError(f"cannot read {self.path}: {e.strerror or e}") from e
        enabled = _entry_enabled(keys)
        registered = desktop_exec_split(keys.get("Exec", "")) if enabled else self.command
        stale = enabled and registered != self.command
        note = ""
        if stale:
            note = "the login entry starts a different installation; enable again to point it at this one"
        if effective != self.path:
            note = (note + "; " if note else "") + f"system-wide entry {effective}"
        return AutostartStatus(enabled, str(effective), registered, self.platform, stale, note,
                               current_command=self.command)

    def enable(self) -> AutostartStatus:
        try:
            atomic_write(self.path, desktop_entry(self.command).encode("utf-8"), mode=0o644)
        except OSError as e:
            raise AutostartError(f"cannot write {self.path}: {e.strerror or e}") from e
        return self.status()

    def disable(self) -> AutostartStatus:
        try:
            if self._system_entry() is not None:
                # A system-wide entry can only be overridden by a hidden user copy.
                text = "[Desktop Entry]\nType=Application\nName=trayproxy\nHidden=true\n"
                atomic_write(self.path, text.encode("utf-8"), mode=0o644)
            else:
                self.path.unlink(missing_ok=True)
        except OSError as e:
            raise AutostartError(f"cannot remove {self.path}: {e.strerror or e}") from e
        return self.status()


# -- macOS --------------------------------------------------------------------------------------


def launch_agent(command: Sequence[str], label: str = LAUNCH_AGENT_LABEL) -> dict[str, Any]:
    """The LaunchAgent property list (as a dict) that starts `command` in the GUI session."""
    return {
        "Label": label,
        "ProgramArguments": list(command),
        "RunAtLoad": True,
        "ProcessType": "Interactive",
        "LimitLoadToSessionType": "Aqua",
    }


class LaunchAgent:
    """`~/Library/LaunchAgents/<label>.plist`."""

    platform = "macos"

    def __init__(self, command: Sequence[str], home: Path | None = None,
                 label: str = LAUNCH_AGENT_LABEL) -> None:
        home = Path.home() if home is None else home
        self.label = label
        self.path = home / "Library" / "LaunchAgents" / f"{label}.plist"
        self.command = list(command)

    def status(self) -> AutostartStatus:
        if not self.path.is_file():
            return AutostartStatus(False, str(self.path), self.command, self.platform,
                                   current_command=self.command)
        import plistlib  # macOS only (it brings xml.parsers.expat)

        try:
            data = plistlib.loads(self.path.read_bytes())
        except OSError as e:
            raise AutostartError(f"cannot read {self.path}: {e.strerror or e}") from e
        except Exception as e:  # plistlib raises InvalidFileException, ExpatError, ValueError...
            return AutostartStatus(False, str(self.path), self.command, self.platform,
                                   note=f"unreadable plist ({e}); enable again to rewrite it",
                                   current_command=self.command)
        args = data.get("ProgramArguments") if isinstance(data, dict) else None
        registered = [str(a) for a in args] if isinstance(args, list) else []
        enabled = bool(registered) and not data.get("Disabled", False)
        if not enabled:
            registered = self.command
        stale = enabled and registered != self.command
        note = "the login item starts a different installation; enable again to point it at this one" if stale else ""
        return AutostartStatus(enabled, str(self.path), registered, self.platform, stale, note,
                               current_command=self.command)

    def enable(self) -> AutostartStatus:
        import plistlib

        try:
            atomic_write(self.path, plistlib.dumps(launch_agent(self.command, self.label)), mode=0o644)
        except OSError as e:
            raise AutostartError(f"cannot write {self.path}: {e.strerror or e}") from e
        return self.status()

    def disable(self) -> AutostartStatus:
        try:
            self.path.unlink(missing_ok=True)
        except OSError as e:
            raise AutostartError(f"cannot remove {self.path}: {e.strerror or e}") from e
        return self.status()


# -- Windows ------------------------------------------------------------------------------------


def windows_cmdline_split(cmdline: str) -> list[str]:
    """Split a Windows command line the way the MS C runtime does (inverse of `list2cmdline`)."""
    args: list[str] = []
    cur: list[str] = []
    have = in_quotes = False
    i, n = 0, len(cmdline)
    while i < n:
        c = cmdline[i]
        if c == "\\":
            j = i
            while j < n and cmdline[j] == "\\":
                j += 1
            count = j - i
            if j < n and cmdline[j] == '"':
                cur.append("\\" * (count // 2))
                if count % 2:
                    cur.append('"')
                    i = j + 1
                else:
                    i = j
                have = True
            else:
                cur.append("\\" * count)
                have = True
                i = j
            continue
        if c == '"':
            if in_quotes and i + 1 < n and cmdline[i + 1] == '"':
                cur.append('"')  # "" inside quotes is a literal quote
                i += 2
                continue
            in_quotes = not in_quotes
            have = True
            i += 1
            continue
        if c in " \t" and not in_quotes:
            if have:
                args.append("".join(cur))
                cur, have = [], False
            i += 1
            continue
        cur.append(c)
        have = True
        i += 1
    if have:
        args.append("".join(cur))
    return args


class WindowsRun:
    """A value named `trayproxy` under `HKCU\\...\\CurrentVersion\\Run`."""

    platform = "windows"

    def __init__(self, command: Sequence[str], winreg: Any = None, value_name: str = APP_ID) -> None:
        if winreg is None:
            try:
                import winreg as _winreg  # only exists on Windows
            except ImportError as e:
                raise AutostartError("the Windows registry is not available on this system") from e
            winreg = _winreg
        self.winreg = winreg
        self.value_name = value_name
        self.command = list(command)
        self.where = f"HKEY_CURRENT_USER\\{RUN_KEY}\\{value_name}"

    def _query(self, key_path: str) -> Any:
        wr = self.winreg
        try:
            with wr.OpenKey(wr.HKEY_CURRENT_USER, key_path, 0, wr.KEY_READ) as k:
                return wr.QueryValueEx(k, self.value_name)[0]
        except FileNotFoundError:
            return None

    def _delete(self, key_path: str) -> None:
        wr = self.winreg
        try:
            with wr.OpenKey(wr.HKEY_CURRENT_USER, key_path, 0, wr.KEY_SET_VALUE) as k:
                wr.DeleteValue(k, self.value_name)
        except FileNotFoundError:
            pass

    def status(self) -> AutostartStatus:
        try:
            value = self._query(RUN_KEY)
            approved = self._query(STARTUP_APPROVED_KEY) if value is not None else None
        except OSError as e:
            raise AutostartError(f"cannot read {self.where}: {e}") from e
        if value is None:
            return AutostartStatus(False, self.where, self.command, self.platform,
                                   current_command=self.command)
        # Task Manager's Startup tab: first byte odd (0x03, 0x07...) means switched off.
        if isinstance(approved, (bytes, bytearray)) and approved and approved[0] & 1:
            return AutostartStatus(False, self.where, self.command, self.platform,
                                   note="switched off in Task Manager's Startup tab; enable again to switch it on",
                                   current_command=self.command)
        registered = windows_cmdline_split(str(value))
        stale = registered != self.command
        note = "the Run entry starts a different installation; enable again to point it at this one" if stale else ""
        return AutostartStatus(True, self.where, registered, self.platform, stale, note,
                               current_command=self.command)

    def enable(self) -> AutostartStatus:
        wr = self.winreg
        try:
            with wr.CreateKeyEx(wr.HKEY_CURRENT_USER, RUN_KEY, 0, wr.KEY_SET_VALUE) as k:
                wr.SetValueEx(k, self.value_name, 0, wr.REG_SZ, subprocess.list2cmdline(self.command))
            self._delete(STARTUP_APPROVED_KEY)  # undo a Task Manager "Disabled"
        except OSError as e:
            raise AutostartError(f"cannot write {self.where}: {e}") from e
        return self.status()

    def disable(self) -> AutostartStatus:
        try:
            self._delete(RUN_KEY)
            self._delete(STARTUP_APPROVED_KEY)
        except OSError as e:
            raise AutostartError(f"cannot remove {self.where}: {e}") from e
        return self.status()


# -- public API ---------------------------------------------------------------------------------


def backend_for(
    platform: str | None = None,
    *,
    command: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    home: Path | None = None,
    winreg: Any = None,
) -> Backend:
    """The start-at-login mechanism of `platform` (default: this OS), for `command`."""
    plat = platform_name(platform)
    cmd = list(command) if command is not None else launch_command(platform=plat)
    if plat == "macos":
        return LaunchAgent(cmd, home=home)
    if plat == "windows":
        return WindowsRun(cmd, winreg=winreg)
    return XdgAutostart(cmd, env=env, home=home, platform=plat)


def status(platform: str | None = None, *, command: Sequence[str] | None = None,
           env: Mapping[str, str] | None = None, home: Path | None = None,
           winreg: Any = None) -> AutostartStatus:
    """Whether trayproxy starts at login, where that is recorded, and with which command."""
    return backend_for(platform, command=command, env=env, home=home, winreg=winreg).status()


def enable(platform: str | None = None, *, command: Sequence[str] | None = None,
           env: Mapping[str, str] | None = None, home: Path | None = None,
           winreg: Any = None) -> AutostartStatus:
    """Start this installation at login (rewrites an existing entry). Raises AutostartError."""
    return backend_for(platform, command=command, env=env, home=home, winreg=winreg).enable()


def disable(platform: str | None = None, *, command: Sequence[str] | None = None,
            env: Mapping[str, str] | None = None, home: Path | None = None,
            winreg: Any = None) -> AutostartStatus:
    """Stop starting at login; disabling when not enabled is not an error. Raises AutostartError."""
    return backend_for(platform, command=command, env=env, home=home, winreg=winreg).disable()


def _show(st: AutostartStatus) -> str:
    return subprocess.list2cmdline(st.command) if st.platform == "windows" else shlex.join(st.command)


def cli(action: str, **kwargs: Any) -> int:
    """`trayproxy autostart enable|disable|status`: one line on stdout, 0 on success.

    Errors go to stderr with exit code 1; an unknown action gives 2. `status` exits 0 whether
    or not autostart is on (it is a query that worked).
    """
    try:
        if action == "enable":
            st = enable(**kwargs)
            print(f"autostart enabled: {st.path_or_key} starts `{_show(st)}` at login")
        elif action == "disable":
            before = status(**kwargs)
            st = disable(**kwargs)
            if not before.enabled:
                print(f"autostart was not enabled ({st.path_or_key}); nothing to do")
            elif st.platform in ("linux", "xdg") and Path(st.path_or_key).is_file():
                print(f"autostart disabled: {st.path_or_key} hides the system-wide entry")
            else:
                print(f"autostart disabled: removed {before.path_or_key}")
        elif action == "status":
            st = status(**kwargs)
            if st.enabled:
                line = f"autostart: enabled, {st.path_or_key} starts `{_show(st)}` at login"
            else:
                line = f"autostart: disabled (would write {st.path_or_key} to start `{_show(st)}`)"
            if st.note:
                line += f"; note: {st.note}"
            print(line)
        else:
            print(f"trayproxy: unknown autostart action {action!r}; use enable, disable or status",
                  file=sys.stderr)
            return 2
    except AutostartError as e:
        print(f"trayproxy: autostart {action} failed: {e}", file=sys.stderr)
        return 1
    return 0
