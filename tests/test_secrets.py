from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import keyring.backends.fail
import pytest

from trayproxy.secrets import API_KEY, SecretStore, SecretStoreError, validate_api_key


def test_api_key_generated_once_in_keychain(tmp_path: Path, memory_keyring) -> None:
    s = SecretStore(tmp_path / "secrets.json")
    assert not s.is_fallback
    k = s.api_key()
    assert re.fullmatch(r"sk-[0-9a-f]{32}", k)
    assert s.api_key() == k
    assert memory_keyring.store[("trayproxy", API_KEY)] == k
    assert not (tmp_path / "secrets.json").exists()


def test_user_key_rules(tmp_path: Path) -> None:
    s = SecretStore(tmp_path / "secrets.json")
    assert s.set_api_key("sk-1234567") == "sk-1234567"
    for bad in ("abc-12345678", "sk-123", "sk-12 34567", ""):
        with pytest.raises(SecretStoreError):
            s.set_api_key(bad)
    assert validate_api_key("  sk-abcdefgh ") == "sk-abcdefgh"


def test_falls_back_to_private_file_and_says_so(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="trayproxy.secrets"):
        s = SecretStore(tmp_path / "secrets.json", backend=keyring.backends.fail.Keyring())
    assert s.is_fallback and s.fallback_reason
    assert "secrets.json" in caplog.text
    k = s.api_key()
    s.set("refresh_token:x", "1//secret")
    f = tmp_path / "secrets.json"
    assert (f.stat().st_mode & 0o777) == 0o600
    assert json.loads(f.read_text()) == {"api_key": k, "refresh_token:x": "1//secret"}
    # the warning never contains a secret
    assert k not in caplog.text and "1//secret" not in caplog.text
    s.delete("refresh_token:x")
    assert s.get("refresh_token:x") is None


def test_file_fallback_parses_once_and_sees_other_processes_writes(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "secrets.json"
    s = SecretStore(f, backend=keyring.backends.fail.Keyring())
    other = SecretStore(f, backend=keyring.backends.fail.Keyring())  # e.g. `trayproxy` CLI in another process
    s.set("zai_key", "zk-1")
    parses = 0
    real_loads = json.loads

    def counting(text: str) -> object:
        nonlocal parses
        parses += 1
        return real_loads(text)

    monkeypatch.setattr("trayproxy.secrets.json.loads", counting)
    assert [s.get("zai_key") for _ in range(5)] == ["zk-1"] * 5
    assert parses <= 1  # per request reads hit the cache, not the file
    other.set("zai_key", "zk-2")
    assert s.get("zai_key") == "zk-2"
    other.delete("zai_key")
    assert s.get("zai_key") is None
    got = s._read_file()
    got["zai_key"] = "mutated"  # a caller's copy, not the cache
    assert s.get("zai_key") is None


def test_cached_reads_once_and_follows_its_own_writes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import MemoryKeyring
    from trayproxy.secrets import ZAI_KEY, SecretStore

    kr = MemoryKeyring()
    s = SecretStore(tmp_path / "s.json", backend=kr)
    assert s.cached(ZAI_KEY) is None
    kr.set_password("trayproxy", ZAI_KEY, "set-elsewhere")
    assert s.cached(ZAI_KEY) is None  # remembered: requests never wait for the keychain
    s.reread_cached()
    assert s.cached(ZAI_KEY) == "set-elsewhere"
    s.set(ZAI_KEY, "mine")
    assert s.cached(ZAI_KEY) == "mine"
    s.delete(ZAI_KEY)
    assert s.cached(ZAI_KEY) is None
