"""Where the npm-installed client CLIs (Claude Code, Codex, Gemini CLI) are, if anywhere.

Two sets: "pinned" (the versions .ci/run pins, in ~/.cache/trayproxy-clients, or
$TRAYPROXY_NPM_CLIENTS) and "newest" (whatever npm had as latest when .ci/run ran, in
~/.cache/trayproxy-clients-latest, or $TRAYPROXY_NPM_CLIENTS_LATEST). End-to-end client tests are
parametrized over CLIENT_SETS. A test skips when its client is missing, and the "newest" run skips
when the newest is the pinned version (it would only repeat the pinned run)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

__all__ = ["CLIENT_SETS", "PACKAGES", "find_cli", "client_dirs", "package_version"]

CLIENT_SETS = ("pinned", "newest")
PACKAGES = {"claude": "@anthropic-ai/claude-code", "codex": "@openai/codex", "gemini": "@google/gemini-cli"}


_CACHE = Path.home() / ".cache"  # at import: tests that point HOME elsewhere still find the clients


def client_dirs(which: str) -> list[str]:
    home = _CACHE
    if which == "newest":
        return [d for d in (os.environ.get("TRAYPROXY_NPM_CLIENTS_LATEST", ""), str(home / "trayproxy-clients-latest")) if d]
    return [d for d in (os.environ.get("TRAYPROXY_NPM_CLIENTS", ""), str(home / "trayproxy-clients"), "/opt/npmclients") if d]


def package_version(d: str | Path, name: str) -> str | None:
    try:
        return str(json.loads((Path(d) / "node_modules" / PACKAGES[name] / "package.json").read_text())["version"])
    except (OSError, ValueError, KeyError):
        return None


def _in(which: str, name: str) -> tuple[str, str] | None:
    for d in client_dirs(which):
        p = Path(d) / "node_modules" / ".bin" / name
        if p.exists():
            return str(p), d
    return None


def find_cli(name: str, which: str = "pinned") -> str:
    found = _in(which, name)
    if which == "newest":
        if found is None:
            pytest.skip(f"newest {name} is not installed (npm); .ci/run installs it")
        pinned = _in("pinned", name)
        if pinned is not None and package_version(pinned[1], name) == package_version(found[1], name):
            pytest.skip(f"newest {name} is the pinned version {package_version(found[1], name)}")
        return found[0]
    if found is not None:
        return found[0]
    on_path = shutil.which(name)
    if on_path:
        return on_path
    pytest.skip(f"{name} is not installed (npm); .ci/run installs it")
    raise AssertionError  # unreachable
