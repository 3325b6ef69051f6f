"""Codex: ~/.codex/config.toml ($CODEX_HOME moves the folder). connect adds a provider
`[model_providers.trayproxy]` speaking the Responses API (`wire_api = "responses"`) with the key
as `experimental_bearer_token`, and makes it the default (`model_provider = "trayproxy"`).
The file is edited with tomlkit, so the user's comments, order and other tables stay as they are.

Codex with a custom provider sends turns to POST {base_url}/responses over HTTP+SSE, and runs its
automatic compaction of long sessions as one more such turn (its "CONTEXT CHECKPOINT" prompt),
measured with 0.169 and 0.171: no /responses/compact, no WebSocket. Its built-in OpenAI provider
pointed at the proxy (`openai_base_url`) instead opens the Responses WebSocket and compacts
server-side (a `compaction_trigger` item); proxy/responses_ws.py serves both."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trayproxy.connect.base import Endpoint, Files, home_dir
from trayproxy.connect.edits import Editor

if TYPE_CHECKING:
    import tomlkit

__all__ = ["Codex", "CodexConfigError", "PROVIDER"]

PROVIDER = "trayproxy"


class CodexConfigError(Exception):
    pass


class Codex:
    id = "codex"
    title = "Codex"
    binary_name = "codex"
    newest_tested = "0.171.0"

    def config_file(self, env: Mapping[str, str]) -> Path:
        d = env.get("CODEX_HOME")
        return (Path(d) if d else home_dir(env) / ".codex") / "config.toml"

    def files(self, env: Mapping[str, str]) -> list[Path]:
        return [self.config_file(env)]

    def _parse(self, path: Path) -> tomlkit.TOMLDocument:
        import tomlkit  # about 0.4 MiB: only once there is a Codex config to read or write
        from tomlkit.exceptions import TOMLKitError

        text = path.read_text(encoding="utf-8") if path.exists() else ""
        try:
            return tomlkit.parse(text)
        except TOMLKitError as e:
            raise CodexConfigError(f"{path} is not valid TOML ({e}); fix it, then connect again") from e

    def render(self, env: Mapping[str, str], base_url: str, api_key: str,
               options: Mapping[str, str] | None = None) -> Files:
        path = self.config_file(env)
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        doc = self._parse(path)
        providers: Any = doc.get("model_providers")
        if providers is not None and not isinstance(providers, dict):
            raise CodexConfigError(f"{path}: model_providers is not a table; fix it, then connect again")
        ed = Editor("toml", text, str(path))
        ed.set(("model_provider",), PROVIDER)
        for k, v in (("name", "trayproxy"), ("base_url", f"{base_url}/v1"), ("wire_api", "responses"),
                     ("experimental_bearer_token", api_key)):
            ed.set(("model_providers", PROVIDER, k), v)
        ed.delete(("model_providers", PROVIDER, "env_key"))  # an env var would win over the token
        out = Files()
        out.add(path, text, ed)
        return out

    def endpoint(self, env: Mapping[str, str]) -> Endpoint | None:
        path = self.config_file(env)
        if not path.exists():
            return None
        doc = self._parse(path)
        name = doc.get("model_provider")
        prov = (doc.get("model_providers") or {}).get(name) if isinstance(name, str) else None
        if not isinstance(prov, dict) or not prov.get("base_url"):
            return None
        notes: list[str] = []
        if prov.get("wire_api", "chat") != "responses":
            notes.append(f'{path}: wire_api of provider "{name}" is not "responses"')
        key = prov.get("experimental_bearer_token")
        if not key and prov.get("env_key"):
            key = env.get(str(prov["env_key"]), "")
        model = doc.get("model")
        return Endpoint("openai-responses", str(prov["base_url"]).rstrip("/"), str(key or ""),
                        str(model) if model else None, tuple(notes))

    def run_args(self, binary: str, prompt: str) -> list[str]:
        return [binary, "exec", "--skip-git-repo-check", "--sandbox", "read-only", prompt]

    def run_env(self, env: Mapping[str, str]) -> dict[str, str]:
        return {**env, "NO_COLOR": "1"}

    def shell_overrides(self, env: Mapping[str, str]) -> list[str]:
        return []
