"""A client key: its shape, its hash (the only thing stored), its model patterns and expiry."""

from __future__ import annotations

import hashlib
import time

import pytest

from trayproxy.clientkeys.record import (
    PREFIX,
    ClientKey,
    ClientKeyError,
    generate,
    hash_key,
    looks_like_client_key,
    parse_expiry,
)
from trayproxy.monitor.redact import redact_text


def test_keys_are_random_240_bit_sk_tp_strings() -> None:
    keys = {generate() for _ in range(200)}
    assert len(keys) == 200
    for k in keys:
        assert k.startswith(PREFIX) and len(k) == len(PREFIX) + 40 and looks_like_client_key(k)
        assert all(c.isalnum() or c in "-_" for c in k[len(PREFIX):])


def test_the_hash_is_sha256_of_the_key_and_the_record_never_holds_the_key() -> None:
    secret = generate()
    key = ClientKey.new("ci", secret, rpm=10)
    assert key.hash == hashlib.sha256(secret.encode()).hexdigest() == hash_key(secret)
    assert hash_key(secret + "x") != key.hash
    stored = repr(key.to_json())
    assert secret not in stored and secret[len(PREFIX) + 4:] not in stored  # at most its 4 visible characters
    assert key.prefix == secret[: len(PREFIX) + 4]
    assert "hash" not in key.public()


def test_the_monitor_redacts_a_client_key_like_any_sk_key() -> None:
    secret = generate()
    assert secret not in redact_text(f"Authorization: Bearer {secret} and {{\"k\": \"{secret}\"}}")


def test_model_patterns_match_the_name_or_the_resolved_id() -> None:
    key = ClientKey.new("k", generate(), models=["gemini-*", "claude-sonnet-4-5"])
    assert key.allows_model("gemini-3-flash")
    assert key.allows_model("gpt-4o", "gemini-3-pro-high")  # mapped to an allowed id
    assert not key.allows_model("claude-opus-4-5", None)
    assert ClientKey.new("all", generate()).allows_model("anything")


def test_expiry_dates_spans_and_states() -> None:
    now = time.time()
    assert parse_expiry("30d", now=now) == now + 30 * 86400
    assert parse_expiry("12h", now=now) == now + 12 * 3600
    day_end = parse_expiry("2099-01-31", now=now)
    assert time.localtime(day_end)[:3] == (2099, 2, 1) and time.localtime(day_end).tm_hour == 0
    with pytest.raises(ClientKeyError, match="in the past"):
        parse_expiry("2001-01-01", now=now)
    with pytest.raises(ClientKeyError, match="--expires takes"):
        parse_expiry("tomorrow", now=now)
    key = ClientKey.new("k", generate(), expires_at=now + 10)
    assert key.state(now) == "active" and key.state(now + 11) == "expired"


@pytest.mark.parametrize("bad", [{"rpm": 0}, {"tpm": -1}, {"daily_tokens": True}, {"rpm": 1.5}])
def test_limits_must_be_whole_numbers(bad: dict[str, object]) -> None:
    with pytest.raises(ClientKeyError):
        ClientKey.new("k", generate(), **bad)  # type: ignore[arg-type]


def test_names_are_checked() -> None:
    with pytest.raises(ClientKeyError):
        ClientKey.new("bad\nname", generate())
    with pytest.raises(ClientKeyError):
        ClientKey.new("", generate())
