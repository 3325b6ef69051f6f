from __future__ import annotations

import json

import pytest

from trayproxy.accounts.cooldown import MAX_COOLDOWN, classify, parse_duration


@pytest.mark.parametrize("text,expected", [
    ("1.5s", 1.5), ("200ms", 0.2), ("1h16m0.667s", 4560.667), ("42s", 42.0), ("30", 30.0), ("2m30s", 150.0),
])
def test_parse_duration(text: str, expected: float) -> None:
    assert parse_duration(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["", "abc", "5 parsecs", "1h x"])
def test_parse_duration_rejects(text: str) -> None:
    assert parse_duration(text) is None


def google_429(reason: str, delay: str | None) -> bytes:
    details = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason, "domain": "cloudcode-pa.googleapis.com",
                "metadata": ({"quotaResetDelay": delay} if delay else {})}]
    if delay:
        details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay})
    return json.dumps({"error": {"code": 429, "message": "You have exhausted your capacity on this model.",
                                 "status": "RESOURCE_EXHAUSTED", "details": details}}).encode()


def test_quota_with_reset_delay_is_model_scoped_and_honoured() -> None:
    v = classify(429, {}, google_429("QUOTA_EXHAUSTED", "30s"), now=0)
    assert (v.kind, v.cooldown, v.model_scoped, v.failover, v.explicit) == ("quota", 30.0, True, True, True)


def test_hour_long_reset_is_capped_then_reprobed() -> None:
    v = classify(429, {}, google_429("QUOTA_EXHAUSTED", "26h"), now=0)
    assert v.cooldown == MAX_COOLDOWN


def test_retry_after_header_wins() -> None:
    v = classify(429, {"Retry-After": "7"}, google_429("RATE_LIMIT_EXCEEDED", None), now=0)
    assert v.kind == "rate_limit" and v.cooldown == 7.0


def test_message_hint_and_defaults_escalate() -> None:
    body = json.dumps({"error": {"code": 429, "message": "Quota exceeded. Your quota will reset after 2m3s."}}).encode()
    assert classify(429, {}, body, now=0).cooldown == 123.0
    plain = json.dumps({"error": {"code": 429, "message": "Too many requests"}}).encode()
    first = classify(429, {}, plain, now=0).cooldown
    later = classify(429, {}, plain, now=0, repeats=2).cooldown
    assert first == 5.0 and later == 20.0


def test_other_statuses() -> None:
    assert classify(503, {}, b'{"error":{"code":503,"message":"unavailable"}}', now=0).kind == "server"
    assert classify(401, {}, b"{}", now=0).kind == "auth"
    v403 = classify(403, {}, b'{"error":{"message":"VALIDATION_REQUIRED"}}', now=0)
    assert v403.kind == "forbidden" and v403.failover
    v404 = classify(404, {}, b'{"error":{"message":"Requested entity was not found."}}', now=0)
    assert v404.kind == "not_found" and not v404.failover
    v400 = classify(400, {}, b'{"error":{"message":"bad"}}', now=0)
    assert v400.kind == "client" and not v400.failover and v400.cooldown is None
