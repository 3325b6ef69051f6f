"""Reading loadCodeAssist for onboarding and following onboardUser's long-running operation."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from trayproxy.accounts.onboarding import (
    OnboardingError,
    default_tier,
    ineligible_tiers,
    needs_onboarding,
    onboard,
)

FREE = {"id": "free-tier", "name": "Gemini Code Assist for individuals", "isDefault": True,
        "userDefinedCloudaicompanionProject": False}
STANDARD = {"id": "standard-tier", "name": "Gemini Code Assist", "userDefinedCloudaicompanionProject": True}
NEW = {"allowedTiers": [FREE, STANDARD], "gcpManaged": False}


def run(data: Any, answers: list[tuple[int, Any]], polls: int = 5) -> tuple[Any, list[str]]:
    calls: list[str] = []
    sleeps: list[float] = []

    async def call(tier: str) -> tuple[int, Any, bytes]:
        calls.append(tier)
        status, body = answers.pop(0)
        return status, body, b"{}"

    async def sleep(s: float) -> None:
        sleeps.append(s)

    res = asyncio.run(onboard(data, call, sleep, email="n@example.com", polls=polls, interval=2.0))
    return res, calls


def test_reads_the_answer() -> None:
    assert needs_onboarding(NEW) and not needs_onboarding({"currentTier": FREE, "cloudaicompanionProject": "p"})
    assert default_tier(NEW) == FREE
    bad = ineligible_tiers({"ineligibleTiers": [{"reasonCode": "RESTRICTED_AGE", "reasonMessage": "too young",
                                                 "tierId": "free-tier", "tierName": "Free",
                                                 "validationUrl": "https://x.example/v"}]})
    assert bad[0].reason == "too young" and bad[0].url == "https://x.example/v" and bad[0].tier == "Free"


def test_follows_the_operation_until_done() -> None:
    res, calls = run(NEW, [(200, {"name": "operations/1", "done": False}),
                           (200, {"name": "operations/1", "done": True,
                                  "response": {"cloudaicompanionProject": {"id": "proj-x", "name": "proj-x"}}})])
    assert (res.project, res.tier_id, res.tier_name) == ("proj-x", "free-tier", "Gemini Code Assist for individuals")
    assert calls == ["free-tier", "free-tier"]


def test_never_done_and_refusals_say_what_to_do() -> None:
    with pytest.raises(OnboardingError, match="still setting up"):
        run(NEW, [(200, {"name": "o", "done": False})] * 3, polls=3)
    with pytest.raises(OnboardingError, match="HTTP 403: nope"):
        run(NEW, [(403, {"error": {"code": 403, "message": "nope"}})])
    with pytest.raises(OnboardingError, match="Google Cloud project of your own"):
        run({"allowedTiers": [{**STANDARD, "isDefault": True}]}, [])
    with pytest.raises(OnboardingError) as ei:
        run({"ineligibleTiers": [{"tierName": "Free", "reasonMessage": "not in your country",
                                  "validationUrl": "https://x.example/v"}]}, [])
    assert "not in your country" in str(ei.value) and ei.value.link == "https://x.example/v"
