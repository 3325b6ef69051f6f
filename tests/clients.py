"""Where the npm-installed client CLIs (Claude Code, Codex, Gemini CLI, OpenCode, Kilo Code) are, if
anywhere.

Two sets: "pinned" (the versions .ci/run pins, in ~/.cache/trayproxy-clients, or
$TRAYPROXY_NPM_CLIENTS) and "newest" (whatever npm had as latest when .ci/run ran, in
~/.cache/trayproxy-clients-latest, or $TRAYPROXY_NPM_CLIENTS_LATEST). End-to-end client tests are
parametrized over CLIENT_SETS. A test skips when its client is missing, and the "newest" run skips
when the newest is the pinned version (it would only repeat the pinned run). `pytest -m
newest_clients` runs only the newest.
`gemini_cli_env`, `claude_code_env`, `codex_env`, `opencode_env` and `kilo_env` give each run its
own home and work directory pointed at the proxy (OpenCode and Kilo take their folder from $PWD:
it is set to the work directory)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

__all__ = ["CLIENT_SETS", "PACKAGES", "find_cli", "client_dirs", "package_version", "gemini_cli_env",
           "claude_code_env", "codex_env", "opencode_env", "kilo_env"]

# "newest" tests carry the `newest_clients` mark. A new client release can break them at any hour,
# so .ci/run runs them in a second pytest run of their own whose failures it reports loudly
# without blocking the pinned suite (TRAYPROXY_NEWEST_CLIENTS=separate skips them in the first).
CLIENT_SETS = ("pinned", pytest.param("newest", marks=pytest.mark.newest_clients))
PACKAGES = {"claude": "@anthropic-ai/claude-code", "codex": "@openai/codex", "gemini": "@google/gemini-cli",
            "opencode": "opencode-ai", "kilo": "@kilocode/cli"}


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
    if which == "newest" and os.environ.get("TRAYPROXY_NEWEST_CLIENTS") == "separate":
        pytest.skip("the newest clients run in their own pytest run (.ci/run)")
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


def _opencode_like(tmp: Path, folder: str, schema: str, config: str, base_url: str, key: str,
                   model: str) -> tuple[dict[str, str], Path]:
    home, work = _dirs(tmp, ".config", folder)
    provider = {"npm": "@ai-sdk/openai-compatible", "name": "trayproxy", "options": {"baseURL": f"{base_url}/v1"},
                "models": {model: {"name": model}}}
    (home / ".config" / folder / config).write_text(json.dumps(
        {"$schema": schema, "provider": {"trayproxy": provider}, "model": f"trayproxy/{model}"}, indent=2))
    (home / ".local" / "share" / folder).mkdir(parents=True)
    (home / ".local" / "share" / folder / "auth.json").write_text(json.dumps({"trayproxy": {"type": "api", "key": key}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENCODE_", "KILO_", "XDG_"))}
    env.update({"HOME": str(home), "PWD": str(work), "NO_COLOR": "1"})
    return env, work


def opencode_env(tmp: Path, base_url: str, key: str, model: str) -> tuple[dict[str, str], Path]:
    """(env, cwd) for OpenCode with a `trayproxy` provider (chat completions) and `model`."""
    return _opencode_like(tmp, "opencode", "https://opencode.ai/config.json", "opencode.json", base_url, key, model)


def kilo_env(tmp: Path, base_url: str, key: str, model: str) -> tuple[dict[str, str], Path]:
    """(env, cwd) for Kilo Code's CLI, likewise."""
    return _opencode_like(tmp, "kilo", "https://app.kilo.ai/config.json", "kilo.jsonc", base_url, key, model)
