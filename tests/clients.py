"""Where the npm-installed client CLIs (Claude Code, Codex, Gemini CLI) are, if anywhere.

`.ci/run` installs them into ~/.cache/trayproxy-clients; TRAYPROXY_NPM_CLIENTS points elsewhere.
Tests that need one skip when it is missing. `gemini_cli_env`, `claude_code_env` and `codex_env`
give each run its own home and work directory pointed at the proxy."""

from __future__ import annotations

import json
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


# -- a home and a work directory per CLI, pointed at a running proxy -----------------------------


def _dirs(tmp: Path, *config: str) -> tuple[Path, Path]:
    home, work = tmp / "home", tmp / "work"
    (home.joinpath(*config) if config else home).mkdir(parents=True)
    work.mkdir()
    return home, work


def gemini_cli_env(tmp: Path, base_url: str, key: str) -> tuple[dict[str, str], Path]:
    """(env, cwd) for Gemini CLI using an API key against `base_url`."""
    home, work = _dirs(tmp, ".gemini")
    (home / ".gemini" / "settings.json").write_text(json.dumps({"security": {"auth": {"selectedType": "gemini-api-key"}}}))
    env = {**os.environ, "HOME": str(home), "GEMINI_API_KEY": key, "GOOGLE_GEMINI_BASE_URL": base_url,
           "GEMINI_CLI_TRUST_WORKSPACE": "true", "NO_COLOR": "1"}
    return env, work


def claude_code_env(tmp: Path, base_url: str, key: str) -> tuple[dict[str, str], Path]:
    """(env, cwd) for Claude Code against `base_url`, with no telemetry or auto-update."""
    home, work = _dirs(tmp)
    env = {**os.environ, "HOME": str(home), "ANTHROPIC_BASE_URL": base_url, "ANTHROPIC_API_KEY": key,
           "DISABLE_TELEMETRY": "1", "DISABLE_AUTOUPDATER": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
           "NO_COLOR": "1"}
    return env, work


def codex_env(tmp: Path, openai_base_url: str, key: str, model: str) -> tuple[dict[str, str], Path]:
    """(env, cwd) for Codex with a `trayproxy` provider (Responses API) and `model`."""
    home, work = _dirs(tmp, ".codex")
    (home / ".codex" / "config.toml").write_text(
        f'model = "{model}"\nmodel_provider = "trayproxy"\n\n[model_providers.trayproxy]\nname = "trayproxy"\n'
        f'base_url = "{openai_base_url}"\nenv_key = "TRAYPROXY_API_KEY"\nwire_api = "responses"\n')
    env = {**os.environ, "HOME": str(home), "CODEX_HOME": str(home / ".codex"), "TRAYPROXY_API_KEY": key,
           "NO_COLOR": "1"}
    return env, work
