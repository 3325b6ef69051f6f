"""OpenCode's writer on real files: the provider merged into the user's JSONC config (comments,
other providers and layout kept), the key in OpenCode's own auth.json, the pool's models listed,
read back as the endpoint OpenCode will use."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from tests.connect.samples import OPENCODE_AUTH, OPENCODE_CONFIG
from trayproxy.connect import jsonfile
from trayproxy.connect.opencode import OpenCode, served_models

KEY = "sk-0123456789abcdef0123456789abcdef"
MODELS = {"object": "list", "data": [
    {"id": "gemini-3.1-pro-low", "display_name": "Gemini 3.1 Pro (Low)", "context_window": 1048576,
     "max_output_tokens": 65536},
    {"id": "gemini-3.8-flash-low", "display_name": "Gemini 3.8 Flash (Low)", "context_window": 1048576,
     "max_output_tokens": 65536},
    {"id": "claude-sonnet-4-6", "display_name": "Claude Sonnet 4.6", "context_window": 200000, "max_output_tokens": 64000},
    {"id": "gpt-5", "display_name": "gpt-5 (-> Gemini 3.1 Pro (Low))", "alias_of": "gemini-3.1-pro-low"},
]}


@pytest.fixture
def proxy() -> Iterator[str]:
    class Models(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            ok = self.path == "/v1/models" and self.headers.get("Authorization") == f"Bearer {KEY}"
            body = json.dumps(MODELS if ok else {"error": "no"}).encode()
            self.send_response(200 if ok else 401)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a: object) -> None:
            pass

    srv = HTTPServer(("127.0.0.1", 0), Models)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


def write_all(files: dict[Path, bytes]) -> None:
    for p, data in files.items():
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)


def test_merges_the_provider_and_keeps_the_users_config(tmp_path: Path, proxy: str) -> None:
    env = {"HOME": str(tmp_path)}
    cfg, auth = tmp_path / ".config/opencode/opencode.jsonc", tmp_path / ".local/share/opencode/auth.json"
    for p, text in ((cfg, OPENCODE_CONFIG), (auth, OPENCODE_AUTH)):
        p.parent.mkdir(parents=True)
        p.write_text(text)
    c = OpenCode()
    files = c.render(env, proxy, KEY)
    assert set(files.contents) == {cfg, auth}
    text = files.contents[cfg].decode()
    assert "// my providers" in text and '"share": "manual"' in text and KEY not in text  # the key is not in the config
    data = jsonfile.load(text, "cfg")
    assert data["provider"]["anthropic"] == {"options": {"apiKey": "{env:ANTHROPIC_API_KEY}"}}
    mine = data["provider"]["trayproxy"]
    assert mine["npm"] == "@ai-sdk/openai-compatible" and mine["options"] == {"baseURL": f"{proxy}/v1"}
    assert sorted(mine["models"]) == ["claude-sonnet-4-6", "gemini-3.1-pro-low", "gemini-3.8-flash-low"]  # no aliases
    assert mine["models"]["claude-sonnet-4-6"]["limit"] == {"context": 200000, "output": 64000}
    assert data["model"] == "trayproxy/gemini-3.1-pro-low" and data["small_model"] == "trayproxy/gemini-3.8-flash-low"
    keys = json.loads(files.contents[auth])
    assert keys == {"openrouter": {"type": "api", "key": "sk-or-users-own-key"}, "trayproxy": {"type": "api", "key": KEY}}
    write_all(files.contents)
    ep = c.endpoint(env)
    assert ep is not None and (ep.protocol, ep.base_url, ep.api_key, ep.model, ep.notes) == (
        "openai-chat", f"{proxy}/v1", KEY, "gemini-3.1-pro-low", ())
    assert c.render(env, proxy, KEY).contents == {}  # connecting again changes nothing


def test_a_fresh_home_gets_a_config_with_its_schema_and_fallback_models(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    files = OpenCode().render(env, "http://127.0.0.1:9", KEY)  # nothing listens: the proxy is not running
    cfg = tmp_path / "xdg/opencode/opencode.json"
    data = json.loads(files.contents[cfg])
    assert data["$schema"] == "https://opencode.ai/config.json"  # else OpenCode rewrites the file
    assert data["provider"]["trayproxy"]["models"] and any("connect again" in str(n) for n in files.notes)


def test_served_models_needs_the_key(proxy: str) -> None:
    assert served_models(proxy, "sk-wrong") is None
    assert served_models(proxy, KEY) is not None


def test_shell_variables_that_replace_the_config_are_named_and_left_out_of_the_run() -> None:
    env = {"OPENCODE_CONFIG_CONTENT": "{}", "HOME": "/h", "PATH": "/bin"}
    assert OpenCode().shell_overrides(env) == ["OPENCODE_CONFIG_CONTENT"]
    assert "OPENCODE_CONFIG_CONTENT" not in OpenCode().run_env(env)
