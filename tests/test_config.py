from __future__ import annotations

import json
from pathlib import Path

import pytest

from trayproxy.config import Config, ConfigError, load_config, parse_cli_value, save_config, set_value


def test_defaults_match_the_contract(tmp_path: Path) -> None:
    res = load_config(tmp_path / "config.json")
    c = res.config
    assert res.problems == []
    assert (c.port, c.allow_lan_access, c.auth_mode, c.scheduling) == (8045, False, "auto", "balance")
    assert c.zai.dispatch_mode == "off" and c.zai.enabled is False
    assert c.monitor.enabled is True and c.monitor.retention_days == 30
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["version"] == 1 and saved["port"] == 8045


def test_auto_auth_asks_for_the_key_on_loopback_too() -> None:
    # #27: other local users and pages on any loopback port are untrusted (THREAT_MODEL, the `auto` stance)
    assert Config(auth_mode="auto", allow_lan_access=False).effective_auth_mode == "all_except_health"
    assert Config(auth_mode="auto", allow_lan_access=True).effective_auth_mode == "all_except_health"
    assert Config(auth_mode="strict").effective_auth_mode == "strict"
    assert Config(allow_lan_access=True).bind_host == "0.0.0.0"
    assert Config().bind_host == "127.0.0.1"


def test_corrupt_file_is_kept_and_reported_with_line(tmp_path: Path) -> None:
    p = tmp_path / "config.json"
    broken = '{\n  "port": 9000,\n  "auth_mode": "strict"\n  "allow_lan_access": true\n}\n'
    p.write_text(broken)
    res = load_config(p)
    assert res.backup is not None and res.backup.read_text() == broken
    msg = res.message or ""
    assert str(p) in msg and "line 4" in msg
    assert "kept as" in msg
    # the app goes on failing closed, the file is left alone, and the problem stays until fixed
    assert res.config.port == 8045
    assert res.config.auth_mode == "strict" and res.config.allow_lan_access is False
    assert p.read_text() == broken
    again = load_config(p)
    assert again.problems and again.config.effective_auth_mode == "strict"
    assert again.backup == res.backup  # one copy per distinct content, not one per load
    p.write_text('{"port": 9000}')
    assert load_config(p).problems == []


def test_unreadable_or_non_object_file_fails_closed(tmp_path: Path) -> None:
    p = tmp_path / "config.json"
    p.write_bytes(b"\xff\xfe not utf-8")
    res = load_config(p)
    assert "not UTF-8" in (res.message or "") and res.config.effective_auth_mode == "strict"
    p.write_text("[1, 2]")
    assert load_config(p).config.effective_auth_mode == "strict"
    p.write_text('{"auth_mode": "off", "allow_lan_access": "yes"}')
    res = load_config(p)
    assert res.config.allow_lan_access is False and res.config.auth_mode == "off"
    assert "allow_lan_access must be true or false" in (res.message or "")


def test_bad_values_fall_back_per_field_loudly(tmp_path: Path) -> None:
    p = tmp_path / "config.json"
    p.write_text(json.dumps({"port": "abc", "auth_mode": "sometimes", "scheduling": "balance", "zai": {"dispatch_mode": "x"}, "nope": 1}))
    res = load_config(p)
    assert res.config.port == 8045 and res.config.auth_mode == "strict"  # fails closed
    assert res.config.scheduling == "balance"
    text = res.message or ""
    assert "port must be a whole number" in text
    assert "auth_mode must be one of off, strict, all_except_health, auto" in text
    assert "using 'strict' until it is fixed" in text
    assert "zai.dispatch_mode" in text and "unknown setting 'nope'" in text
    assert res.backup is not None and "abc" in res.backup.read_text()


def test_set_value_validates_and_maps(tmp_path: Path) -> None:
    c = Config()
    c2 = set_value(c, "port", 9000)
    assert c2.port == 9000 and c.port == 8045
    with pytest.raises(ConfigError, match="between 1 and 65535"):
        set_value(c, "port", 70000)
    with pytest.raises(ConfigError, match="unknown setting"):
        set_value(c, "prot", 1)
    c3 = set_value(c, "model_mapping.gpt-4o", "gemini-3-flash")
    assert c3.model_mapping == {"gpt-4o": "gemini-3-flash"}
    assert set_value(c3, "model_mapping.gpt-4o", "").model_mapping == {}
    assert set_value(c, "zai.models.opus", "glm-5").zai.models["opus"] == "glm-5"
    assert parse_cli_value("allow_lan_access", "on") is True
    assert parse_cli_value("port", "9001") == 9001
    assert parse_cli_value("cloudcode_base_urls", "http://a/v1internal,http://b/v1internal") == [
        "http://a/v1internal", "http://b/v1internal"]


def test_env_overrides_win(tmp_path: Path) -> None:
    c = Config().with_env({
        "TRAYPROXY_CLOUDCODE_BASE_URLS": "http://127.0.0.1:1/a/v1internal, http://127.0.0.1:1/b/v1internal/",
        "TRAYPROXY_OAUTH_TOKEN_URL": "http://127.0.0.1:1/token",
        "TRAYPROXY_ZAI_BASE_URL": "http://127.0.0.1:2/anthropic",
    })
    assert c.cloudcode_base_urls == ["http://127.0.0.1:1/a/v1internal", "http://127.0.0.1:1/b/v1internal"]
    assert c.oauth.token_url.endswith("/token") and c.zai.base_url.endswith("/anthropic")


def test_save_is_atomic_and_private(tmp_path: Path) -> None:
    p = tmp_path / "config.json"
    save_config(p, Config(port=1234))
    assert (p.stat().st_mode & 0o777) == 0o600
    assert not [f for f in tmp_path.iterdir() if f.name.endswith(".tmp")]
    assert load_config(p).config.port == 1234


@pytest.mark.parametrize("data", [
    {"auth-mode": "strict"},  # the attack run's misspelling: it ran with auth off
    {"authMode": "strict", "port": 9000},
    {"auth_mode": "off", "allow_lan_access": False, "nope": 1},  # an unknown key: the file is not understood
    {"monitor": {"enabeld": False}},
])
def test_an_unknown_setting_fails_closed_like_an_unreadable_file(tmp_path: Path, data: dict) -> None:
    """Regression (issue #27): a misspelled auth key was ignored and the proxy ran with auth off.
    A file with a setting trayproxy does not know is not what the user meant: its security
    settings fail closed until it is fixed; the rest of what it says still applies."""
    p = tmp_path / "config.json"
    p.write_text(json.dumps(data))
    res = load_config(p)
    assert res.config.effective_auth_mode == "strict" and res.config.allow_lan_access is False
    assert "until the file is fixed" in (res.message or "")
    if "port" in data:
        assert res.config.port == 9000
    if "auth-mode" in data:
        assert "did you mean 'auth_mode'" in (res.message or "")
    p.write_text(json.dumps({"auth_mode": "off", "port": 9000}))  # fixed by hand
    fixed = load_config(p)
    assert fixed.problems == [] and fixed.config.effective_auth_mode == "off"
