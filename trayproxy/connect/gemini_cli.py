"""Gemini CLI: auth type in ~/.gemini/settings.json, the base URL and key in ~/.gemini/.env, and,
when the user chooses, folder trust in ~/.gemini/trustedFolders.json ($GEMINI_CLI_HOME replaces
the home folder; $GEMINI_CLI_TRUSTED_FOLDERS_PATH moves the trust file).

Gemini CLI has no settings key for a base URL or key: it reads GOOGLE_GEMINI_BASE_URL and
GEMINI_API_KEY from the environment, filled from the first .env file it finds walking up from the
working folder, ending at ~/.gemini/.env. Two things of its own decide whether that works in the
folder the user runs it in (0.61, read from its source and verified):

1. Folder trust is on by default. In a folder the user has not trusted, `~/.gemini/.env` is never
   read (a generic .env only for the key, never the base URL), and `gemini -p` exits ("not
   running in a trusted directory") even with a key. No file-only setup avoids that: a folder
   must be trusted. So connect asks (`options["trust"]`): "home" writes a TRUST_FOLDER rule for
   the home folder (every folder under it), "all" one for "/". The trade-off, said in the
   summary: in trusted folders Gemini CLI loads a project's own .gemini settings, MCP servers,
   hooks and .env without asking. Without a choice, connect names the step left to the user and
   does not say ✓ (`blocker`).
2. A project's own `.env` found first replaces `~/.gemini/.env` entirely. connect sets
   `advanced.ignoreLocalEnv` so generic project `.env` files are skipped (a project's
   `.gemini/.env` still wins, by Gemini CLI's design).

`security.auth.selectedType = "gemini-api-key"` is needed: with only the base URL in the
environment Gemini CLI picks "gateway" auth, which its CLI refuses. A variable already in the
shell wins over the file (--check names it)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from trayproxy.connect import dotenv, jsonfile
from trayproxy.connect.base import Endpoint, Files, home_dir
from trayproxy.connect.edits import Editor
from trayproxy.i18n.message import N_

__all__ = ["GeminiCli", "TRUST_CHOICES"]

_VARS = ("GOOGLE_GEMINI_BASE_URL", "GEMINI_API_KEY")
_OVERRIDES = (*_VARS, "GOOGLE_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_GENAI_USE_GCA")
TRUST_CHOICES = ("home", "all")
TRUST_STEP = ("Gemini CLI reads these settings only in folders you trust, and `gemini -p` stops in any other. "
              "Run `trayproxy connect gemini-cli --trust home` (every folder under your home is trusted: Gemini CLI "
              "then loads a project's own .gemini settings, MCP servers and .env there without asking), or trust "
              "each project when Gemini CLI asks")


class GeminiCli:
    id = "gemini-cli"
    title = "Gemini CLI"
    binary_name = "gemini"
    newest_tested = "0.61.0"

    def folder(self, env: Mapping[str, str]) -> Path:
        home = env.get("GEMINI_CLI_HOME")
        return (Path(home) if home else home_dir(env)) / ".gemini"

    def trust_file(self, env: Mapping[str, str]) -> Path:
        moved = env.get("GEMINI_CLI_TRUSTED_FOLDERS_PATH")
        return Path(moved) if moved else self.folder(env) / "trustedFolders.json"

    def files(self, env: Mapping[str, str]) -> list[Path]:
        return [self.folder(env) / "settings.json", self.folder(env) / ".env", self.trust_file(env)]

    def render(self, env: Mapping[str, str], base_url: str, api_key: str,
               options: Mapping[str, str] | None = None) -> Files:
        settings, envfile, trust = self.files(env)
        out = Files()
        text = settings.read_text(encoding="utf-8") if settings.exists() else ""
        ed = Editor("json", text, str(settings))
        ed.set(("security", "auth", "selectedType"), "gemini-api-key")
        ed.set(("advanced", "ignoreLocalEnv"), True)
        out.add(settings, text, ed)
        etext = envfile.read_text(encoding="utf-8") if envfile.exists() else ""
        eed = Editor("dotenv", etext, str(envfile))
        eed.set(("GOOGLE_GEMINI_BASE_URL",), base_url)
        eed.set(("GEMINI_API_KEY",), api_key)
        out.add(envfile, etext, eed)
        choice = (options or {}).get("trust")
        if choice in TRUST_CHOICES:
            ttext = trust.read_text(encoding="utf-8") if trust.exists() else ""
            ted = Editor("json", ttext, str(trust))
            rule = "/" if choice == "all" else os.path.realpath(home_dir(env))
            ted.set((rule,), "TRUST_FOLDER")
            out.add(trust, ttext, ted)
            out.notes.append(
                N_("Gemini CLI now trusts every folder: it loads a project's own .gemini settings, MCP servers "
                   "and .env there without asking") if rule == "/" else
                N_("Gemini CLI now trusts every folder under {folder}: it loads a project's own .gemini settings, "
                   "MCP servers and .env there without asking", folder=rule))
        return out

    # -- what Gemini CLI will do --------------------------------------------------------------
    def _trust_rules(self, env: Mapping[str, str]) -> dict[str, str]:
        path = self.trust_file(env)
        if not path.exists():
            return {}
        data = jsonfile.load(path.read_text(encoding="utf-8"), str(path))
        return {os.path.realpath(k): v for k, v in data.items() if isinstance(v, str)}

    def trusted(self, env: Mapping[str, str], folder: Path) -> bool | None:
        """Whether Gemini CLI 0.61 trusts `folder` (None: a DO_NOT_TRUST rule says no)."""
        if env.get("GEMINI_RESTRICTED_MODE") == "true" or env.get("GEMINI_CLI_TRUST_WORKSPACE") == "false":
            return False
        if env.get("GEMINI_CLI_TRUST_WORKSPACE") == "true":
            return True
        settings = self.folder(env) / "settings.json"
        if settings.exists():
            data = jsonfile.load(settings.read_text(encoding="utf-8"), str(settings))
            if jsonfile.get_path(data, ("security", "folderTrust", "enabled")) is False:
                return True
        target = os.path.realpath(folder)
        best: tuple[int, str] | None = None
        for rule, kind in self._trust_rules(env).items():
            base = os.path.dirname(rule) if kind == "TRUST_PARENT" else rule
            if target == base or target.startswith(base.rstrip("/") + "/") or base == "/":
                if best is None or len(base) > best[0]:
                    best = (len(base), kind)
        if best is None:
            return False
        return None if best[1] == "DO_NOT_TRUST" else True

    def blocker(self, env: Mapping[str, str], folder: Path) -> str | None:
        """The step left to the user before Gemini CLI uses the proxy in `folder`, if any."""
        trusted = self.trusted(env, folder)
        if trusted:
            return None
        if trusted is None:
            return (f"a rule in {self.trust_file(env)} says not to trust {folder}'s folders; Gemini CLI will not "
                    "read the proxy's settings there. Remove that rule, or trust the project when Gemini CLI asks")
        return TRUST_STEP

    def endpoint(self, env: Mapping[str, str]) -> Endpoint | None:
        settings, envfile, _ = self.files(env)
        if not envfile.exists():
            return None
        values = dotenv.parse(envfile.read_text(encoding="utf-8"))
        if not values.get("GOOGLE_GEMINI_BASE_URL"):
            return None
        notes: list[str] = []
        auth = None
        if settings.exists():
            data = jsonfile.load(settings.read_text(encoding="utf-8"), str(settings))
            auth = jsonfile.get_path(data, ("security", "auth", "selectedType"))
        if auth != "gemini-api-key":
            notes.append(f"{settings}: security.auth.selectedType is {auth!r}, not \"gemini-api-key\"")
        return Endpoint("gemini", values["GOOGLE_GEMINI_BASE_URL"], values.get("GEMINI_API_KEY", ""),
                        values.get("GEMINI_MODEL") or None, tuple(notes))

    def run_args(self, binary: str, prompt: str) -> list[str]:
        return [binary, "-p", prompt]

    def run_env(self, env: Mapping[str, str]) -> dict[str, str]:
        out = {k: v for k, v in env.items() if k not in _OVERRIDES}
        out["NO_COLOR"] = "1"
        return out

    def shell_overrides(self, env: Mapping[str, str]) -> list[str]:
        return [k for k in _OVERRIDES if env.get(k)]
