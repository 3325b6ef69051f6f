"""connect / undo / check for one client, the one implementation behind `trayproxy connect`, the
tray's Connect menu and the settings page's buttons.

connect: render the client's files with our settings merged in -> back up what is there ->
write -> read the files back as the client will -> round trip through the proxy -> run the
client once when it is installed. undo: the newest backup back, byte for byte. check: the last
three steps only."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trayproxy.connect import backup as backups
from trayproxy.connect import verify
from trayproxy.connect.base import Connector, Endpoint, Installed, blocker, check_folder, detect
from trayproxy.connect.claude_code import ClaudeCode
from trayproxy.connect.codex import Codex, CodexConfigError
from trayproxy.connect.gemini_cli import GeminiCli
from trayproxy.connect.jsonfile import JsonFileError
from trayproxy.connect.kilo import Kilo
from trayproxy.connect.opencode import OpenCode
from trayproxy.fileio import atomic_write
from trayproxy.i18n.message import N_, Message

__all__ = ["CLIENTS", "Result", "connect", "undo", "check", "status", "stale", "pointing", "ConnectError"]

CLIENTS: dict[str, Connector] = {c.id: c for c in (ClaudeCode(), Codex(), GeminiCli(), OpenCode(), Kilo())}


class ConnectError(Exception):
    pass


@dataclass
class Result:
    client: str
    title: str
    action: str
    ok: bool = False
    problem: str | None = None
    code: str | None = None  # what kind of problem, for the window's words: not_connected, no_backup
    files: list[str] = field(default_factory=list)
    backup: str | None = None
    unchanged: bool = False
    installed: Installed | None = None
    round_trip: verify.RoundTrip | None = None
    client_run: verify.ClientRun | None = None
    notes: list[str] = field(default_factory=list)  # English, as the CLI prints them
    # the window's words for notes[i] (connect/words.py says them in the tray's and the page's
    # language; a window user gets a button to press, not a command); a note without them is a
    # client's own setting, said as its file says it
    said: dict[int, Message] = field(default_factory=dict)

    def note(self, text: str | Message, window: Message | None = None) -> None:
        self.notes.append(str(text))
        if window is not None or isinstance(text, Message):
            self.said[len(self.notes) - 1] = window or text  # type: ignore[assignment]

    @property
    def model(self) -> str | None:
        return self.round_trip.model if self.round_trip else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "client": self.client, "title": self.title, "action": self.action, "ok": self.ok,
            "problem": self.problem, "code": self.code, "files": self.files, "backup": self.backup, "unchanged": self.unchanged,
            "model": self.model, "installed": self.installed.to_dict() if self.installed else None,
            "round_trip": self.round_trip.to_dict() if self.round_trip else None,
            "client_run": self.client_run.to_dict() if self.client_run else None, "notes": self.notes,
        }


def _connector(client: str) -> Connector:
    c = CLIENTS.get(client)
    if c is None:
        raise ConnectError(f"unknown client {client!r}; choose one of: {', '.join(CLIENTS)}")
    return c


def _redact(text: str | None, key: str) -> str | None:
    if text is None or not key:
        return text
    return text.replace(key, "sk-…")


def _verify(c: Connector, res: Result, env: Mapping[str, str], base_url: str | None, api_key: str | None,
            run_client: bool) -> None:
    res.installed = detect(c, env)
    if res.installed.newer_than_tested:
        res.note(N_("{client} {version} is newer than the newest version tested with trayproxy ({tested}); "
                    "if something breaks, tell us", client=c.title, version=str(res.installed.version),
                    tested=str(c.newest_tested)))
    if res.installed.problem:
        res.notes.append(res.installed.problem)
    try:
        ep = c.endpoint(env)
    except (JsonFileError, CodexConfigError) as e:
        res.problem = str(e)
        return
    if ep is None:
        res.problem = f"{c.title} is not connected (run `trayproxy connect {c.id}`)"
        res.code = "not_connected"
        return
    for n in ep.notes:
        res.note(n)
    for var in c.shell_overrides(env):
        res.note(N_("{var} is set in this shell and wins over the file for {client}; unset it", var=var, client=c.title))
    wrong = pointing(ep, base_url, api_key) if base_url is not None else None
    if wrong == "port":
        res.note(f"{c.title} points at {ep.base_url}, not at this proxy ({base_url}); "
                 f"connect again: trayproxy connect {c.id}",
                 N_("{client} points at {url}, not at this proxy ({proxy}): press Fix to connect it again.",
                    client=c.title, url=str(ep.base_url), proxy=str(base_url)))
    elif wrong == "key":
        res.note(f"the key in {c.title}'s settings is not the proxy's current key; "
                 f"connect again: trayproxy connect {c.id}",
                 N_("The key in {client}'s settings is not the proxy's current key: press Fix to connect it again.",
                    client=c.title))
    res.round_trip = verify.round_trip(ep)
    res.round_trip.problem = _redact(res.round_trip.problem, ep.api_key)
    if not res.round_trip.ok:
        res.problem = res.round_trip.problem
        return
    step = blocker(c, env, check_folder(env) / "project")
    if step is not None:  # the files are right, but the client will not use them yet: no ✓
        res.problem = step
        return
    if run_client and res.installed.binary:
        res.client_run = verify.run_client(c, res.installed.binary, env)
        res.client_run.problem = _redact(res.client_run.problem, ep.api_key)
        res.client_run.output = _redact(res.client_run.output, ep.api_key)
        if not res.client_run.ok:
            res.problem = res.client_run.problem
            return
    res.ok = True


def connect(client: str, *, base_url: str, api_key: str, backup_root: Path,
            env: Mapping[str, str] | None = None, run_client: bool = True,
            options: Mapping[str, str] | None = None) -> Result:
    """`options`: choices a client asks for (Gemini CLI: {"trust": "home" | "all"})."""
    c = _connector(client)
    env = os.environ if env is None else env
    res = Result(c.id, c.title, "connect")
    try:
        files = c.render(env, base_url, api_key, options)
    except (JsonFileError, CodexConfigError, OSError, UnicodeDecodeError) as e:
        res.problem = str(e)
        return res
    for n in files.notes:
        res.note(n)
    if files.contents:
        b = backups.take(backup_root, c.id, list(files.contents), written=files.contents, changes=files.changes)
        res.backup = str(b.folder)
        for path, data in files.contents.items():
            old_mode = path.stat().st_mode & 0o777 if path.exists() else None
            # a file that now holds the key is readable by its owner only
            atomic_write(path, data, mode=0o600 if old_mode is None else old_mode & 0o700 | 0o600)
            res.files.append(str(path))
    else:
        res.unchanged = True
    _verify(c, res, env, base_url, api_key, run_client)
    return res


def undo(client: str, *, backup_root: Path, env: Mapping[str, str] | None = None) -> Result:
    c = _connector(client)
    res = Result(c.id, c.title, "undo")
    b = backups.newest(backup_root, c.id)
    if b is None:
        res.problem = f"no backup of {c.title}'s settings to restore (connect was not run, or was undone)"
        res.code = "no_backup"
        return res
    try:
        done = backups.restore(b)
    except (backups.BackupError, OSError) as e:
        res.problem = str(e)
        return res
    res.files = [str(p) for p in done.touched]
    for k in done.kept:
        res.note(N_("kept as you changed it after connect: {setting}", setting=k))
    res.backup = str(b.folder)
    res.ok = True
    return res


def check(client: str, *, base_url: str | None, api_key: str | None,
          env: Mapping[str, str] | None = None, run_client: bool = True) -> Result:
    c = _connector(client)
    res = Result(c.id, c.title, "check")
    _verify(c, res, os.environ if env is None else env, base_url, api_key, run_client)
    return res


def pointing(ep: Endpoint | None, base_url: str, api_key: str | None) -> str | None:
    """What is wrong with a client's settings for this proxy: "port" (another address), "key"
    (another key), or None (it points here, or nowhere)."""
    if ep is None:
        return None
    if ep.base_url.rstrip("/") not in (base_url, f"{base_url}/v1"):
        return "port"
    if api_key is not None and ep.api_key != api_key:
        return "key"
    return None


def status(*, base_url: str, backup_root: Path, env: Mapping[str, str] | None = None,
           versions: bool = True, api_key: str | None = None) -> list[dict[str, Any]]:
    """Per client: installed (and version), whether its files point at this proxy, whether undo
    can, and `stale`: a client connect wrote (its backup is there) that now points at another
    port or carries another key ("port" / "key"), fixed by connecting it again."""
    env = os.environ if env is None else env
    out = []
    for c in CLIENTS.values():
        try:
            ep = c.endpoint(env)
        except (JsonFileError, CodexConfigError):
            ep = None
        wrong = pointing(ep, base_url, api_key)
        can_undo = backups.newest(backup_root, c.id) is not None
        inst = detect(c, env) if versions else None
        out.append({"client": c.id, "title": c.title, "connected": ep is not None and wrong in (None, "key"),
                    "can_undo": can_undo, "stale": wrong if can_undo else None,
                    "points_at": ep.base_url if ep is not None else None,
                    "installed": inst.to_dict() if inst else None})
    return out


def stale(*, base_url: str, api_key: str, backup_root: Path, env: Mapping[str, str] | None = None) -> list[str]:
    """The clients connect wrote that no longer point at this proxy (or carry an old key)."""
    return [r["client"] for r in status(base_url=base_url, backup_root=backup_root, env=env, versions=False,
                                        api_key=api_key) if r["stale"]]


def _when(folder: str | None) -> str:
    """A backup folder's name (UTC stamp) as a time a person reads."""
    name = Path(folder or "").name
    try:
        t = time.strptime(name[:15], "%Y%m%dT%H%M%S")
    except ValueError:
        return name
    return time.strftime("backup of %Y-%m-%d %H:%M:%S UTC", t)


