"""What a client connector is: where a client keeps its settings, how to write ours into them, how
to read back what it will use, and how to run it once. One module per client implements it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from trayproxy.connect.edits import Change, Editor
from trayproxy.i18n.message import Message

__all__ = ["Endpoint", "Connector", "Installed", "detect", "home_dir", "parse_version", "newer_than", "blocker",
           "check_folder"]


@dataclass(frozen=True)
class Endpoint:
    """What a client will use after reading its files: where it sends requests, with which key,
    in which protocol, asking for which model (None: the client's own default)."""

    protocol: str  # "anthropic" | "openai-responses" | "openai-chat" | "gemini"
    base_url: str
    api_key: str
    model: str | None = None
    notes: tuple[str, ...] = ()

    def __repr__(self) -> str:  # the key never reaches a log line through a repr
        return f"Endpoint({self.protocol!r}, {self.base_url!r}, model={self.model!r})"


@dataclass
class Installed:
    binary: str | None
    version: str | None
    newest_tested: str
    newer_than_tested: bool = False
    problem: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"binary": self.binary, "version": self.version, "newest_tested": self.newest_tested,
                "newer_than_tested": self.newer_than_tested, "problem": self.problem}


@dataclass
class Files:
    """New contents for each file a connect writes (bytes), in the order they are written, and
    per file what changed in it (its format and the `edits.Change`s, for undo)."""

    contents: dict[Path, bytes] = field(default_factory=dict)
    notes: list[str | Message] = field(default_factory=list)  # a Message: said in the window's language too
    changes: dict[Path, tuple[str, list[Change]]] = field(default_factory=dict)

    def add(self, path: Path, before: str, editor: Editor) -> None:
        """The file's new text from `editor`, if it differs from `before`."""
        if editor.text != before:
            self.contents[path] = editor.text.encode("utf-8")
            self.changes[path] = (editor.fmt, list(editor.changes))


class Connector(Protocol):
    id: str
    title: str
    binary_name: str
    newest_tested: str

    def files(self, env: Mapping[str, str]) -> list[Path]:
        """The files this client reads that connect may write."""

    def render(self, env: Mapping[str, str], base_url: str, api_key: str,
               options: Mapping[str, str] | None = None) -> Files:
        """The new contents of those files: the user's own, with ours merged in (`options`: the
        user's choices a client asks for, e.g. Gemini CLI's folder trust)."""

    def endpoint(self, env: Mapping[str, str]) -> Endpoint | None:
        """What the client will use, read back from its files (None: not configured for us)."""

    def run_args(self, binary: str, prompt: str) -> list[str]:
        """One short non-interactive prompt."""

    def run_env(self, env: Mapping[str, str]) -> dict[str, str]:
        """The environment for that run: the user's, minus variables that would override the
        files just written (so the run proves the files)."""

    def shell_overrides(self, env: Mapping[str, str]) -> list[str]:
        """Variables in `env` that will override the files in the user's shell."""


def blocker(connector: Connector, env: Mapping[str, str], folder: Path) -> str | None:
    """A step left to the user before the client uses the proxy in `folder` (connectors that
    have one define `blocker`, e.g. Gemini CLI's folder trust)."""
    fn = getattr(connector, "blocker", None)
    result = fn(env, folder) if callable(fn) else None
    return result if isinstance(result, str) else None


def home_dir(env: Mapping[str, str]) -> Path:
    return Path(env.get("HOME") or env.get("USERPROFILE") or str(Path.home()))


def check_folder(env: Mapping[str, str]) -> Path:
    """Where a client is run to prove it works: a new folder under the user's home, as the user
    would start it in a project of theirs (nobody trusted it, it is not a git repository)."""
    base = env.get("XDG_CACHE_HOME") or str(home_dir(env) / ".cache")
    return Path(base) / "trayproxy" / "connect-check"


_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)")


def parse_version(text: str) -> tuple[int, int, int] | None:
    m = _VERSION.search(text)
    return (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


def newer_than(version: str, tested: str) -> bool:
    a, b = parse_version(version), parse_version(tested)
    return a is not None and b is not None and a > b


def find_binary(name: str, env: Mapping[str, str]) -> str | None:
    return shutil.which(name, path=env.get("PATH", os.defpath))


def detect(connector: Connector, env: Mapping[str, str]) -> Installed:
    binary = find_binary(connector.binary_name, env)
    inst = Installed(binary=binary, version=None, newest_tested=connector.newest_tested)
    if binary is None:
        return inst
    try:
        p = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=60,
                           env=dict(env), stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        inst.problem = f"`{connector.binary_name} --version` failed: {e}"
        return inst
    v = parse_version(p.stdout + " " + p.stderr)
    if v is None:
        inst.problem = f"`{connector.binary_name} --version` printed no version"
        return inst
    inst.version = ".".join(str(n) for n in v)
    inst.newer_than_tested = newer_than(inst.version, connector.newest_tested)
    return inst
