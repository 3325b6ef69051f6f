"""Codex's config.toml writer on a real hand-edited file: comments, order, profiles and other
providers kept byte for byte; our provider added and made the default."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomlkit

from tests.connect.samples import CODEX_CONFIG
from trayproxy.connect.codex import Codex, CodexConfigError

BASE, KEY = "http://127.0.0.1:8045", "sk-0123456789abcdef0123456789abcdef"


def test_adds_the_provider_keeping_everything_else(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path)}
    path = tmp_path / ".codex" / "config.toml"
    path.parent.mkdir()
    path.write_text(CODEX_CONFIG)
    c = Codex()
    (new,) = c.render(env, BASE, KEY).contents.values()
    path.write_bytes(new)
    text = new.decode()
    # every line of the user's file is still there, comments included, in order
    lines = [ln for ln in text.splitlines()]
    it = iter(lines)
    assert all(any(ln == got for got in it) for ln in CODEX_CONFIG.splitlines())
    data = tomlkit.parse(text).unwrap()
    assert data["model_provider"] == "trayproxy"
    assert data["model_providers"]["trayproxy"] == {
        "name": "trayproxy", "base_url": f"{BASE}/v1", "wire_api": "responses", "experimental_bearer_token": KEY}
    assert data["model_providers"]["localai"]["base_url"] == "http://localhost:8080/v1"
    assert data["profiles"]["deep"]["model"] == "o3"
    assert data["model"] == "gpt-5-codex"
    ep = c.endpoint(env)
    assert ep is not None and (ep.protocol, ep.base_url, ep.api_key, ep.model) == (
        "openai-responses", f"{BASE}/v1", KEY, "gpt-5-codex")
    assert c.render(env, BASE, KEY).contents == {}


def test_codex_home_and_an_old_trayproxy_provider_with_env_key(tmp_path: Path) -> None:
    home = tmp_path / "codex-home"
    home.mkdir()
    (home / "config.toml").write_text('model_provider = "trayproxy"\n\n[model_providers.trayproxy]\nname = "trayproxy"\n'
                                      'base_url = "http://127.0.0.1:9999/v1"\nenv_key = "TRAYPROXY_API_KEY"\nwire_api = "chat"\n')
    env = {"HOME": str(tmp_path), "CODEX_HOME": str(home)}
    c = Codex()
    (new,) = c.render(env, BASE, KEY).contents.values()
    data = tomlkit.parse(new.decode()).unwrap()
    assert data["model_providers"]["trayproxy"] == {
        "name": "trayproxy", "base_url": f"{BASE}/v1", "wire_api": "responses", "experimental_bearer_token": KEY}


def test_broken_toml_is_not_touched(tmp_path: Path) -> None:
    path = tmp_path / ".codex" / "config.toml"
    path.parent.mkdir()
    path.write_text("model = \n[[[")
    with pytest.raises(CodexConfigError, match="not valid TOML"):
        Codex().render({"HOME": str(tmp_path)}, BASE, KEY)
