"""The client version trayproxy reports to Google, learned rather than frozen, and the one alarm
raised when Google refuses it.

Google decides by the User-Agent what an account may use (upstream-as-it-is §7): below a floor
the newest ids are left out of the catalog and answer 404, and a blocked version gets a 200 whose
only text is "This version of Antigravity is no longer supported...". Both the number and the
family count: `antigravity/hub/2.9.1 darwin/arm64` is served where `antigravity/hub/2.2.1` or
`antigravity/cli/...` is not (CPA and sub2api, research notes §3).

1. The version in use is the configured override when there is one (config `client_version`,
   env TRAYPROXY_CLIENT_VERSION); otherwise the highest of the local Antigravity installation
   (product.json's `ideVersion`, the app's package.json or Info.plist), the last value learned
   (kept in `client_version.json` in the data dir) and the built-in FLOOR.
2. `refresh()` reads the updater manifest (electron-builder YAML, its `version:`) through the
   transport and the local installation again; the Controller runs it on the engine loop at start
   and every REFRESH_INTERVAL. A higher number becomes the learned value. Requests never wait for
   it: `user_agent()` reads memory.
3. `refused()` / `gated()`: Google refused the version in use (a refusal text inside a 200, or the
   newest ids vanishing from a catalog after a 404). One alarm is kept (tray, page banner,
   `doctor`), saved with the learned value, and a refresh is started at once; a new version in
   use ends the alarm.

Files are read and written in worker threads; every change of state happens on the engine loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from trayproxy.config import DEFAULT_CLIENT_VERSION_URL
from trayproxy.fileio import atomic_write
from trayproxy.upstream.transport import Timeouts, Transport, TransportError, UpstreamRequest

__all__ = ["FLOOR", "PLATFORM", "REFRESH_INTERVAL", "MANIFEST_URL", "VersionAlarm", "ClientIdentity",
           "parse_version", "manifest_version", "install_candidates", "read_install_version", "read_state",
           "user_agent_for", "choose_version"]

log = logging.getLogger("trayproxy.client_version")

#: The lowest version trayproxy reports (CPA's floor since 2026-08-22, a834917e8: Google serves the
#: newest ids only from 2.9.0 on). A default: the updater and the local installation raise it.
FLOOR = "2.9.1"
#: CPA sends this platform whatever the host OS; odd platform strings have turned accounts to 403.
PLATFORM = "darwin/arm64"
REFRESH_INTERVAL = 3 * 3600.0
#: Antigravity's updater manifest (electron-builder), as CPA reads it (config `client_version_url`).
MANIFEST_URL = DEFAULT_CLIENT_VERSION_URL
_ALARM_REFRESH_GAP = 300.0  # an alarm starts a refresh, at most this often
_MANIFEST_LIMIT = 64 * 1024
_VERSION_RE = re.compile(r"^\d{1,4}\.\d{1,4}\.\d{1,6}$")
_YAML_VERSION_RE = re.compile(r"^version:\s*['\"]?(\d+\.\d+\.\d+)['\"]?\s*$", re.M)


def parse_version(text: Any) -> tuple[int, int, int] | None:
    """'2.9.1' -> (2, 9, 1); anything but exactly three numbers -> None."""
    if not isinstance(text, str) or not _VERSION_RE.match(text.strip()):
        return None
    a, b, c = (int(x) for x in text.strip().split("."))
    return a, b, c


def _text(v: tuple[int, int, int]) -> str:
    return ".".join(str(x) for x in v)


def manifest_version(body: str) -> str | None:
    """The `version:` of an electron-builder update manifest (YAML), when it is x.y.z."""
    m = _YAML_VERSION_RE.search(body)
    return m.group(1) if m and parse_version(m.group(1)) else None


def user_agent_for(version: str) -> str:
    return f"antigravity/hub/{version} {PLATFORM}"


def choose_version(override: str, learned: str | None, installed: str | None) -> tuple[str, str]:
    """(version, where it came from): the override when it is a version, else the highest of the
    installation, the learned value and the floor ("override" / "installation" / "updater" /
    "floor")."""
    if parse_version(override.strip()):
        return override.strip(), "override"
    found = [(v, s) for v, s in ((installed, "installation"), (learned, "updater"), (FLOOR, "floor"))
             if parse_version(v)]
    best = max(found, key=lambda x: parse_version(x[0]) or (0, 0, 0))
    return str(best[0]), best[1]


def install_candidates(env: dict[str, str] | None = None) -> list[Path]:
    """Where an Antigravity installation keeps its version, for this OS (ACP's product.json
    places, the app's own package.json / Info.plist). TRAYPROXY_ANTIGRAVITY_INSTALL names one
    more file (product.json, package.json or Info.plist)."""
    env = dict(os.environ) if env is None else env
    home = Path(env.get("HOME") or Path.home())
    out: list[Path] = []
    if env.get("TRAYPROXY_ANTIGRAVITY_INSTALL"):
        out.append(Path(env["TRAYPROXY_ANTIGRAVITY_INSTALL"]))
    if sys.platform == "darwin":
        for apps in (Path("/Applications"), home / "Applications"):
            app = apps / "Antigravity.app" / "Contents"
            out += [app / "Resources" / "app" / "product.json", app / "Info.plist"]
    elif sys.platform == "win32":
        for base in (env.get("LOCALAPPDATA", "") and Path(env["LOCALAPPDATA"]) / "Programs",
                     env.get("ProgramFiles", "") and Path(env["ProgramFiles"])):
            if base:
                app = Path(base) / "Antigravity" / "resources" / "app"
                out += [app / "product.json", app / "package.json"]
    else:
        for root in (Path("/usr/share/antigravity"), Path("/opt/antigravity"), Path("/opt/Antigravity"),
                     home / ".local/share/antigravity", Path("/snap/antigravity/current"),
                     Path("/usr/share/Antigravity")):
            app = root / "resources" / "app"
            out += [app / "product.json", app / "package.json"]
    return out


def read_install_version(paths: list[Path]) -> str | None:
    """(Blocking.) The highest Antigravity version the installation files name: product.json's
    `ideVersion` (its `version` is the VS Code base, not Antigravity's), package.json's
    `version`, Info.plist's CFBundleShortVersionString."""
    found: list[tuple[int, int, int]] = []
    for p in paths:
        try:
            raw = p.read_bytes()
        except OSError:
            continue
        value: Any = None
        try:
            if p.name.endswith(".plist"):
                import plistlib  # only for a plist there to read (the idle tray imports no more than it needs)

                value = plistlib.loads(raw).get("CFBundleShortVersionString")
            else:
                data = json.loads(raw)
                if isinstance(data, dict):
                    value = data.get("ideVersion") if p.name == "product.json" else data.get("version")
        except (ValueError, AttributeError):  # plistlib.InvalidFileException is a ValueError
            continue
        v = parse_version(value)
        if v is not None:
            found.append(v)
    return _text(max(found)) if found else None


@dataclass(frozen=True)
class VersionAlarm:
    """Google refused the client version: `kind` "refused" (a refusal text inside a 200) or
    "gated" (the newest ids vanished from a catalog after a 404); Google's own words when it
    gave any, and the model it was about."""

    kind: str
    version: str
    text: str
    model: str | None
    at: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_state(path: Path) -> dict[str, Any]:
    """(Blocking.) client_version.json as saved: {} when missing or unreadable."""
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class ClientIdentity:
    """What trayproxy says it is to Google; see the module comment. Lives on the engine loop."""

    def __init__(self, transport: Transport, *, override: Callable[[], str] = lambda: "",
                 manifest_url: Callable[[], str] = lambda: MANIFEST_URL, state_file: Path | None = None,
                 install_files: Callable[[], list[Path]] = lambda: [],
                 clock: Callable[[], float] = time.time) -> None:
        self.transport = transport
        self._override = override
        self._manifest_url = manifest_url
        self._state_file = state_file
        self._install_files = install_files
        self.clock = clock
        self.learned: str | None = None  # from the updater (or saved from an earlier run)
        self.installed: str | None = None  # from the local Antigravity installation
        self.updater: str | None = None  # what the updater said last
        self.checked_at: float | None = None
        self.check_error: str | None = None
        self._alarm: VersionAlarm | None = None
        self.on_change: Callable[[], None] | None = None
        self._last_alarm_refresh = -1e9
        self._refreshing: asyncio.Task[None] | None = None
        self._chosen: tuple[tuple[str, str | None, str | None], tuple[str, str]] | None = None  # memo
        self._ua: tuple[str, str] | None = None

    # -- what is in use ----------------------------------------------------------------------
    def _choice(self) -> tuple[str, str]:
        """(version, source), worked out again only when what it is chosen from changed (every
        request asks for the User-Agent)."""
        key = (self._override(), self.learned, self.installed)
        memo = self._chosen
        if memo is None or memo[0] != key:
            memo = self._chosen = (key, choose_version(*key))
        return memo[1]

    @property
    def version(self) -> str:
        return self._choice()[0]

    @property
    def source(self) -> str:
        """Where the version in use came from: override, installation, updater or floor."""
        return self._choice()[1]

    def user_agent(self) -> str:
        key = self._choice()
        ua = self._ua
        if ua is None or ua[0] != key[0]:
            ua = self._ua = (key[0], user_agent_for(key[0]))
        return ua[1]

    @property
    def alarm(self) -> VersionAlarm | None:
        """Google's refusal of the version in use (one about another version is over)."""
        a = self._alarm
        return a if a is not None and a.version == self.version else None

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "source": self.source, "user_agent": self.user_agent(),
                "floor": FLOOR, "installed": self.installed, "updater": self.updater,
                "checked_at": self.checked_at, "check_error": self.check_error,
                "alarm": self.alarm.to_dict() if self.alarm else None}

    def _changed(self) -> None:
        if self.on_change is not None:
            try:
                self.on_change()
            except Exception:  # a listener's trouble is not the caller's
                log.exception("client version listener failed")

    # -- learning ----------------------------------------------------------------------------
    async def load(self) -> None:
        """The saved state and the local installation (files read in a worker thread)."""
        state, installed = await asyncio.to_thread(self._read_files)
        self.installed = installed
        if parse_version(state.get("learned")):
            self.learned = str(state["learned"])
        self.updater = state.get("updater") if parse_version(state.get("updater")) else None
        self.checked_at = state.get("checked_at") if isinstance(state.get("checked_at"), (int, float)) else None
        alarm = state.get("alarm")
        if isinstance(alarm, dict) and isinstance(alarm.get("version"), str):
            model, at = alarm.get("model"), alarm.get("at")
            self._alarm = VersionAlarm(str(alarm.get("kind") or "refused"), alarm["version"],
                                       str(alarm.get("text") or ""), model if isinstance(model, str) else None,
                                       float(at) if isinstance(at, (int, float)) else self.clock())

    def _read_files(self) -> tuple[dict[str, Any], str | None]:
        state = read_state(self._state_file) if self._state_file is not None else {}
        return state, read_install_version(self._install_files())

    async def refresh(self) -> str:
        """Read the updater manifest and the installation again; returns the version in use. A
        failed read keeps what is known (and says why in `check_error`)."""
        before = self.version
        url = self._manifest_url().strip()
        self.installed = await asyncio.to_thread(read_install_version, self._install_files())
        if url:
            try:
                found = await self._fetch(url)
            except (TransportError, ValueError) as e:
                self.check_error = str(e)
                log.info("the Antigravity updater could not be read: %s", e)
            else:
                self.check_error = None
                self.updater = found
                cur = parse_version(self.learned)
                new = parse_version(found)
                if new is not None and (cur is None or new > cur):
                    self.learned = found
        self.checked_at = self.clock()
        after = self.version
        if after != before:
            log.info("client version %s -> %s (%s)", before, after, self.source)
            self._alarm = None  # a new version deserves a new verdict
        await self._save()
        self._changed()
        return after

    async def _fetch(self, url: str) -> str:
        resp = await self.transport.send(UpstreamRequest(
            "GET", url, {"User-Agent": "electron-builder", "Cache-Control": "no-cache"}, None,
            Timeouts(connect=10.0, read=10.0)))
        body = await resp.read(limit=_MANIFEST_LIMIT)
        if resp.status != 200:
            raise ValueError(f"the updater answered HTTP {resp.status}")
        found = manifest_version(body.decode("utf-8", "replace"))
        if found is None:
            raise ValueError("the updater's manifest names no version")
        return found

    async def _save(self) -> None:
        if self._state_file is None:
            return
        data = {"learned": self.learned, "updater": self.updater, "checked_at": self.checked_at,
                "alarm": self.alarm.to_dict() if self.alarm else None}
        path = self._state_file
        try:
            await asyncio.to_thread(atomic_write, path, (json.dumps(data, indent=2) + "\n").encode())
        except OSError as e:
            log.warning("%s could not be written: %s", path, e)

    # -- Google said no ----------------------------------------------------------------------
    def refused(self, text: str, model: str | None) -> VersionAlarm:
        """A refusal text inside a 200 ("no longer supported", "not available on this version")."""
        return self._raise("refused", text, model)

    def gated(self, model: str) -> VersionAlarm:
        """The newest id of a family vanished from the catalog after a 404: Google's gate."""
        return self._raise("gated", "", model)

    def _raise(self, kind: str, text: str, model: str | None) -> VersionAlarm:
        version = self.version
        current = self.alarm
        if current is None or (current.kind == "gated" and kind == "refused"):
            self._alarm = current = VersionAlarm(kind, version, text[:300], model, self.clock())
            log.warning("Google refused client version %s (%s): %s", version, kind, text or model)
            self._changed()
            if self._state_file is not None:
                asyncio.ensure_future(self._save())
        now = self.clock()
        if now - self._last_alarm_refresh >= _ALARM_REFRESH_GAP and (
                self._refreshing is None or self._refreshing.done()):
            self._last_alarm_refresh = now
            self._refreshing = asyncio.ensure_future(self._quiet_refresh())
        return current

    async def settled(self) -> None:
        """Wait for the refresh an alarm started, if one runs (tests, shutdown)."""
        task = self._refreshing
        if task is not None and not task.done():
            await asyncio.shield(task)

    async def _quiet_refresh(self) -> None:
        try:
            await self.refresh()
        except Exception:
            log.exception("client version refresh failed")
