"""Golden tests of the triage: bodies shaped like the ones Google sends (see
shared/reference/upstream-as-it-is.md §2), each to the verdict the peers learned to act on."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from trayproxy.accounts.cooldown import BARE_COOLDOWN, BARE_RETRY_DELAY
from trayproxy.accounts.triage import classify

EI = "type.googleapis.com/google.rpc.ErrorInfo"
RI = "type.googleapis.com/google.rpc.RetryInfo"
DOMAIN = "cloudcode-pa.googleapis.com"


def body(code: int, message: str, status: str, *details: dict[str, Any]) -> bytes:
    err: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        err["details"] = list(details)
    return orjson.dumps({"error": err})


QUOTA = body(429, "You have exhausted your capacity on this model. Your quota will reset after 2h41m7s.",
             "RESOURCE_EXHAUSTED",
             {"@type": EI, "reason": "QUOTA_EXHAUSTED", "domain": DOMAIN,
              "metadata": {"model": "claude-opus-4-6-thinking", "quotaResetDelay": "2h41m7.218s",
                           "quotaResetTimeStamp": "2026-11-30T12:41:07Z"}},
             {"@type": RI, "retryDelay": "9667.218s"})
RATE_SHORT = body(429, "Resource has been exhausted (e.g. check quota).", "RESOURCE_EXHAUSTED",
                  {"@type": EI, "reason": "RATE_LIMIT_EXCEEDED", "domain": DOMAIN, "metadata": {"model": "gemini-3-flash"}},
                  {"@type": RI, "retryDelay": "1.203608125s"})
RATE_LONG = body(429, "Resource has been exhausted (e.g. check quota).", "RESOURCE_EXHAUSTED",
                 {"@type": EI, "reason": "RATE_LIMIT_EXCEEDED", "domain": DOMAIN, "metadata": {"model": "gemini-3-flash"}},
                 {"@type": RI, "retryDelay": "42s"})
BARE = body(429, "Resource has been exhausted (e.g. check quota).", "RESOURCE_EXHAUSTED")
CAPACITY = body(503, "No capacity available for model claude-sonnet-4-6 on the server", "UNAVAILABLE",
                {"@type": EI, "reason": "MODEL_CAPACITY_EXHAUSTED", "domain": DOMAIN,
                 "metadata": {"model": "claude-sonnet-4-6"}})
CAPACITY_429 = body(429, "No capacity available for model gemini-3.1-pro-low on the server", "RESOURCE_EXHAUSTED",
                    {"@type": EI, "reason": "MODEL_CAPACITY_EXHAUSTED", "domain": DOMAIN,
                     "metadata": {"model": "gemini-3.1-pro-low"}})
VALIDATION = body(403, "Verify your account to continue.", "PERMISSION_DENIED",
                  {"@type": EI, "reason": "VALIDATION_REQUIRED", "domain": DOMAIN,
                   "metadata": {"validation_url": "https://accounts.google.com/signin/continue?sarp=1&scc=1&plt=AKgnsbtX",
                                "validation_url_link_text": "Verify your account",
                                "validation_error_message": "To continue, verify your account in a browser."}})
VALIDATION_NO_INFO = body(403, "VALIDATION_REQUIRED: verify your account at "
                          "https://accounts.google.com/signin/continue?x=1.", "PERMISSION_DENIED")
SERVICE_DISABLED = body(
    403, "Gemini for Google Cloud API has not been used in project 123456789 before or it is disabled. Enable it by "
    "visiting https://console.developers.google.com/apis/api/cloudaicompanion.googleapis.com/overview?project=123456789 "
    "then retry.", "PERMISSION_DENIED",
    {"@type": EI, "reason": "SERVICE_DISABLED", "domain": "googleapis.com",
     "metadata": {"service": "cloudaicompanion.googleapis.com", "consumer": "projects/123456789",
                  "serviceTitle": "Gemini for Google Cloud API", "containerInfo": "123456789",
                  "activationUrl": "https://console.developers.google.com/apis/api/cloudaicompanion.googleapis.com/"
                                   "overview?project=123456789"}},
    {"@type": "type.googleapis.com/google.rpc.Help", "links": [{
        "description": "Google developers console API activation",
        "url": "https://console.developers.google.com/apis/api/cloudaicompanion.googleapis.com/overview?project=123456789"}]})
LICENCE = body(403, "The caller does not have permission. You lack a Gemini Code Assist license.", "PERMISSION_DENIED")
TOS = body(403, "This account is not allowed to use this service: it has not accepted the terms of service.",
           "PERMISSION_DENIED")
OTHER_403 = body(403, "Permission 'cloudaicompanion.companions.generateChat' denied on resource "
                 "'//cloudaicompanion.googleapis.com/projects/proj-a/locations/global' (or it may not exist).",
                 "PERMISSION_DENIED")
NOT_FOUND = body(404, "Requested entity was not found.", "NOT_FOUND")
NOT_FOUND_400 = body(400, "Requested entity was not found.", "INVALID_ARGUMENT")
SIGNATURE = body(400, "messages.1.content.0: Invalid `signature` in `thinking` block", "INVALID_ARGUMENT")
CORRUPT_SIG = body(400, "Corrupted thought signature.", "INVALID_ARGUMENT")
BAD_REQUEST = body(400, "Invalid JSON payload received. Unknown name \"foo\": Cannot find field.", "INVALID_ARGUMENT")
INTERNAL = body(500, "Internal error encountered.", "INTERNAL")
UNAVAILABLE = body(503, "The service is currently unavailable.", "UNAVAILABLE")


def test_quota_cools_the_model_until_the_reset() -> None:
    v = classify(429, {}, QUOTA, now=0)
    assert (v.kind, v.model_scoped, v.failover, v.explicit, v.limit) == ("quota", True, True, True, True)
    assert v.cooldown == pytest.approx(2 * 3600 + 41 * 60 + 7.218)
    assert v.retry_same is None and "claude-opus-4-6-thinking" in v.summary


def test_short_rate_limit_waits_and_retries_the_same_account() -> None:
    v = classify(429, {}, RATE_SHORT, now=0)
    assert v.kind == "rate_limit" and v.retry_same == pytest.approx(1.2036, abs=1e-3) and v.limit
    assert v.failover and v.cooldown is not None and v.cooldown < 3


def test_long_rate_limit_cools_and_switches() -> None:
    v = classify(429, {}, RATE_LONG, now=0)
    assert v.kind == "rate_limit" and v.retry_same is None and v.cooldown == 42.0 and v.failover


def test_bare_429_is_not_a_quota() -> None:
    v = classify(429, {}, BARE, now=0)
    assert v.kind == "bare_429" and not v.limit
    assert v.retry_same == BARE_RETRY_DELAY and v.cooldown == BARE_COOLDOWN and v.failover
    # the same words with a hint are a real limit
    hinted = classify(429, {"Retry-After": "20"}, BARE, now=0)
    assert hinted.kind == "rate_limit" and hinted.cooldown == 20.0


@pytest.mark.parametrize("status,raw", [(503, CAPACITY), (429, CAPACITY_429)])
def test_capacity_is_google_not_the_account(status: int, raw: bytes) -> None:
    v = classify(status, {}, raw, now=0)
    assert v.kind == "capacity" and v.cooldown is None and v.retry_same is not None and v.failover and not v.limit


def test_validation_required_pauses_with_the_link() -> None:
    v = classify(403, {}, VALIDATION, now=0)
    assert v.kind == "verify" and v.pause and not v.disable and v.failover and not v.model_scoped
    assert v.link == "https://accounts.google.com/signin/continue?sarp=1&scc=1&plt=AKgnsbtX"
    assert v.link_text == "Verify your account" and v.summary == "To continue, verify your account in a browser."
    bare = classify(403, {}, VALIDATION_NO_INFO, now=0)
    assert bare.kind == "verify" and bare.link == "https://accounts.google.com/signin/continue?x=1"


def test_service_disabled_disables_with_the_activation_link() -> None:
    v = classify(403, {}, SERVICE_DISABLED, now=0)
    assert v.kind == "disabled" and v.disable and v.failover
    assert v.link and v.link.startswith("https://console.developers.google.com/apis/api/cloudaicompanion")
    assert "Gemini for Google Cloud API" in v.summary and "projects/123456789" in v.summary


@pytest.mark.parametrize("raw,word", [(LICENCE, "licence"), (TOS, "terms of service")])
def test_licence_and_terms_disable_with_the_reason(raw: bytes, word: str) -> None:
    v = classify(403, {}, raw, now=0)
    assert v.kind == "disabled" and v.disable and word in v.summary


def test_other_403_is_a_cooldown_not_a_disable() -> None:
    v = classify(403, {}, OTHER_403, now=0)
    assert v.kind == "forbidden" and not v.disable and not v.pause and v.cooldown == 60.0 and not v.model_scoped
    assert classify(403, {}, OTHER_403, now=0, repeats=2).cooldown == 240.0


@pytest.mark.parametrize("status,raw", [(404, NOT_FOUND), (400, NOT_FOUND_400)])
def test_model_not_found_fails_over_and_refreshes_the_catalog(status: int, raw: bytes) -> None:
    v = classify(status, {}, raw, now=0)
    assert v.kind == "not_found" and v.failover and v.refresh_catalog and v.model_scoped and v.cooldown


@pytest.mark.parametrize("raw", [SIGNATURE, CORRUPT_SIG])
def test_bad_thinking_signature_asks_for_a_retry_without_thinking(raw: bytes) -> None:
    v = classify(400, {}, raw, now=0)
    assert v.kind == "bad_signature" and v.strip_thinking and not v.failover and v.cooldown is None


def test_client_errors_go_to_the_client() -> None:
    v = classify(400, {}, BAD_REQUEST, now=0)
    assert v.kind == "client" and not v.failover and v.cooldown is None and "Unknown name" in v.message


@pytest.mark.parametrize("status,raw", [(500, INTERNAL), (503, UNAVAILABLE), (502, b"<html>502</html>"), (408, b"")])
def test_server_errors_rest_briefly_and_fail_over(status: int, raw: bytes) -> None:
    v = classify(status, {}, raw, now=0)
    assert v.kind == "server" and v.failover and v.cooldown == 5.0 and not v.limit


def test_unauthenticated_rests_the_whole_account() -> None:
    v = classify(401, {}, body(401, "Request had invalid authentication credentials.", "UNAUTHENTICATED"), now=0)
    assert v.kind == "auth" and not v.model_scoped and v.failover


# -- the variants gemini-cli reads (googleQuotaErrors.ts; upstream-as-it-is §7) --------------------
QF = "type.googleapis.com/google.rpc.QuotaFailure"
NOW = 1_790_000_000.0  # 2026-09-21 14:13:20 UTC, 06:13:20 Pacific (standard time)


def test_insufficient_credits_moves_on_without_resting_the_account() -> None:
    v = classify(429, {}, body(429, "Resource has been exhausted (e.g. check quota).", "RESOURCE_EXHAUSTED",
                               {"@type": EI, "reason": "INSUFFICIENT_G1_CREDITS_BALANCE"}), now=NOW)
    assert v.kind == "credits" and v.failover and v.cooldown is None


def test_capacity_exceeded_on_a_429_is_capacity() -> None:
    v = classify(429, {}, body(429, "No capacity available for model gemini-3.1-pro-preview on the server",
                               "RESOURCE_EXHAUSTED", {"@type": EI, "reason": "MODEL_CAPACITY_EXCEEDED",
                                                      "domain": DOMAIN, "metadata": {"model": "gemini-3.1-pro"}}),
                 now=NOW)
    assert v.kind == "capacity" and v.cooldown is None and v.failover


def test_limit_zero_means_the_account_has_no_quota_for_the_model() -> None:
    v = classify(429, {}, body(429, "Quota exceeded for metric: generativelanguage.googleapis.com/"
                               "generate_content_free_tier_requests, limit: 0, model: gemini-3-pro\nPlease retry "
                               "in 59.906331105s.", "RESOURCE_EXHAUSTED"), now=NOW)
    assert v.kind == "not_found" and v.cooldown == 6 * 3600 and v.failover and not v.refresh_catalog
    not_zero = classify(429, {}, body(429, "Quota exceeded, limit: 0.5 per second", "RESOURCE_EXHAUSTED"), now=NOW)
    assert not_zero.kind != "not_found"


def test_a_per_day_quota_failure_rests_until_pacific_midnight() -> None:
    v = classify(429, {}, body(429, "Quota exceeded", "RESOURCE_EXHAUSTED",
                               {"@type": QF, "violations": [{"quotaId": "RequestsPerDay-limit"}]}), now=NOW)
    assert v.kind == "quota" and v.failover
    assert v.cooldown == 17 * 3600 + 46 * 60 + 40  # 06:13:20 -> midnight


def test_a_per_minute_quota_failure_rests_a_minute() -> None:
    v = classify(429, {}, body(429, "Quota exceeded", "RESOURCE_EXHAUSTED", {"@type": QF, "violations": [
        {"quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"}]}), now=NOW)
    assert v.kind == "rate_limit" and v.cooldown == 60.0


def test_499_is_retried_once_then_moves_on() -> None:
    v = classify(499, {}, body(499, "Client Closed Request", "CANCELLED"), now=NOW)
    assert v.kind == "server" and v.retry_same == 1.0 and v.failover


def test_the_verification_link_may_come_in_a_help_detail() -> None:
    v = classify(403, {}, body(403, "Validation required to continue.", "PERMISSION_DENIED",
                               {"@type": EI, "reason": "VALIDATION_REQUIRED", "domain": DOMAIN, "metadata": {}},
                               {"@type": "type.googleapis.com/google.rpc.Help", "links": [
                                   {"description": "Verify", "url": "https://accounts.google.com/v?x=1"},
                                   {"description": "Learn more", "url": "https://support.google.com/accounts?p=al"}]}),
                 now=NOW)
    assert v.kind == "verify" and v.link == "https://accounts.google.com/v?x=1"
    meta = classify(403, {}, body(403, "Validation required", "PERMISSION_DENIED", {
        "@type": EI, "reason": "VALIDATION_REQUIRED", "metadata": {"validation_link": "https://accounts.google.com/m"}}),
        now=NOW)
    assert meta.link == "https://accounts.google.com/m"


def test_reasonless_exhausted_capacity_wording_is_a_quota() -> None:
    v = classify(429, {}, body(429, "You have exhausted your capacity on this model.", "RESOURCE_EXHAUSTED"), now=NOW)
    assert v.kind == "quota"
