"""Onboarding a Google account that never used Code Assist: `loadCodeAssist` without a
`currentTier` -> `onboardUser` with the default allowed tier (no project for the free tier) ->
follow the long-running operation until `done` -> its `cloudaicompanionProject` is the project.

`ineligibleTiers` (with Google's reasons and validation links) are reported instead of a
generic refusal. The reading of the answers is pure; `onboard()` makes the calls.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Ineligible", "OnboardResult", "OnboardingError", "needs_onboarding", "default_tier",
           "ineligible_tiers", "describe_ineligible", "onboard", "POLLS", "POLL_INTERVAL"]

POLLS = 5  # onboardUser calls until the operation is done (CPA: 5, 2 s apart)
POLL_INTERVAL = 2.0


class OnboardingError(Exception):
    """Onboarding could not be done; the message says why, in Google's words where it gave some
    (what to do is accounts/words.py's, said for the window or the CLI). `link` when Google gave
    one; `transient` when trying again later may well work (still setting up, no project yet)."""

    def __init__(self, message: str, link: str | None = None, link_text: str | None = None,
                 transient: bool = False) -> None:
        super().__init__(message)
        self.link = link
        self.link_text = link_text
        self.transient = transient


@dataclass(frozen=True)
class Ineligible:
    tier: str
    reason: str
    url: str | None = None
    url_text: str | None = None


@dataclass(frozen=True)
class OnboardResult:
    project: str
    tier_id: str
    tier_name: str


def needs_onboarding(data: Any) -> bool:
    """A loadCodeAssist answer with no current tier and no project: never onboarded."""
    return isinstance(data, dict) and not data.get("currentTier") and not data.get("cloudaicompanionProject")


def default_tier(data: Any) -> dict[str, Any] | None:
    tiers = data.get("allowedTiers") if isinstance(data, dict) else None
    if not isinstance(tiers, list):
        return None
    tiers = [t for t in tiers if isinstance(t, dict) and t.get("id")]
    return next((t for t in tiers if t.get("isDefault")), tiers[0] if tiers else None)


def ineligible_tiers(data: Any) -> list[Ineligible]:
    raw = data.get("ineligibleTiers") if isinstance(data, dict) else None
    out: list[Ineligible] = []
    for t in raw if isinstance(raw, list) else []:
        if not isinstance(t, dict):
            continue
        url = t.get("validationUrl")
        out.append(Ineligible(
            tier=str(t.get("tierName") or t.get("tierId") or "a tier"),
            reason=str(t.get("reasonMessage") or t.get("validationErrorMessage") or t.get("reasonCode") or "not eligible"),
            url=url if isinstance(url, str) and url.startswith("https://") else None,
            url_text=str(t["validationUrlLinkText"]) if t.get("validationUrlLinkText") else None,
        ))
    return out


def describe_ineligible(items: list[Ineligible]) -> str:
    return "; ".join(f"{i.tier}: {i.reason}" + (f" ({i.url})" if i.url else "") for i in items)


Call = Callable[[str], Awaitable[tuple[int, Any, bytes]]]


async def onboard(data: Any, call: Call, sleep: Callable[[float], Awaitable[Any]], *, email: str,
                  polls: int = POLLS, interval: float = POLL_INTERVAL) -> OnboardResult:
    """Onboard with the default allowed tier. `call(tier_id)` makes one onboardUser call."""
    bad = ineligible_tiers(data)
    tier = default_tier(data)
    link = next((i for i in bad if i.url), None)
    if tier is None:
        raise OnboardingError(
            f"Google offers {email} no Gemini Code Assist tier"
            + (f": {describe_ineligible(bad)}" if bad else "")
            + ".",
            link.url if link else None, link.url_text if link else None)
    tier_id, tier_name = str(tier["id"]), str(tier.get("name") or tier["id"])
    if tier.get("userDefinedCloudaicompanionProject"):
        raise OnboardingError(
            f"{email} can only use the tier '{tier_name}', which needs a Google Cloud project of your own"
            + (f" ({describe_ineligible(bad)})" if bad else "")
            + ". Set up Gemini Code Assist for that project in the Google Cloud console first.",
            link.url if link else None, link.url_text if link else None)
    for i in range(max(1, polls)):
        status, op, raw = await call(tier_id)
        if status != 200 or not isinstance(op, dict):
            msg = op.get("error", {}).get("message") if isinstance(op, dict) and isinstance(op.get("error"), dict) else None
            raise OnboardingError(
                f"Google refused to onboard {email} to '{tier_name}' (HTTP {status}: "
                f"{msg or raw[:200].decode('utf-8', 'replace')})"
                + (f". Ineligible: {describe_ineligible(bad)}" if bad else ""),
                link.url if link else None, link.url_text if link else None)
        if op.get("done"):
            resp_raw = op.get("response")
            resp: dict[str, Any] = resp_raw if isinstance(resp_raw, dict) else {}
            proj = resp.get("cloudaicompanionProject")
            project = proj.get("id") if isinstance(proj, dict) else proj
            if not isinstance(project, str) or not project:
                raise OnboardingError(f"Google finished onboarding {email} to '{tier_name}' but gave no project yet; "
                                      "try again in a minute.", transient=True)
            return OnboardResult(project, tier_id, tier_name)
        if i < polls - 1:
            await sleep(interval)
    raise OnboardingError(f"Google is still setting up {email} for '{tier_name}'; try again in a minute.",
                          transient=True)
