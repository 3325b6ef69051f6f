"""Accounts other tools signed in, read from their files: Antigravity-Manager and CLIProxyAPI.

1. Where: Antigravity-Manager keeps its data in `~/.antigravity_tools` (or `$ABV_DATA_DIR` when
   set and not blank), one file per account in `accounts/<uuid>.json`; its `accounts.json` index
   is rebuilt by Antigravity-Manager from those files, so the files are what is read.
   CLIProxyAPI keeps its credentials in `~/.cli-proxy-api` (its `auth-dir`), every `*.json` below
   it, told apart by their `type`; Antigravity's are `antigravity-<email>.json` with
   `"type": "antigravity"`. A PATH given by the person may be either folder, any folder holding
   such files, or one file: each file is recognised by what it holds.
2. What: the refresh token, the e-mail, the Cloud Code project, and whether the tool had the
   account switched off (Antigravity-Manager: `disabled`, or `proxy_disabled` for "not in the
   proxy"; CLIProxyAPI: `disabled`), which the import keeps.
3. Files are only ever opened for reading, and a file that cannot be used (not JSON, another
   provider's credential, no refresh token, too big) becomes a `Found` with `skip` saying why,
   never an exception. The walk stays inside the folder (no symlinked folders, bounded depth and
   count). Refresh tokens stay in memory: never in `repr`, a message or the JSON for the page.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["AM", "CPA", "Found", "Source", "default_sources", "scan", "read_account_file", "shown_path"]

AM = "Antigravity-Manager"
CPA = "CLIProxyAPI"
MAX_FILE = 1024 * 1024  # an account file is a few KB; anything this big is something else
MAX_FILES = 5000
MAX_DEPTH = 8


@dataclass
class Found:
    """One file that looked like an account: what it holds, or `skip`, why it cannot be used."""

    source: str  # AM | CPA
    path: Path
    email: str | None = None
    refresh_token: str | None = field(default=None, repr=False)
    project: str | None = None
    disabled: bool = False
    disabled_note: str | None = None  # what the tool said about it being off
    oauth_client: str | None = None  # Antigravity-Manager's oauth_client_key, when not the default
    skip: str | None = None

    @property
    def key(self) -> str:
        """Identifies the file between a scan and the import the person then chooses."""
        return f"{self.source}:{self.path}"

    def describe(self) -> dict[str, Any]:
        """What the page and the CLI may see (no token)."""
        return {"key": self.key, "source": self.source, "path": str(self.path), "shown_path": shown_path(self.path),
                "email": self.email, "project": self.project, "disabled": self.disabled,
                "disabled_note": self.disabled_note, "skip": self.skip}


@dataclass
class Source:
    """A place looked at: a tool's folder (found or not) or the PATH the person gave."""

    name: str  # AM | CPA | "folder" | "file"
    root: Path
    exists: bool
    found: list[Found] = field(default_factory=list)
    note: str | None = None  # e.g. "no accounts folder", "more than 5000 files: the rest not read"

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "root": str(self.root), "shown_root": shown_path(self.root),
                "exists": self.exists, "note": self.note, "files": len(self.found)}


def shown_path(path: Path) -> str:
    """The path as a person reads it: ~ for the home folder."""
    try:
        return "~/" + str(path.relative_to(Path.home())) if path.is_relative_to(Path.home()) else str(path)
    except (RuntimeError, ValueError):
        return str(path)


def default_sources(env: Mapping[str, str] | None = None, home: Path | None = None) -> list[tuple[str, Path]]:
    """Where Antigravity-Manager and CLIProxyAPI keep their accounts on this machine."""
    env = os.environ if env is None else env
    home = home or Path.home()
    am = (env.get("ABV_DATA_DIR") or "").strip()
    return [(AM, Path(am).expanduser() if am else home / ".antigravity_tools"), (CPA, home / ".cli-proxy-api")]


def scan(path: Path | None = None, *, env: Mapping[str, str] | None = None, home: Path | None = None) -> list[Source]:
    """Read the default places (path None) or the one the person named. Never raises for what
    is in the files; only reads."""
    if path is None:
        return [_scan_tool(name, root) for name, root in default_sources(env, home)]
    path = path.expanduser().resolve()
    if path.is_file():
        found = read_account_file(path)
        return [Source("file", path, True, [found])]
    if not path.is_dir():
        return [Source("folder", path, False, note="no such file or folder")]
    if _looks_like_am(path):
        return [_scan_tool(AM, path)]
    return [_walk(Source("folder", path, True), path)]


def _looks_like_am(root: Path) -> bool:
    return (root / "accounts").is_dir() or (root / "accounts.json").is_file()


