"""OpenCode (npm `opencode-ai`): a `trayproxy` provider in its global config file, the key in its
own key store, the proxy's models as that provider's models, one of them the default.

Where OpenCode reads (1.18.x; `$XDG_CONFIG_HOME` / `$XDG_DATA_HOME` move the folders):
- `~/.config/opencode/` `config.json`, `opencode.json`, `opencode.jsonc`, merged in that order
  (later wins). connect writes into the last one that exists, else creates `opencode.json`. The
  file is JSONC, edited in place (comments and layout stay). `$schema` is written when missing:
  OpenCode rewrites a config file without one, which would defeat undo.
- `~/.local/share/opencode/auth.json`: `{"trayproxy": {"type": "api", "key": ...}}`. The key
  goes there, not into the config file users keep in their dotfiles.

What connect writes:
- `provider.trayproxy`: `npm: "@ai-sdk/openai-compatible"` (bundled in OpenCode, speaks
  `/v1/chat/completions`), `options.baseURL` = the proxy's `/v1`, and `models`: each id the
  pool serves (its name and the catalog's context and output limits);
- `model` / `small_model`: `trayproxy/<a pro model>` and `trayproxy/<a fast model>` (titles go
  to the small one), so OpenCode answers through the proxy without further choice.

OpenCode takes its working folder from `$PWD` before the process's own (verify.run_client sets
it), reads stdin when it is not a terminal (closed for the run), and in `opencode run` runs
tools without asking. Variables that override the files (`OPENCODE_CONFIG*`) are named by --check.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trayproxy.connect import jsonfile
from trayproxy.connect.base import Endpoint, Files, home_dir
from trayproxy.connect.edits import MISSING, Editor
from trayproxy.i18n.message import N_

__all__ = ["OpenCode", "PROVIDER", "served_models"]

PROVIDER = "trayproxy"
# what is written when the proxy cannot be asked for its models (it is not running)
FALLBACK_MODELS: dict[str, dict[str, Any]] = {
    "gemini-3.1-pro-low": {"name": "Gemini 3.1 Pro (Low)", "limit": {"context": 1048576, "output": 65536}},
    "gemini-3.8-flash-low": {"name": "Gemini 3.8 Flash (Low)", "limit": {"context": 1048576, "output": 65536}},
}


def served_models(base_url: str, api_key: str, *, timeout: float = 10.0) -> dict[str, dict[str, Any]] | None:
    """The ids the proxy's pool serves (GET /v1/models, aliases left out) as OpenCode model
    entries, or None when the proxy cannot be asked."""
    req = urllib.request.Request(f"{base_url}/v1/models", headers={"Authorization": f"Bearer {api_key}"})
    try:
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(req, timeout=timeout) as r:
            data = json.loads(r.read())
    except (OSError, ValueError, urllib.error.URLError):
        return None
    out: dict[str, dict[str, Any]] = {}
    for m in data.get("data") or [] if isinstance(data, dict) else []:
        if not isinstance(m, dict) or not isinstance(m.get("id"), str) or m.get("alias_of"):
            continue
        entry: dict[str, Any] = {"name": f"{m.get('display_name') or m['id']} (trayproxy)"}
        limit = {k: m[src] for k, src in (("context", "context_window"), ("output", "max_output_tokens"))
                 if isinstance(m.get(src), int)}
        if limit:
            entry["limit"] = limit
        out[m["id"]] = entry
    return out or None


def _pick(ids: list[str], *words: str) -> str | None:
    for w in words:
        found = [m for m in ids if w in m.lower() and "image" not in m.lower()]
        if found:
            return found[0]
    return None


class OpenCode:
    id = "opencode"
    title = "OpenCode"
    binary_name = "opencode"
    newest_tested = "1.18.33"
    folder_name = "opencode"
    config_names: tuple[str, ...] = ("config.json", "opencode.json", "opencode.jsonc")
    new_config = "opencode.json"
    schema = "https://opencode.ai/config.json"
    env_prefix = "OPENCODE"

    # -- where -------------------------------------------------------------------------------
    def config_dir(self, env: Mapping[str, str]) -> Path:
        base = env.get("XDG_CONFIG_HOME") or str(home_dir(env) / ".config")
        return Path(base) / self.folder_name

    def config_file(self, env: Mapping[str, str]) -> Path:
        d = self.config_dir(env)
        existing = [d / n for n in self.config_names if (d / n).exists()]
        return existing[-1] if existing else d / self.new_config

    def auth_file(self, env: Mapping[str, str]) -> Path:
        base = env.get("XDG_DATA_HOME") or str(home_dir(env) / ".local" / "share")
        return Path(base) / self.folder_name / "auth.json"

    def files(self, env: Mapping[str, str]) -> list[Path]:
        return [self.config_file(env), self.auth_file(env)]

    # -- connect -----------------------------------------------------------------------------
    def render(self, env: Mapping[str, str], base_url: str, api_key: str,
               options: Mapping[str, str] | None = None) -> Files:
        cfg, auth = self.files(env)
        out = Files()
        models = served_models(base_url, api_key)
        if models is None:
            models = dict(FALLBACK_MODELS)
            out.notes.append(N_("the proxy did not list its models (is it running?); wrote two defaults, "
                                "connect again once it runs to list all of them"))
        ids = sorted(models)
        main = _pick(ids, "pro", "sonnet", "opus", "flash") or ids[0]
        small = _pick(ids, "flash-lite", "flash", "haiku") or main
        text = cfg.read_text(encoding="utf-8") if cfg.exists() else ""
        ed = Editor("json", text, str(cfg))
        if ed.get(("$schema",)) is MISSING:
            ed.set(("$schema",), self.schema)
        ed.set(("provider", PROVIDER), {
            "npm": "@ai-sdk/openai-compatible",
            "name": "trayproxy",
            "options": {"baseURL": f"{base_url}/v1"},
            "models": {m: models[m] for m in ids},
        })
        ed.set(("model",), f"{PROVIDER}/{main}")
        ed.set(("small_model",), f"{PROVIDER}/{small}")
        out.add(cfg, text, ed)
        atext = auth.read_text(encoding="utf-8") if auth.exists() else ""
        aed = Editor("json", atext, str(auth))
        aed.set((PROVIDER,), {"type": "api", "key": api_key})
        out.add(auth, atext, aed)
        return out

    # -- read back ---------------------------------------------------------------------------
    def endpoint(self, env: Mapping[str, str]) -> Endpoint | None:
        cfg, auth = self.files(env)
        if not cfg.exists():
            return None
        data = jsonfile.load(cfg.read_text(encoding="utf-8"), str(cfg))
        prov = jsonfile.get_path(data, ("provider", PROVIDER))
        opts = prov.get("options") if isinstance(prov, dict) else None
        if not isinstance(opts, dict) or not opts.get("baseURL"):
            return None
        notes: list[str] = []
        if prov.get("npm") not in (None, "@ai-sdk/openai-compatible"):
            notes.append(f"{cfg}: provider {PROVIDER} uses {prov.get('npm')}, not @ai-sdk/openai-compatible")
        key = opts.get("apiKey")
        if not key and auth.exists():
            entry = jsonfile.get_path(jsonfile.load(auth.read_text(encoding="utf-8"), str(auth)), (PROVIDER,))
            key = entry.get("key") if isinstance(entry, dict) else None
        model = data.get("model")
        if not (isinstance(model, str) and model.startswith(f"{PROVIDER}/")):
            notes.append(f"{cfg}: the default model {model!r} is not one of the proxy's; "
                         f"{self.title} will not use the proxy unless you pick a {PROVIDER}/ model")
            model = None
        return Endpoint("openai-chat", str(opts["baseURL"]).rstrip("/"), str(key or ""),
                        model.split("/", 1)[1] if model else None, tuple(notes))

    def run_args(self, binary: str, prompt: str) -> list[str]:
        return [binary, "run", prompt]

    def run_env(self, env: Mapping[str, str]) -> dict[str, str]:
        out = {k: v for k, v in env.items() if k not in self._overrides()}
        out["NO_COLOR"] = "1"
        return out

    def _overrides(self) -> tuple[str, ...]:
        p = self.env_prefix
        return (f"{p}_CONFIG", f"{p}_CONFIG_CONTENT", f"{p}_CONFIG_DIR", f"{p}_AUTH_CONTENT")

    def shell_overrides(self, env: Mapping[str, str]) -> list[str]:
        return [k for k in self._overrides() if env.get(k)]
