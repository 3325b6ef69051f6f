"""Reading Google error answers: durations, ErrorInfo/RetryInfo, links, network failures."""

from __future__ import annotations

import socket
import ssl

import orjson
import pytest

from trayproxy.upstream.errors import describe_network_error, parse_duration, parse_error, upstream_message
from trayproxy.upstream.transport import TransportError


@pytest.mark.parametrize("text,expected", [
    ("1.5s", 1.5), ("200ms", 0.2), ("1h16m0.667s", 4560.667), ("42s", 42.0), ("30", 30.0), ("2m30s", 150.0),
    ("166h2m", 597720.0),
])
def test_parse_duration(text: str, expected: float) -> None:
    assert parse_duration(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["", "abc", "5 parsecs", "1h x"])
def test_parse_duration_rejects(text: str) -> None:
    assert parse_duration(text) is None


def test_error_info_retry_info_and_timestamps() -> None:
    body = orjson.dumps({"error": {"code": 429, "message": "m", "status": "RESOURCE_EXHAUSTED", "details": [
        {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "QUOTA_EXHAUSTED",
         "domain": "cloudcode-pa.googleapis.com",
         "metadata": {"model": "gemini-3-flash", "quotaResetTimeStamp": "2026-01-01T00:01:40Z"}},
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "12.5s"}]}})
    from datetime import datetime, timezone

    now = datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp()
    e = parse_error(429, {"Retry-After": "7"}, body, now=now)
    assert (e.reason, e.domain, e.status_name) == ("QUOTA_EXHAUSTED", "cloudcode-pa.googleapis.com", "RESOURCE_EXHAUSTED")
    assert e.reset_delay == pytest.approx(100.0) and e.retry_delay == 12.5 and e.retry_after == 7.0
    assert e.hint == 7.0 and e.meta("model") == "gemini-3-flash"


def test_list_wrapped_plain_text_and_message_hints() -> None:
    wrapped = orjson.dumps([{"error": {"code": 429, "message": "Quota exceeded. Your quota will reset after 2m3s."}}])
    e = parse_error(429, {}, wrapped, now=0)
    assert e.message_delay == 123.0 and e.hint == 123.0 and not e.reason
    assert upstream_message(b"upstream connect error") == "upstream connect error"
    assert upstream_message(b"") == "(empty body)"
    assert parse_error(502, {}, b"<html>Bad Gateway</html>", now=0).message == "<html>Bad Gateway</html>"


def test_links_from_metadata_help_and_message() -> None:
    body = orjson.dumps({"error": {"code": 403, "message": "Enable it by visiting https://console.example/x then retry.",
                                   "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                                "reason": "SERVICE_DISABLED",
                                                "metadata": {"activationUrl": "https://console.example/x"}},
                                               {"@type": "type.googleapis.com/google.rpc.Help",
                                                "links": [{"description": "d", "url": "https://console.example/help"}]}]}})
    assert parse_error(403, {}, body, now=0).links == ("https://console.example/x", "https://console.example/help")


def _wrapped(cause: BaseException, **kw: bool) -> TransportError:
    try:
        try:
            raise cause
        except BaseException as c:
            raise TransportError("could not reach cloudcode-pa.googleapis.com: boom", **kw) from c
    except TransportError as e:
        return e


def test_network_failures_are_named() -> None:
    assert "DNS" in describe_network_error(_wrapped(socket.gaierror(-2, "Name or service not known")))
    assert "TLS" in describe_network_error(_wrapped(ssl.SSLCertVerificationError("certificate verify failed")))
    assert "refused" in describe_network_error(_wrapped(ConnectionRefusedError(111, "Connection refused")))
    assert "timed out" in describe_network_error(_wrapped(TimeoutError(), timeout=True))
    assert "internet connection" in describe_network_error(_wrapped(OSError("reset")))
