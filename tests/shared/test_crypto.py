"""Refresh tokens at rest: AES-256-GCM, bound to their account, unreadable under another key."""

from __future__ import annotations

import base64
import os

import pytest

from trayproxy.shared.crypto import ENV, SECRET_NAME, CipherError, TokenCipher, key_from_text, load_key


class Secrets:
    def __init__(self) -> None:
        self.data: dict[str, str] = {}

    def get(self, name: str) -> str | None:
        return self.data.get(name)

    def set(self, name: str, value: str) -> None:
        self.data[name] = value


def test_a_token_round_trips_and_its_ciphertext_holds_nothing_of_it() -> None:
    c = TokenCipher(os.urandom(32))
    token = "1//0g-refresh-token-" + "x" * 60
    blob = c.encrypt(token, "acc-1")
    assert c.decrypt(blob, "acc-1") == token
    assert token.encode() not in blob and b"refresh" not in blob
    assert c.encrypt(token, "acc-1") != blob  # a fresh nonce each time


def test_nothing_decrypts_without_the_key_or_on_another_account() -> None:
    c, other = TokenCipher(os.urandom(32)), TokenCipher(os.urandom(32))
    blob = c.encrypt("1//secret", "acc-1")
    with pytest.raises(CipherError):
        other.decrypt(blob, "acc-1")
    with pytest.raises(CipherError):
        c.decrypt(blob, "acc-2")  # copied to another account's row
    with pytest.raises(CipherError):
        c.decrypt(blob[:-1] + bytes([blob[-1] ^ 1]), "acc-1")  # changed by one bit
    assert c.fingerprint() != other.fingerprint() and len(c.fingerprint()) == 32


def test_the_key_comes_from_the_environment_or_is_made_once_in_the_keychain() -> None:
    raw = os.urandom(32)
    for text in (base64.urlsafe_b64encode(raw).decode().rstrip("="), base64.b64encode(raw).decode(), raw.hex()):
        assert key_from_text(text) == raw
    assert len(key_from_text("a long team passphrase")) == 32
    with pytest.raises(ValueError):
        key_from_text("short")
    secrets = Secrets()
    assert load_key(secrets, {ENV: raw.hex()}) == (raw, ENV)
    assert secrets.data == {}
    made, where = load_key(secrets, {})
    assert where == "keychain" and SECRET_NAME in secrets.data
    assert load_key(secrets, {})[0] == made  # made once, then read back