def _scan_tool(name: str, root: Path) -> Source:
    if not root.is_dir():
        return Source(name, root, False)
    if name == AM:
        src, folder = Source(name, root, True), root / "accounts"
        if not folder.is_dir():
            src.note = "no accounts folder: Antigravity-Manager keeps one file per account in accounts/"
            return src
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".json" and p.is_file())
        src.found = [read_account_file(p, expect=AM) for p in files[:MAX_FILES]]
        if len(files) > MAX_FILES:
            src.note = f"more than {MAX_FILES} files: the rest were not read"
        return src
    return _walk(Source(name, root, True), root)


def _walk(src: Source, root: Path) -> Source:
    """Every *.json below root (CLIProxyAPI reads its folder this way), in a stable order."""
    files: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        depth = len(Path(dirpath).relative_to(root).parts)
        dirnames[:] = sorted(d for d in dirnames if depth < MAX_DEPTH)
        files += [Path(dirpath, f) for f in sorted(filenames) if f.lower().endswith(".json")]
        if len(files) > MAX_FILES:
            src.note = f"more than {MAX_FILES} files: the rest were not read"
            break
    expect = src.name if src.name in (AM, CPA) else None
    src.found = [read_account_file(p, expect=expect) for p in files[:MAX_FILES]]
    return src


def read_account_file(path: Path, *, expect: str | None = None) -> Found:
    """One file, read only. `expect`: which tool's folder it came from (a file in Antigravity-
    Manager's accounts/ folder is that tool's, whatever it holds)."""
    source = expect or CPA
    try:
        size = path.stat().st_size
        if size > MAX_FILE:
            return Found(source, path, skip=f"too large for an account file ({size // 1024} KiB)")
        raw = path.read_bytes()
    except OSError as e:
        return Found(source, path, skip=f"cannot be read: {e.strerror or e}")
    text = raw.decode("utf-8", "replace").lstrip("\ufeff\x00")
    if not text.strip():
        return Found(source, path, skip="empty file")
    try:
        data = json.loads(text)
    except ValueError as e:
        where = f" (line {e.lineno}, column {e.colno})" if isinstance(e, json.JSONDecodeError) else ""
        return Found(source, path, skip=f"not valid JSON{where}")
    if not isinstance(data, dict):
        return Found(source, path, skip="not an account file (no JSON object)")
    if isinstance(data.get("token"), dict) or expect == AM:
        return _am_account(path, data)
    if "type" in data:
        return _cpa_credential(path, data)
    if isinstance(data.get("accounts"), list) and "version" in data:
        return Found(AM, path, skip="Antigravity-Manager's index (its account files are read instead)")
    return Found(source, path, skip="not an Antigravity-Manager or CLIProxyAPI account file")


def _text(v: Any) -> str | None:
    return v.strip() if isinstance(v, str) and v.strip() else None


def _am_account(path: Path, d: dict[str, Any]) -> Found:
    raw = d.get("token")
    token: dict[str, Any] = raw if isinstance(raw, dict) else {}
    f = Found(AM, path, email=_text(d.get("email")) or _text(token.get("email")),
              refresh_token=_text(token.get("refresh_token")), project=_text(token.get("project_id")))
    client = _text(token.get("oauth_client_key"))
    f.oauth_client = client if client and client != "antigravity_enterprise" else None
    if d.get("disabled") is True:
        f.disabled = True
        f.disabled_note = _text(d.get("disabled_reason")) or "disabled"
    elif d.get("proxy_disabled") is True:
        f.disabled = True
        f.disabled_note = "excluded from the proxy" + (
            f", {r}" if (r := _text(d.get("proxy_disabled_reason"))) else "")
    if not token:
        f.skip = "not an Antigravity-Manager account file (no token)"
    elif not f.refresh_token:
        f.skip = "has no refresh token"
    return f


def _cpa_credential(path: Path, d: dict[str, Any]) -> Found:
    kind = d.get("type")
    if kind != "antigravity":
        return Found(CPA, path, email=_text(d.get("email")),
                     skip=f'a CLIProxyAPI "{kind}" credential, not an Antigravity one' if isinstance(kind, str)
                     else "a CLIProxyAPI file without a usable type")
    email = _text(d.get("email"))
    label = _text(d.get("label"))
    f = Found(CPA, path, email=email or (label if label and "@" in label else None),
              refresh_token=_text(d.get("refresh_token")), project=_text(d.get("project_id")))
    if d.get("disabled") is True:
        f.disabled, f.disabled_note = True, "disabled"
    if not f.refresh_token:
        f.skip = "has no refresh token"
    return f
