"""The rest policy: hints clamped, defaults grow, the bare 429's rest never grows."""

from __future__ import annotations

from trayproxy.accounts.cooldown import BARE_COOLDOWN, MAX_QUOTA_COOLDOWN, bounded
from trayproxy.accounts.triage import classify


def test_hint_is_clamped_and_explicit() -> None:
    assert bounded(30.0, 5.0, 60.0) == (30.0, True)
    assert bounded(0.01, 5.0, 60.0) == (1.0, True)
    assert bounded(1e9, 5.0, 60.0) == (60.0, True)
    assert bounded(0.01, 5.0, 60.0, floor=0.2) == (0.2, True)


def test_defaults_grow_on_repeats_up_to_the_cap() -> None:
    assert [bounded(None, 5.0, 60.0, r)[0] for r in range(5)] == [5.0, 10.0, 20.0, 40.0, 60.0]
    assert bounded(None, 5.0, 60.0, 3, grow=False) == (5.0, False)


def test_bare_429_rest_never_doubles() -> None:
    body = b'{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED"}}'
    assert {classify(429, {}, body, now=0, repeats=r).cooldown for r in range(8)} == {BARE_COOLDOWN}


def test_weekly_quota_reset_is_honoured_not_capped_at_an_hour() -> None:
    body = (b'{"error":{"code":429,"message":"You have exhausted your capacity on this model.","status":'
            b'"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":'
            b'"QUOTA_EXHAUSTED","domain":"cloudcode-pa.googleapis.com","metadata":{"quotaResetDelay":"166h2m"}}]}}')
    v = classify(429, {}, body, now=0)
    assert v.cooldown == 166 * 3600 + 120 and v.cooldown < MAX_QUOTA_COOLDOWN