def summary(res: Result) -> list[str]:
    """Human lines for the CLI and notifications."""
    lines: list[str] = []
    if res.action == "undo":
        if res.ok:
            lines.append(f"✓ {res.title}: settings restored as they were before connect ({_when(res.backup)})")
            lines.extend(f"  restored {f}" for f in res.files)
        else:
            lines.append(f"✗ {res.title}: {res.problem}")
        return lines
    if res.files:
        lines.extend(f"  wrote {f}" for f in res.files)
        lines.append(f"  backup in {res.backup} (undo: trayproxy connect {res.client} --undo)")
    elif res.unchanged:
        lines.append("  settings already in place, nothing written")
    inst = res.installed
    if inst is not None:
        lines.append(f"  installed: {inst.binary} {inst.version or ''}".rstrip() if inst.binary
                     else f"  {res.title} is not installed here (checked the proxy only)")
    rt = res.round_trip
    if rt is not None and rt.ok:
        lines.append(f"  round trip through the proxy: ok, {rt.model} answered ({rt.asked} asked)")
    cr = res.client_run
    if cr is not None and cr.ok:
        lines.append(f"  {res.title} itself answered: {cr.output!r}")
    lines.extend(f"  note: {n}" for n in res.notes)
    head = (f"✓ {res.title} is connected — {res.model} answered" if res.ok
            else f"✗ {res.title}: {res.problem}")
    return [head, *lines]
