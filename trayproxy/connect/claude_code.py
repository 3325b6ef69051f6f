"""Claude Code: `env` block of its user settings, ~/.claude/settings.json ($CLAUDE_CONFIG_DIR moves
the folder). Claude Code applies that block to its own environment at start, so the base URL and
key reach every session, interactive or `claude -p`.

ANTHROPIC_AUTH_TOKEN (sent as `Authorization: Bearer`) rather than ANTHROPIC_API_KEY: Claude Code
asks before using an API key it finds, and takes a bearer token as is. A user's own
ANTHROPIC_API_KEY in the block is pointed at the proxy too, so no other key is sent to it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from trayproxy.connect import jsonfile
from trayproxy.connect.base import Endpoint, Files, home_dir
from trayproxy.connect.edits import MISSING, Editor

__all__ = ["ClaudeCode"]

_OVERRIDES = ("ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")


class ClaudeCode:
    id = "claude-code"
    title = "Claude Code"
    binary_name = "claude"
    newest_tested = "2.1.332"

    def settings_file(self, env: Mapping[str, str]) -> Path:
        d = env.get("CLAUDE_CONFIG_DIR")
        return (Path(d) if d else home_dir(env) / ".claude") / "settings.json"

    def files(self, env: Mapping[str, str]) -> list[Path]:
        return [self.settings_file(env)]

    def render(self, env: Mapping[str, str], base_url: str, api_key: str,
               options: Mapping[str, str] | None = None) -> Files:
        path = self.settings_file(env)
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        ed = Editor("json", text, str(path))
        values = {"ANTHROPIC_BASE_URL": base_url, "ANTHROPIC_AUTH_TOKEN": api_key}
        if ed.get(("env", "ANTHROPIC_API_KEY")) is not MISSING:
            values["ANTHROPIC_API_KEY"] = api_key
        for k, v in values.items():
            ed.set(("env", k), v)
        out = Files()
        out.add(path, text, ed)
        return out

    def endpoint(self, env: Mapping[str, str]) -> Endpoint | None:
        path = self.settings_file(env)
        if not path.exists():
            return None
        block = jsonfile.load(path.read_text(encoding="utf-8"), str(path)).get("env")
        if not isinstance(block, dict) or not block.get("ANTHROPIC_BASE_URL"):
            return None
        key = block.get("ANTHROPIC_AUTH_TOKEN") or block.get("ANTHROPIC_API_KEY") or ""
        model = block.get("ANTHROPIC_MODEL")
        return Endpoint("anthropic", str(block["ANTHROPIC_BASE_URL"]), str(key),
                        str(model) if model else None)

    def run_args(self, binary: str, prompt: str) -> list[str]:
        return [binary, "-p", prompt, "--output-format", "json"]

    def run_env(self, env: Mapping[str, str]) -> dict[str, str]:
        out = {k: v for k, v in env.items() if k not in _OVERRIDES}
        out.update({"DISABLE_AUTOUPDATER": "1", "DISABLE_TELEMETRY": "1", "NO_COLOR": "1"})
        return out

    def shell_overrides(self, env: Mapping[str, str]) -> list[str]:
        return []  # the settings block wins over the shell
