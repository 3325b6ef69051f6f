"""Gemini CLI's writers on real files: settings.json with comments (Gemini CLI allows them) edited in
place (only the auth type changes), ~/.gemini/.env merged line by line."""

from __future__ import annotations

import json
from pathlib import Path

from tests.connect.samples import GEMINI_ENV, GEMINI_SETTINGS
from trayproxy.connect import dotenv, jsonfile
from trayproxy.connect.gemini_cli import GeminiCli

BASE, KEY = "http://127.0.0.1:8045", "sk-0123456789abcdef0123456789abcdef"


def test_edits_commented_settings_in_place_and_merges_the_env_file(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path)}
    g = tmp_path / ".gemini"
    g.mkdir()
    (g / "settings.json").write_text(GEMINI_SETTINGS)
    (g / ".env").write_text(GEMINI_ENV)
    c = GeminiCli()
    files = c.render(env, BASE, KEY).contents
    assert set(files) == {g / "settings.json", g / ".env"}  # no trust chosen: trustedFolders.json untouched
    settings = files[g / "settings.json"].decode()
    # the auth type changed and ignoreLocalEnv was added; the comments and everything else are the same bytes
    assert settings == GEMINI_SETTINGS.replace('"oauth-personal"', '"gemini-api-key"').replace(
        '    "vimMode": true\n  }\n}', '    "vimMode": true\n  },\n  "advanced": {\n    "ignoreLocalEnv": true\n  }\n}')
    assert jsonfile.load(settings, "s")["security"]["auth"]["selectedType"] == "gemini-api-key"
    envtext = files[g / ".env"].decode()
    assert envtext.splitlines()[:2] == GEMINI_ENV.splitlines()[:2]
    assert dotenv.parse(envtext) == {"OTHER_TOOL_TOKEN": "abc123", "GEMINI_API_KEY": KEY, "GOOGLE_GEMINI_BASE_URL": BASE}
    for p, data in files.items():
        p.write_bytes(data)
    ep = c.endpoint(env)
    assert ep is not None and (ep.protocol, ep.base_url, ep.api_key, ep.notes) == ("gemini", BASE, KEY, ())
    assert c.render(env, BASE, KEY).contents == {}


def test_missing_auth_section_in_a_commented_file_is_inserted(tmp_path: Path) -> None:
    text = '{\n  // just a theme\n  "ui": {"theme": "Dracula"}\n}\n'
    out = jsonfile.set_path(text, "s", ("security", "auth", "selectedType"), "gemini-api-key")
    assert "// just a theme" in out and '"theme": "Dracula"' in out
    assert jsonfile.load(out, "s") == {"security": {"auth": {"selectedType": "gemini-api-key"}}, "ui": {"theme": "Dracula"}}


def test_fresh_home_and_gemini_cli_home(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path / "home"), "GEMINI_CLI_HOME": str(tmp_path / "gh")}
    files = GeminiCli().render(env, BASE, KEY).contents
    g = tmp_path / "gh" / ".gemini"
    assert json.loads(files[g / "settings.json"]) == {"security": {"auth": {"selectedType": "gemini-api-key"}},
                                                      "advanced": {"ignoreLocalEnv": True}}
    assert files[g / ".env"].decode() == f"GOOGLE_GEMINI_BASE_URL={BASE}\nGEMINI_API_KEY={KEY}\n"


def test_shell_variables_that_win_over_the_file_are_named() -> None:
    assert GeminiCli().shell_overrides({"GEMINI_API_KEY": "x", "HOME": "/h"}) == ["GEMINI_API_KEY"]


def test_trust_is_written_only_when_chosen_and_read_as_gemini_cli_reads_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"HOME": str(home)}
    c = GeminiCli()
    project, elsewhere = home / "src" / "app", tmp_path / "tmp-project"
    assert c.trusted(env, project) is False and c.blocker(env, project)
    assert c.trusted({**env, "GEMINI_CLI_TRUST_WORKSPACE": "true"}, project)  # the user's own shell choice
    for p, data in c.render(env, BASE, KEY, {"trust": "home"}).contents.items():
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    assert c.trusted(env, project) and c.blocker(env, project) is None
    assert c.trusted(env, elsewhere) is False  # only under home
    rules = home / ".gemini" / "trustedFolders.json"
    rules.write_text(json.dumps({str(home): "TRUST_FOLDER", str(home / "src"): "DO_NOT_TRUST"}))
    assert c.trusted(env, project) is None and "DO_NOT_TRUST" not in (c.blocker(env, project) or "x")
    assert "not to trust" in (c.blocker(env, project) or "")
    files = c.render({**env, "GEMINI_CLI_TRUSTED_FOLDERS_PATH": str(tmp_path / "t.json")}, BASE, KEY, {"trust": "all"})
    assert json.loads(files.contents[tmp_path / "t.json"]) == {"/": "TRUST_FOLDER"}
