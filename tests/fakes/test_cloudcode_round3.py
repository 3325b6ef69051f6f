"""The fake's model of Google's upstream as of September 2026 (upstream-as-it-is §7): the client
version gate and its refusal texts, the updater manifest, tiered Flash ids with thinkingLevel,
both quota windows with retrieveUserQuotaSummary, refusals inside a 200, per-host catalogs, the
error bodies gemini-cli reads and Google One AI credits."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import aiohttp
import orjson
import pytest

from tests.fakes import FakeCloudCode, Reply
from tests.fakes.catalog import CATALOG_2025, CATALOG_2026_09
from tests.fakes.test_cloudcode import account, envelope, run

HUB = "antigravity/hub/2.9.1 darwin/arm64"


@pytest.fixture
def fake() -> Iterator[FakeCloudCode]:
    f = FakeCloudCode()
    with f:
        yield f


async def call(s: aiohttp.ClientSession, fake: FakeCloudCode, method: str, token: str, body: Any, *,
               host: str = "daily", ua: str = HUB) -> tuple[int, Any]:
    query = "?alt=sse" if method == "streamGenerateContent" else ""
    async with s.post(f"{fake.base_url(host)}:{method}{query}", json=body,
                      headers={"Authorization": f"Bearer {token}", "User-Agent": ua}) as r:
        raw = await r.read()
        if r.content_type == "text/event-stream":
            frames = [orjson.loads(line[6:]) for line in raw.split(b"\r\n\r\n") if line.startswith(b"data: ")]
            return r.status, frames
        return r.status, orjson.loads(raw)


def text_of(frames: list[dict[str, Any]]) -> str:
    return "".join(p.get("text", "") for f in frames for c in f["response"].get("candidates", [])
                   for p in c.get("content", {}).get("parts", []) if not p.get("thought"))


def test_the_default_catalog_is_september_2026(fake: FakeCloudCode) -> None:
    assert fake.models == CATALOG_2026_09
    _, token = account(fake)
    status, body = run(lambda s: call(s, fake, "fetchAvailableModels", token, {"project": "proj-a"}))
    ids = set(body["models"])
    assert status == 200
    assert {"gemini-3.8-flash-tiered", "gemini-3.7-flash-tiered", "gemini-3.5-flash-lite", "gemini-pro-agent",
            "claude-sonnet-4-6", "claude-opus-4-6-thinking"} <= ids
    assert "claude-sonnet-4-6-thinking" not in ids and "gemini-2.5-flash" not in ids
    assert body["deprecatedModelIds"]["gemini-2.5-flash"] == {"newModelId": "gemini-3-flash"}
    assert body["defaultAgentModelId"] == "gemini-3.8-flash-tiered"
    fake.use_catalog(CATALOG_2025)  # the older catalog stays available
    _, old = run(lambda s: call(s, fake, "fetchAvailableModels", token, {"project": "proj-a"}))
    assert "gemini-2.5-flash" in old["models"] and "deprecatedModelIds" not in old


@pytest.mark.parametrize("ua", ["antigravity/hub/2.2.1 darwin/arm64", "antigravity/cli/3.0.0 darwin/arm64",
                                "Antigravity/4.3.0 (X11; Linux x86_64) Chrome/132.0.6834.160 Electron/39.2.3"])
def test_the_version_gate_hides_new_ids_and_404s_them_below_the_floor(fake: FakeCloudCode, ua: str) -> None:
    """sub2api #6419: the same token answers 404 for a gated id under `hub/2.2.1` and 200 under
    `hub/2.9.1`; another family or an Electron-style UA is below the gate too."""
    _, token = account(fake)

    async def go(s: aiohttp.ClientSession) -> list[tuple[int, Any]]:
        return [await call(s, fake, "fetchAvailableModels", token, {"project": "proj-a"}, ua=ua),
                await call(s, fake, "generateContent", token, envelope("proj-a", "gemini-3.8-flash-tiered"), ua=ua),
                await call(s, fake, "generateContent", token, envelope("proj-a", "gemini-3.8-flash-tiered")),
                await call(s, fake, "generateContent", token, envelope("proj-a", "gemini-3-flash"), ua=ua)]

    (_, catalog), (low, err), (ok, _), (old, _) = run(go)
    assert "gemini-3.8-flash-tiered" not in catalog["models"] and "gemini-3-flash" in catalog["models"]
    assert low == 404 and err["error"]["message"] == "Requested entity was not found."
    assert ok == 200 and old == 200


def test_a_bare_api_client_user_agent_is_refused(fake: FakeCloudCode) -> None:
    _, token = account(fake)
    status, err = run(lambda s: call(s, fake, "fetchAvailableModels", token, {}, ua="google-api-nodejs-client/10.3.0"))
    assert status == 403 and err["error"]["status"] == "PERMISSION_DENIED"


def test_a_refused_version_gets_a_200_whose_only_text_is_the_refusal(fake: FakeCloudCode) -> None:
    _, token = account(fake)
    fake.refuse_versions_below("3.0.0")
    fake.refuse_versions_below("9.0.0", model="gemini-3.1-pro-low")

    async def go(s: aiohttp.ClientSession) -> list[tuple[int, Any]]:
        return [await call(s, fake, "streamGenerateContent", token, envelope("proj-a", "gemini-3-flash")),
                await call(s, fake, "streamGenerateContent", token, envelope("proj-a", "gemini-3-flash"),
                           ua="antigravity/hub/3.1.0 darwin/arm64"),
                await call(s, fake, "streamGenerateContent", token, envelope("proj-a", "gemini-3.1-pro-low"),
                           ua="antigravity/hub/3.1.0 darwin/arm64")]

    (s1, refused), (s2, fine), (s3, per_model) = run(go)
    assert s1 == s2 == s3 == 200
    assert text_of(refused) == ("This version of Antigravity is no longer supported. Please upgrade to receive the "
                                "latest features.")
    assert refused[-1]["response"]["candidates"][0]["finishReason"] == "STOP"
    assert text_of(fine).startswith("Echo: hello")
    assert text_of(per_model) == ("Gemini 3.1 Pro (Low) is not available on this version. Please upgrade to the "
                                  "latest version.")


def test_a_retired_model_still_listed_answers_with_a_switch_text(fake: FakeCloudCode) -> None:
    _, token = account(fake)
    status, frames = run(lambda s: call(s, fake, "streamGenerateContent", token,
                                        envelope("proj-a", "gemini-3.5-flash-low")))
    assert status == 200
    assert text_of(frames).startswith("Gemini 3.5 Flash is no longer available. Please switch to Gemini 3.7 Flash")


def test_the_updater_manifest_is_electron_builder_yaml(fake: FakeCloudCode) -> None:
    fake.updater_version = "2.9.4"

    async def go(s: aiohttp.ClientSession) -> tuple[int, str]:
        async with s.get(fake.manifest_url) as r:
            return r.status, await r.text()

    status, text = run(go)
    assert status == 200 and "version: 2.9.4\n" in text and "path: Antigravity-arm64-mac.zip" in text
    assert fake.requests[-1].rpc == "updater.manifest"
    assert fake.env()["TRAYPROXY_CLIENT_VERSION_URL"] == fake.manifest_url


def test_tiered_ids_take_a_level_never_with_a_budget_and_refuse_the_suffixed_ids(fake: FakeCloudCode) -> None:
    _, token = account(fake)

    def with_thinking(model: str, **tc: Any) -> dict[str, Any]:
        return envelope("proj-a", model, generationConfig={"thinkingConfig": {"includeThoughts": True, **tc}})

    async def go(s: aiohttp.ClientSession) -> list[tuple[int, Any]]:
        return [await call(s, fake, "streamGenerateContent", token, with_thinking("gemini-3.8-flash-tiered",
                                                                                 thinkingLevel=lvl))
                for lvl in ("LOW", "HIGH")] + [
            await call(s, fake, "generateContent", token, with_thinking("gemini-3.8-flash-tiered",
                                                                        thinkingLevel="HIGH", thinkingBudget=1024)),
            await call(s, fake, "generateContent", token, with_thinking("gemini-3.1-pro-low", thinkingLevel="LOW")),
            await call(s, fake, "generateContent", token, with_thinking("gemini-3.8-flash-tiered",
                                                                        thinkingLevel="minimal")),
            await call(s, fake, "generateContent", token, envelope("proj-a", "gemini-3.8-flash-high")),
            await call(s, fake, "generateContent", token, envelope("proj-a", "gemini-3.8-flash-low")),
            await call(s, fake, "generateContent", token, with_thinking("gemini-3.8-flash-tiered", thinkingBudget=512)),
        ]

    (s_low, low), (s_high, high), both, pro, minimal, suffixed_high, suffixed_low, budget = run(go)
    assert s_low == s_high == 200
    assert not any(p.get("thought") for f in low + high for p in f["response"]["candidates"][0]["content"]["parts"])
    assert "thoughtsTokenCount" not in low[-1]["response"]["usageMetadata"]  # LOW: no reasoning
    assert high[-1]["response"]["usageMetadata"]["thoughtsTokenCount"] == 3900
    assert both[0] == 400 and both[1]["error"]["message"] == ("You can only set only one of thinking budget and "
                                                             "thinking level.")
    assert pro[0] == 400 and "Thinking level is not supported" in pro[1]["error"]["message"]
    assert minimal[0] == 400 and "'minimal' is not a supported thinking level" in minimal[1]["error"]["message"]
    assert suffixed_high[0] == suffixed_low[0] == 404
    assert budget[0] == 200


def test_both_quota_windows_and_the_summary_call(fake: FakeCloudCode) -> None:
    a, token = account(fake)
    a.set_window("gemini", "weekly", 0.0, reset_in=150 * 3600)

    async def go(s: aiohttp.ClientSession) -> list[tuple[int, Any]]:
        return [await call(s, fake, "retrieveUserQuotaSummary", token, {"project": "proj-a"}),
                await call(s, fake, "fetchAvailableModels", token, {"project": "proj-a"}),
                await call(s, fake, "generateContent", token, envelope("proj-a", "gemini-3-flash")),
                await call(s, fake, "generateContent", token, envelope("proj-a", "claude-sonnet-4-6")),
                await call(s, fake, "retrieveUserQuotaSummary", token, {"bogus": 1})]

    (s1, summary), (_, catalog), (s3, err), (s4, _), (s5, _) = run(go)
    assert s1 == 200
    gemini, third = summary["groups"]
    assert gemini["displayName"] == "Gemini Models" and third["displayName"] == "Claude and GPT models"
    weekly = next(b for b in gemini["buckets"] if b["window"] == "weekly")
    assert weekly["bucketId"] == "gemini-weekly" and weekly["remainingFraction"] == 0.0
    assert {b["bucketId"] for b in third["buckets"]} == {"3p-weekly", "3p-5h"}
    # the 5-hour number reads 100 % while the weekly bucket is empty, and the request is refused
    assert catalog["models"]["gemini-3-flash"]["quotaInfo"]["remainingFraction"] == 1.0
    assert s3 == 429 and err["error"]["details"][0]["reason"] == "QUOTA_EXHAUSTED"
    reset = float(err["error"]["details"][0]["metadata"]["quotaResetDelay"].rstrip("s"))
    assert 149 * 3600 < reset <= 150 * 3600
    assert s4 == 200 and s5 == 400  # Claude's group is untouched; unknown body fields are refused


@pytest.mark.parametrize("style,wrapper", [("upper", None), ("none", "response"), ("window", "quotaSummary")])
def test_the_summary_shapes_peers_have_seen(fake: FakeCloudCode, style: str, wrapper: str | None) -> None:
    a, token = account(fake)
    a.set_window("3p", "5h", None)
    fake.summary_style, fake.summary_wrapper = style, wrapper
    _, body = run(lambda s: call(s, fake, "retrieveUserQuotaSummary", token, {"project": "proj-a"}))
    groups = (body[wrapper] if wrapper else body)["groups"]
    buckets = {b["bucketId"]: b for g in groups for b in g["buckets"]}
    assert buckets["gemini-weekly"].get("window") == {"upper": "WEEKLY", "none": None, "window": "weekly"}[style]
    assert "remainingFraction" not in buckets["3p-5h"]


def test_each_host_serves_its_own_catalog(fake: FakeCloudCode) -> None:
    _, token = account(fake)
    fake.host("daily").hide("gemini-3-flash-agent")

    async def go(s: aiohttp.ClientSession) -> list[tuple[int, Any]]:
        return [await call(s, fake, "fetchAvailableModels", token, {"project": "proj-a"}, host="daily"),
                await call(s, fake, "fetchAvailableModels", token, {"project": "proj-a"}, host="prod"),
                await call(s, fake, "generateContent", token, envelope("proj-a", "gemini-3.8-flash-tiered"),
                           host="prod"),
                await call(s, fake, "generateContent", token, envelope("proj-a", "gemini-3-flash-agent"),
                           host="daily")]

    (_, daily), (_, prod), (s3, _), (s4, _) = run(go)
    assert "gemini-3.8-flash-tiered" in daily["models"] and "gemini-3.8-flash-tiered" not in prod["models"]
    assert "gemini-3.7-flash-tiered" in prod["models"]
    assert "gemini-3-flash-agent" not in daily["models"] and "gemini-3-flash-agent" in prod["models"]
    assert s3 == 404 and s4 == 404


@pytest.mark.parametrize("reply,status,check", [
    (Reply.error(429, reason="INSUFFICIENT_G1_CREDITS_BALANCE"), 429,
     lambda e: e["details"][0]["reason"] == "INSUFFICIENT_G1_CREDITS_BALANCE"),
    (Reply.error(429, reason="MODEL_CAPACITY_EXCEEDED"), 429,
     lambda e: e["details"][0]["reason"] == "MODEL_CAPACITY_EXCEEDED" and "No capacity available" in e["message"]),
    (Reply.error(503, reason="MODEL_CAPACITY_EXHAUSTED", reset_delay="9s"), 503,
     lambda e: e["details"][1]["retryDelay"] == "9s"),
    (Reply.zero_limit(), 429, lambda e: "limit: 0" in e["message"] and "details" not in e),
    (Reply.daily_quota(), 429, lambda e: e["details"][0]["violations"][0]["quotaId"] == "RequestsPerDay-limit"),
    (Reply.error(499), 499, lambda e: e["message"] == "Client Closed Request" and e["status"] == "CANCELLED"),
    (Reply.error(403, reason="VALIDATION_REQUIRED", validation_url="https://accounts.google.com/v?x=1",
                 help_link=True), 403,
     lambda e: e["details"][1]["links"][0]["url"] == "https://accounts.google.com/v?x=1"
     and e["details"][0]["metadata"] == {}),
])
def test_the_error_bodies_gemini_cli_reads(fake: FakeCloudCode, reply: Reply, status: int, check: Any) -> None:
    a, token = account(fake)
    a.script(reply)
    got, body = run(lambda s: call(s, fake, "generateContent", token, envelope("proj-a", "gemini-3-flash")))
    assert got == status and check(body["error"])


def test_ai_credits_pay_for_a_spent_quota_when_the_envelope_asks(fake: FakeCloudCode) -> None:
    a, token = account(fake)
    b, token_b = account(fake, email="b@example.com")
    a.credits = 1
    for acc in (a, b):
        acc.set_window("3p", "5h", 0.0, reset_in=3600)
    paid = {**envelope("proj-a", "claude-sonnet-4-6"), "enabledCreditTypes": ["GOOGLE_ONE_AI"]}

    async def go(s: aiohttp.ClientSession) -> list[tuple[int, Any]]:
        return [await call(s, fake, "loadCodeAssist", token, {"metadata": {"ideType": "ANTIGRAVITY"}}),
                await call(s, fake, "streamGenerateContent", token, envelope("proj-a", "claude-sonnet-4-6")),
                await call(s, fake, "streamGenerateContent", token, paid),
                await call(s, fake, "streamGenerateContent", token, paid),
                await call(s, fake, "streamGenerateContent", token_b, {**paid, "project": "proj-b"})]

    (_, lca), (s1, _), (s2, frames), (s3, broke), (s4, none) = run(go)
    assert lca["paidTier"]["availableCredits"][0] == {"creditType": "GOOGLE_ONE_AI", "creditAmount": "1",
                                                      "minimumCreditAmountForUsage": "1"}
    assert s1 == 429 and s2 == 200
    assert frames[-1]["consumedCredits"][0]["creditAmount"] == "1"
    assert frames[-1]["remainingCredits"][0]["creditAmount"] == "0"
    assert s3 == 429 and broke["error"]["details"][0]["reason"] == "INSUFFICIENT_G1_CREDITS_BALANCE"
    assert s4 == 429 and a.credits == 0
