"""Gemini CLI: auth type in ~/.gemini/settings.json (`security.auth.selectedType =
"gemini-api-key"`), and the base URL and key in ~/.gemini/.env ($GEMINI_CLI_HOME replaces the
home folder). Gemini CLI has no settings key for a base URL: it reads GOOGLE_GEMINI_BASE_URL and
GEMINI_API_KEY from the environment, filled from the first .env file it finds walking up from the
working folder (a folder's .gemini/.env, then its .env), ending at ~/.gemini/.env.

Two limits of Gemini CLI itself, which --check reports: it loads .gemini/.env files only in
folders the user trusts, and a variable already in the shell wins over the file. Both values go
in the same file, so an untrusted folder gets neither (no key is ever sent to Google's default)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from trayproxy.connect import dotenv, jsonfile
from trayproxy.connect.base import Endpoint, Files, home_dir
from trayproxy.connect.edits import Editor

__all__ = ["GeminiCli"]

_VARS = ("GOOGLE_GEMINI_BASE_URL", "GEMINI_API_KEY")
_OVERRIDES = (*_VARS, "GOOGLE_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_GENAI_USE_GCA")


class GeminiCli:
    id = "gemini-cli"
    title = "Gemini CLI"
    binary_name = "gemini"
    newest_tested = "0.61.0"

    def folder(self, env: Mapping[str, str]) -> Path:
        home = env.get("GEMINI_CLI_HOME")
        return (Path(home) if home else home_dir(env)) / ".gemini"

    def files(self, env: Mapping[str, str]) -> list[Path]:
        return [self.folder(env) / "settings.json", self.folder(env) / ".env"]

    def render(self, env: Mapping[str, str], base_url: str, api_key: str) -> Files:
        settings, envfile = self.files(env)
        out = Files()
        text = settings.read_text(encoding="utf-8") if settings.exists() else ""
        ed = Editor("json", text, str(settings))
        ed.set(("security", "auth", "selectedType"), "gemini-api-key")
        out.add(settings, text, ed)
        etext = envfile.read_text(encoding="utf-8") if envfile.exists() else ""
        eed = Editor("dotenv", etext, str(envfile))
        eed.set(("GOOGLE_GEMINI_BASE_URL",), base_url)
        eed.set(("GEMINI_API_KEY",), api_key)
        out.add(envfile, etext, eed)
        out.notes.append("Gemini CLI reads ~/.gemini/.env only in folders you trust (it asks on first run); "
                         "a project's own .env or .gemini/.env found first replaces it")
        return out

    def endpoint(self, env: Mapping[str, str]) -> Endpoint | None:
        settings, envfile = self.files(env)
        if not envfile.exists():
            return None
        values = dotenv.parse(envfile.read_text(encoding="utf-8"))
        if not values.get("GOOGLE_GEMINI_BASE_URL"):
            return None
        notes: list[str] = []
        auth = None
        if settings.exists():
            data = jsonfile.load(settings.read_text(encoding="utf-8"), str(settings))
            auth = ((data.get("security") or {}).get("auth") or {}).get("selectedType")
        if auth != "gemini-api-key":
            notes.append(f"{settings}: security.auth.selectedType is {auth!r}, not \"gemini-api-key\"")
        return Endpoint("gemini", values["GOOGLE_GEMINI_BASE_URL"], values.get("GEMINI_API_KEY", ""),
                        values.get("GEMINI_MODEL") or None, tuple(notes))

    def run_args(self, binary: str, prompt: str) -> list[str]:
        return [binary, "-p", prompt]

    def run_env(self, env: Mapping[str, str]) -> dict[str, str]:
        out = {k: v for k, v in env.items() if k not in _OVERRIDES}
        out.update({"GEMINI_CLI_TRUST_WORKSPACE": "true", "NO_COLOR": "1"})
        return out

    def shell_overrides(self, env: Mapping[str, str]) -> list[str]:
        return [k for k in _OVERRIDES if env.get(k)]
