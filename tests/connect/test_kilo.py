"""Kilo Code's writer: OpenCode's, in Kilo's own files (kilo.jsonc, its auth.json, KILO_* variables)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.connect.samples import KILO_CONFIG
from trayproxy.connect import jsonfile
from trayproxy.connect.kilo import Kilo

KEY = "sk-0123456789abcdef0123456789abcdef"


def test_kilos_own_files(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path)}
    k = Kilo()
    fresh = k.render(env, "http://127.0.0.1:9", KEY).contents
    assert set(fresh) == {tmp_path / ".config/kilo/kilo.jsonc", tmp_path / ".local/share/kilo/auth.json"}
    assert json.loads(fresh[tmp_path / ".config/kilo/kilo.jsonc"])["$schema"] == "https://app.kilo.ai/config.json"
    # the last of Kilo's files that exists is the one written (it wins Kilo's merge)
    (tmp_path / ".config/kilo").mkdir(parents=True)
    (tmp_path / ".config/kilo/kilo.jsonc").write_text(KILO_CONFIG)
    (tmp_path / ".config/kilo/opencode.json").write_text("{}\n")
    assert k.config_file(env) == tmp_path / ".config/kilo/opencode.json"
    (tmp_path / ".config/kilo/opencode.json").unlink()
    text = k.render(env, "http://127.0.0.1:9", KEY).contents[tmp_path / ".config/kilo/kilo.jsonc"].decode()
    assert "/* set up by hand */" in text and jsonfile.load(text, "k")["mcp"]["docs"]["command"][0] == "npx"
    assert k.shell_overrides({"KILO_CONFIG": "/x", "OPENCODE_CONFIG": "/y"}) == ["KILO_CONFIG"]
