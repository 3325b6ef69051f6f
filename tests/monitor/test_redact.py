from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trayproxy.monitor import redact
from trayproxy.monitor.redact import MARK, cap_bytes, redact_bytes, redact_text


@pytest.mark.parametrize("secret", [
    "sk-abcdefghijk", "sk-proj_ABC-def_1234567890", "ya29.a0AfH6SMBx.long-token_value",
    "1//0gABCDEFGHIJKLMNOPQRSTUVWXYZ-abc", "AIzaSyD-1234567890abcdefghijklmnopqrstuv",
])
def test_token_shapes_are_removed_anywhere(secret: str) -> None:
    for text in (secret, f"prefix {secret} suffix", f'{{"content": "{secret}"}}', f"({secret})"):
        out = redact_text(text)
        assert secret not in out and MARK in out


@pytest.mark.parametrize("field", [
    "api_key", "apiKey", "api-key", "key", "access_token", "accessToken", "refresh_token", "authorization",
    "Authorization", "x-api-key", "x-goog-api-key", "client_secret", "password", "id_token",
])
def test_credential_named_json_fields(field: str) -> None:
    body = json.dumps({field: "plain value \"quoted\" here", "model": "gemini"})
    out = redact_text(body)
    assert "plain value" not in out and "quoted" not in out
    assert json.loads(out) == {field: MARK, "model": "gemini"}


def test_python_repr_fields_and_headers() -> None:
    out = redact_text("{'api_key': 'plain1'} Authorization: Basic plain2\nx-goog-api-key: plain3\nX-Api-Key:plain4")
    for s in ("plain1", "plain2", "plain3", "plain4"):
        assert s not in out


def test_bearer_and_url_keys() -> None:
    out = redact_text("Bearer abc.def-ghi_jkl GET /v1beta/models/x?alt=sse&key=plainkey123&y=2 ?access_token=zz9")
    assert "abc.def-ghi_jkl" not in out and "plainkey123" not in out and "zz9" not in out
    assert "alt=sse" in out and "&y=2" in out


def test_exact_secrets_in_every_spelling() -> None:
    s = "my/own+secret=value"
    text = f"raw {s} json {s.replace('/', chr(92) + '/')} url {'my%2Fown%2Bsecret%3Dvalue'}"
    out = redact_text(text, [s])
    assert "own" not in out and out.count(MARK) == 3


def test_short_or_empty_secrets_are_ignored() -> None:
    assert redact_text("a b c", ["", "a", "b c"]) == "a b c"


def test_ordinary_text_is_kept() -> None:
    text = '{"model": "gemini-2.5-pro", "messages": [{"role": "user", "content": "what is a monkey?"}], "max_tokens": 5}'
    assert redact_text(text) == text


def test_bytes_redact_before_cap_and_cap_marker() -> None:
    secret = "sk-" + "a" * 40
    data = (b"x" * 10) + secret.encode() + b"y" * 100
    out = redact_bytes(data, cap=15)  # the secret straddles the cap: nothing of it may survive
    assert b"aaaa" not in out and out.startswith(b"x" * 10)
    assert "truncated" in out.decode()
    assert redact_bytes(b"short", cap=100) == b"short"
    assert redact_bytes(b"\xff\xfe binary") .startswith("\ufffd".encode())


def test_cap_bytes_cuts_on_a_character_boundary() -> None:
    data = ("é" * 10).encode()  # 20 bytes
    out = cap_bytes(data, 5)
    assert out.decode().startswith("éé") and out.decode().endswith("[truncated 16 bytes]")
    assert cap_bytes(data, 100) == data


_PIECES = st.sampled_from([
    "key", "KEY", "\u212aey", "token", "ToKeN", "auth", "Authorization: ", "x-api-key: ", "\u017fecret", "secret",
    "password", "bearer ", "Bearer ", "sk-", "ya29.", "1//", "1%2F%2F", "1%2f%2f", "AIza", "\"", "'", ":", "=", "?",
    "&", " ", "\n", "{", "}", ",", "/", "-", "_", ".", "abcdefghij", "0123456789ABCDEFGHIJ", "é", "ü",
])


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, max_size=24).map("".join))
def test_the_quick_check_never_skips_a_pattern(text: str) -> None:
    """Text the cheap substring check lets through untouched is text no pattern would change."""
    full = text
    for pat in redact._PATTERNS:
        full = pat.sub(lambda m: m.group(1) + MARK + m.group(2), full) if pat.groups == 2 else pat.sub(MARK, full)
    assert redact_text(text) == full
