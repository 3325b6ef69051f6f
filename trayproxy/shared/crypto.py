"""Refresh tokens at rest in PostgreSQL: AES-256-GCM under a key that never leaves the instances.

1. The key: TRAYPROXY_SECRET_KEY when set (32 bytes as base64 / base64url / hex, or a passphrase
   of 16 characters or more, stretched with scrypt), else one generated once and kept in this
   machine's keychain (SecretStore, `shared_secret_key`). Instances that share accounts need the
   same key: set TRAYPROXY_SECRET_KEY to one value on all of them.
2. A token is stored as nonce (12 random bytes) + ciphertext + tag, with the account id as
   associated data: a ciphertext copied to another account's row does not decrypt.
3. `fingerprint()` names the key without revealing it (HMAC-SHA256 of a fixed text, 16 bytes);
   PostgreSQL keeps the fingerprint of the key its tokens were written under, so an instance
   with another key says so instead of failing token by token.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from typing import Any

__all__ = ["TokenCipher", "CipherError", "key_from_text", "load_key", "SECRET_NAME", "ENV"]

SECRET_NAME = "shared_secret_key"
ENV = "TRAYPROXY_SECRET_KEY"


class CipherError(RuntimeError):
    """A token could not be decrypted (another key, or a damaged row)."""


def key_from_text(text: str) -> bytes:
    s = text.strip()
    for decode in (lambda t: base64.urlsafe_b64decode(t + "=" * (-len(t) % 4)), base64.b64decode, bytes.fromhex):
        try:
            raw = decode(s)
        except (ValueError, binascii.Error):
            continue
        if len(raw) == 32:
            return raw
    if len(s) < 16:
        raise ValueError(f"{ENV} must be 32 bytes as base64 or hex, or a passphrase of at least 16 characters")
    return hashlib.scrypt(s.encode(), salt=b"trayproxy shared secret key", n=2**14, r=8, p=1, dklen=32)


def load_key(secrets: Any, env: dict[str, str] | None = None) -> tuple[bytes, str]:
    """(key, where it came from). Blocks on the keychain: call it in a worker thread."""
    env = dict(os.environ) if env is None else env
    if env.get(ENV):
        return key_from_text(env[ENV]), ENV
    stored = secrets.get(SECRET_NAME)
    if not stored:
        stored = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
        secrets.set(SECRET_NAME, stored)
    return key_from_text(stored), "keychain"


class TokenCipher:
    def __init__(self, key: bytes) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if len(key) != 32:
            raise ValueError("the secret key must be 32 bytes")
        self._aead = AESGCM(key)
        self._fp = hmac.new(key, b"trayproxy shared secret key check", hashlib.sha256).hexdigest()[:32]

    def fingerprint(self) -> str:
        return self._fp

    def encrypt(self, token: str, account_id: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, token.encode(), account_id.encode())

    def decrypt(self, blob: bytes, account_id: str) -> str:
        from cryptography.exceptions import InvalidTag

        if len(blob) < 12 + 16:
            raise CipherError("the stored token is too short")
        try:
            return self._aead.decrypt(blob[:12], blob[12:], account_id.encode()).decode()
        except InvalidTag:
            raise CipherError("the stored token does not decrypt with this instance's secret key") from None
