"""Where the npm-installed client CLIs (Claude Code, Codex, Gemini CLI) are, if anywhere.

`.ci/run` installs them into ~/.cache/trayproxy-clients; TRAYPROXY_NPM_CLIENTS points elsewhere.
Tests that need one skip when it is missing."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CLIENT_DIRS = [
    os.environ.get("TRAYPROXY_NPM_CLIENTS", ""),
    str(Path.home() / ".cache" / "trayproxy-clients"),
    "/opt/npmclients",
]


def find_cli(name: str) -> str:
    for d in CLIENT_DIRS:
        if d:
            p = Path(d) / "node_modules" / ".bin" / name
            if p.exists():
                return str(p)
    found = shutil.which(name)
    if found:
        return found
    pytest.skip(f"{name} is not installed (npm); .ci/run installs it")
    raise AssertionError  # unreachable
