"""Tests of the fake Cloud Code upstream itself (no internet, no timing dependence)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import aiohttp
import orjson
import pytest
from aiohttp import web

from tests.fakes import (
    BYPASS_SIGNATURE,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    FakeAccount,
    FakeCloudCode,
    Gate,
    Reply,
    ServerThread,
)

T = TypeVar("T")
UA = "antigravity/hub/2.9.1 darwin/arm64"


@pytest.fixture
def fake() -> Iterator[FakeCloudCode]:
    f = FakeCloudCode()
    with f:
        yield f


def run(fn: Callable[[aiohttp.ClientSession], Awaitable[T]]) -> T:
    async def go() -> T:
        async with aiohttp.ClientSession() as s:
            return await fn(s)

    return asyncio.run(go())


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "parts": [{"text": text}]}


def envelope(project: str, model: str = "gemini-3-flash", contents: list[dict[str, Any]] | None = None,
             **request: Any) -> dict[str, Any]:
    return {"project": project, "model": model, "requestId": "agent/1/abc", "userAgent": "antigravity",
            "requestType": "agent", "request": {"contents": contents or [user("hello")], **request}}


def headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "User-Agent": UA}


async def refresh(s: aiohttp.ClientSession, fake: FakeCloudCode, rt: str, *,
                  client_secret: str = DEFAULT_CLIENT_SECRET) -> tuple[int, dict[str, Any]]:
    form = {"grant_type": "refresh_token", "client_id": DEFAULT_CLIENT_ID, "client_secret": client_secret,
            "refresh_token": rt}
    async with s.post(fake.token_url, data=form) as r:
        return r.status, await r.json()


async def post(s: aiohttp.ClientSession, fake: FakeCloudCode, method: str, token: str, body: Any,
               host: str = "daily") -> tuple[int, Any]:
    query = "?alt=sse" if method == "streamGenerateContent" else ""
    async with s.post(f"{fake.base_url(host)}:{method}{query}", json=body, headers=headers(token)) as r:
        raw = await r.read()
        if r.content_type == "text/event-stream":
            return r.status, raw
        return r.status, orjson.loads(raw)


def sse_events(raw: bytes) -> list[dict[str, Any]]:
    frames = raw.split(b"\r\n\r\n")
    assert frames[-1] == b"", "stream must end with a complete CRLF-terminated frame"
    out = []
    for frame in frames[:-1]:
        assert frame.startswith(b"data: ")
        out.append(orjson.loads(frame[6:]))
    return out


def account(fake: FakeCloudCode, **kw: Any) -> tuple[FakeAccount, str]:
    a = fake.add_account(kw.pop("email", "a@example.com"), **kw)
    return a, fake.issue_access_token(a)


# -- OAuth -----------------------------------------------------------------------------------
def test_refresh_ok_then_invalid_grant_after_revoke_and_invalid_client(fake: FakeCloudCode) -> None:
    a = fake.add_account("a@example.com", refresh_token="rt-a", expires_in=1800)

    async def go(s: aiohttp.ClientSession) -> None:
        status, body = await refresh(s, fake, "rt-a")
        assert status == 200
        assert body["token_type"] == "Bearer" and body["expires_in"] == 1800 and "cloud-platform" in body["scope"]
        assert "refresh_token" not in body
        assert fake.account_for_token(body["access_token"]) is a
        assert await refresh(s, fake, "rt-unknown") == (
            400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
        status, body = await refresh(s, fake, "rt-a", client_secret="wrong")
        assert status == 401 and body["error"] == "invalid_client"
        a.revoke()
        status, body = await refresh(s, fake, "rt-a")
        assert status == 400 and body["error"] == "invalid_grant"

    run(go)
    assert fake.requests[0].rpc == "oauth.token" and fake.requests[0].account == "a@example.com"
    assert fake.requests[0].body["refresh_token"] == "rt-a"


def test_refresh_can_be_scripted_to_fail(fake: FakeCloudCode) -> None:
    fake.add_account("a@example.com", refresh_token="rt-a").script(Reply.error(503), method="token")

    async def go(s: aiohttp.ClientSession) -> list[int]:
        return [(await refresh(s, fake, "rt-a"))[0] for _ in range(2)]

    assert run(go) == [503, 200]


def test_authorization_code_flow_with_pkce(fake: FakeCloudCode) -> None:
    fake.add_account("first@example.com")
    b = fake.add_account("b@example.com", refresh_token="rt-b")
    fake.sign_in_as(b)
    verifier = "v" * 64
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    redirect = "http://127.0.0.1:5555/oauth-callback"

    async def go(s: aiohttp.ClientSession) -> None:
        params = {"client_id": DEFAULT_CLIENT_ID, "redirect_uri": redirect, "response_type": "code",
                  "scope": "openid email", "state": "st-1", "code_challenge": challenge,
                  "code_challenge_method": "S256", "access_type": "offline", "prompt": "consent"}
        async with s.get(fake.auth_url, params=params, allow_redirects=False) as r:
            assert r.status == 302
            loc = r.headers["Location"]
        assert loc.startswith(redirect + "?")
        q = parse_qs(urlsplit(loc).query)
        assert q["state"] == ["st-1"]
        code = q["code"][0]
        form = {"grant_type": "authorization_code", "client_id": DEFAULT_CLIENT_ID,
                "client_secret": DEFAULT_CLIENT_SECRET, "code": code, "redirect_uri": redirect}
        async with s.post(fake.token_url, data={**form, "code_verifier": "wrong" * 10}) as r:
            assert r.status == 400 and (await r.json())["error"] == "invalid_grant"
        async with s.post(fake.token_url, data={**form, "code_verifier": verifier}) as r:
            assert r.status == 200
            tokens = await r.json()
        assert tokens["refresh_token"] == "rt-b" and tokens["scope"] == "openid email"
        async with s.post(fake.token_url, data={**form, "code_verifier": verifier}) as r:
            assert r.status == 400, "codes are single use"
        async with s.get(fake.userinfo_url, headers={"Authorization": f"Bearer {tokens['access_token']}"}) as r:
            assert (await r.json())["email"] == "b@example.com"

        fake.deny_sign_in()
        async with s.get(fake.auth_url, params=params, allow_redirects=False) as r:
            q = parse_qs(urlsplit(r.headers["Location"]).query)
        assert q == {"error": ["access_denied"], "state": ["st-1"]}

    run(go)


def test_userinfo_and_expired_tokens(fake: FakeCloudCode) -> None:
    a, token = account(fake, name="Ada Lovelace")

    async def go(s: aiohttp.ClientSession) -> None:
        async with s.get(fake.userinfo_url, headers={"Authorization": f"Bearer {token}"}) as r:
            info = await r.json()
        assert r.status == 200
        assert info["email"] == "a@example.com" and info["verified_email"] is True and info["name"] == "Ada Lovelace"
        assert info["id"] and info["picture"].startswith("https://")
        async with s.get(fake.userinfo_url, headers={"Authorization": "Bearer nope"}) as r:
            assert r.status == 401 and (await r.json())["error"]["status"] == "UNAUTHENTICATED"
        a.expire_tokens()
        async with s.get(fake.userinfo_url, headers={"Authorization": f"Bearer {token}"}) as r:
            assert r.status == 401
        status, body = await post(s, fake, "streamGenerateContent", token, envelope(a.project or ""))
        assert status == 401 and body["error"]["status"] == "UNAUTHENTICATED"
        assert body["error"]["message"].startswith("Request had invalid authentication credentials.")

    run(go)


# -- account RPCs ----------------------------------------------------------------------------
def test_load_code_assist_onboarded_and_not(fake: FakeCloudCode) -> None:
    _, t1 = account(fake, project="proj-a", tier="PRO")
    _, t2 = account(fake, email="new@example.com", project=None, tier="FREE")
    body = {"metadata": {"ideType": "ANTIGRAVITY", "platform": "PLATFORM_UNSPECIFIED", "pluginType": "GEMINI"}}

    async def go(s: aiohttp.ClientSession) -> tuple[Any, Any, Any]:
        return ((await post(s, fake, "loadCodeAssist", t1, body))[1], (await post(s, fake, "loadCodeAssist", t2, body))[1],
                await post(s, fake, "loadCodeAssist", t1, {"metadata": {"ideKind": "X"}}))

    onboarded, fresh, bad = run(go)
    assert onboarded["cloudaicompanionProject"] == "proj-a"
    assert onboarded["currentTier"]["id"] == "standard-tier" and onboarded["paidTier"]["name"] == "Google AI Pro"
    assert "cloudaicompanionProject" not in fresh and "currentTier" not in fresh
    assert any(t.get("isDefault") for t in fresh["allowedTiers"])
    assert bad[0] == 400 and 'Unknown name "ideKind" at \'metadata\'' in bad[1]["error"]["message"]


def test_fetch_available_models_reports_scripted_quota(fake: FakeCloudCode) -> None:
    a, token = account(fake, project="proj-a", quota={"gemini-3-flash": 0.8, "claude-sonnet-4-6": 0.0})

    async def go(s: aiohttp.ClientSession) -> tuple[Any, Any, Any]:
        return (await post(s, fake, "fetchAvailableModels", token, {"project": "proj-a"}),
                await post(s, fake, "fetchAvailableModels", token, {}),
                await post(s, fake, "fetchAvailableModels", token, {"project": "someone-else"}))

    (status, body), (status2, _), (status3, err) = run(go)
    assert status == 200 and status2 == 200
    flash = body["models"]["gemini-3-flash"]
    assert flash["quotaInfo"]["remainingFraction"] == 0.8 and flash["quotaInfo"]["resetTime"].endswith("Z")
    assert flash["displayName"] and flash["maxOutputTokens"] > 0 and flash["supportsThinking"] is True
    assert body["models"]["claude-sonnet-4-6"]["quotaInfo"]["remainingFraction"] == 0.0  # used up: said so
    a.quota_unreported_fraction.add("claude-sonnet-4-6")  # a fresh free-tier Claude quota: a resetTime only
    _, again = run(lambda s: post(s, fake, "fetchAvailableModels", token, {"project": "proj-a"}))
    assert set(again["models"]["claude-sonnet-4-6"]["quotaInfo"]) == {"resetTime"}
    assert body["models"]["gemini-pro-agent"]["quotaInfo"]["remainingFraction"] == 1.0
    assert status3 == 403 and err["error"]["status"] == "PERMISSION_DENIED"


def test_the_2026_catalog_differs_per_account_forwards_retired_ids_and_refuses_unlisted_ones(
        fake: FakeCloudCode) -> None:
    from tests.fakes.catalog import AGENT_SORTS_2026, CATALOG_2026, DEPRECATED_2026, FREE_TIER_2026

    fake.use_catalog(CATALOG_2026, DEPRECATED_2026, default_model="gemini-3.8-flash-high", sorts=AGENT_SORTS_2026)
    _, pro = account(fake, project="proj-a")
    _, free = account(fake, email="f@example.com", project="proj-f", models=FREE_TIER_2026)

    async def go(s: aiohttp.ClientSession) -> list[Any]:
        return [await post(s, fake, "fetchAvailableModels", pro, {"project": "proj-a"}),
                await post(s, fake, "fetchAvailableModels", free, {"project": "proj-f"}),
                await post(s, fake, "streamGenerateContent", pro, envelope("proj-a", "gemini-3.8-flash-high")),
                await post(s, fake, "streamGenerateContent", pro, envelope("proj-a", "gemini-2.5-flash")),
                await post(s, fake, "streamGenerateContent", free, envelope("proj-f", "claude-sonnet-4-6")),
                await post(s, fake, "generateContent", free, envelope("proj-f", "gemini-3.8-flash-low"))]

    (st, cat), (st2, free_cat), ok, retired, unlisted, ok2 = run(go)
    assert st == st2 == 200
    assert set(cat["models"]) == set(CATALOG_2026) and set(free_cat["models"]) == set(FREE_TIER_2026)
    lite = cat["models"]["gemini-3.5-flash-lite"]
    assert lite["displayName"] == "Gemini 3.5 Flash Lite" and lite["apiProvider"] == "API_PROVIDER_GOOGLE_GEMINI"
    assert lite["maxOutputTokens"] == 32768 and lite["maxTokens"] > lite["maxOutputTokens"]
    assert cat["models"]["claude-sonnet-4-6"]["apiProvider"] == "API_PROVIDER_ANTHROPIC_VERTEX"
    assert cat["deprecatedModelIds"]["gemini-3.1-pro-high"] == {"newModelId": "gemini-pro-agent"}
    assert cat["defaultAgentModelId"] == "gemini-3.8-flash-high"
    groups = free_cat["agentModelSorts"][0]["groups"]
    assert all(m in FREE_TIER_2026 for g in groups for m in g["modelIds"])  # only what this account lists
    assert ok[0] == 200 and ok2[0] == 200
    for status, body in (retired, unlisted):
        assert status == 404 and body["error"] == {"code": 404, "message": "Requested entity was not found.",
                                                   "status": "NOT_FOUND"}
    fake.retire("gemini-3.8-flash-low", "gemini-3.8-flash-high")
    assert "gemini-3.8-flash-low" not in fake.account("f@example.com").served()


def test_more_output_than_the_model_allows_is_refused(fake: FakeCloudCode) -> None:
    from tests.fakes.catalog import CATALOG_2026

    fake.use_catalog(CATALOG_2026)
    _, token = account(fake, project="proj-a")
    env = envelope("proj-a", "gemini-3.5-flash-lite", generationConfig={"maxOutputTokens": 40000})
    ok = envelope("proj-a", "gemini-3.5-flash-lite", generationConfig={"maxOutputTokens": 32768})

    async def go(s: aiohttp.ClientSession) -> list[Any]:
        return [await post(s, fake, "generateContent", token, env), await post(s, fake, "generateContent", token, ok)]

    (status, body), (status2, _) = run(go)
    assert status == 400 and "supported range is from 1 (inclusive) to 32769 (exclusive)" in body["error"]["message"]
    assert status2 == 200


def test_count_tokens_is_deterministic(fake: FakeCloudCode) -> None:
    _, token = account(fake)
    body = {"request": {"model": "gemini-3-flash", "contents": [user("x" * 40)]}}

    async def go(s: aiohttp.ClientSession) -> list[Any]:
        return [await post(s, fake, "countTokens", token, body) for _ in range(2)]

    first, second = run(go)
    assert first == second == (200, {"totalTokens": 10})


# -- generation: framing ---------------------------------------------------------------------
def test_stream_frames_wrapper_thoughts_and_final_usage(fake: FakeCloudCode) -> None:
    a, token = account(fake, project="proj-a")
    a.script(Reply.text("Hello there, how are you", chunks=3))
    env = envelope("proj-a", generationConfig={"thinkingConfig": {"includeThoughts": True, "thinkingBudget": 1024}})

    async def go(s: aiohttp.ClientSession) -> tuple[int, Any]:
        return await post(s, fake, "streamGenerateContent", token, env)

    status, raw = run(go)
    assert status == 200
    events = sse_events(raw)
    assert all(set(e) >= {"response"} for e in events)
    responses = [e["response"] for e in events]
    parts = [r["candidates"][0]["content"]["parts"][0] for r in responses]
    thoughts = [p for p in parts if p.get("thought")]
    texts = [p["text"] for p in parts if not p.get("thought")]
    assert thoughts and parts[: len(thoughts)] == thoughts, "thoughts come first"
    assert "thoughtSignature" in thoughts[-1]
    assert "".join(texts) == "Hello there, how are you" and len(texts) == 3
    assert all("finishReason" not in r["candidates"][0] for r in responses[:-1])
    last = responses[-1]
    assert last["candidates"][0]["finishReason"] == "STOP"
    usage = last["usageMetadata"]
    assert usage["totalTokenCount"] == usage["promptTokenCount"] + usage["candidatesTokenCount"] + usage[
        "thoughtsTokenCount"]
    assert last["modelVersion"] == "gemini-3-flash" and last["responseId"]
    rec = fake.last()
    assert rec.host == "daily" and rec.account == "a@example.com" and rec.query == {"alt": "sse"}
    assert rec.header("authorization") == f"Bearer {token}" and rec.body["model"] == "gemini-3-flash"
    assert a.calls == 1 and fake.accounts_used() == ["a@example.com"]


def test_generate_content_is_one_json_and_default_reply_echoes(fake: FakeCloudCode) -> None:
    _, token = account(fake, project="proj-a")

    async def go(s: aiohttp.ClientSession) -> tuple[int, Any]:
        return await post(s, fake, "generateContent", token, envelope("proj-a", "claude-sonnet-4-6",
                                                                       [user("ping me back")]))

    status, body = run(go)
    assert status == 200
    cand = body["response"]["candidates"][0]
    assert cand["content"]["parts"] == [{"text": "Echo: ping me back"}]
    assert cand["finishReason"] == "STOP" and body["response"]["usageMetadata"]["candidatesTokenCount"] > 0


def test_describe_reply_proves_what_arrived(fake: FakeCloudCode) -> None:
    a, token = account(fake, project="proj-a")
    a.script(Reply.echo(describe=True))
    img = base64.b64encode(b"\x89PNG....").decode()
    env = envelope(
        "proj-a", "claude-sonnet-4-6",
        [{"role": "user", "parts": [{"text": "what is this"}, {"inlineData": {"mimeType": "image/png", "data": img}}]}],
        systemInstruction={"role": "user", "parts": [{"text": "You are terse."}]},
        tools=[{"functionDeclarations": [{"name": "run_shell", "parameters": {
            "type": "OBJECT", "properties": {"command": {"type": "STRING"}}, "required": ["command"]}}]}],
    )

    async def go(s: aiohttp.ClientSession) -> tuple[int, Any]:
        return await post(s, fake, "generateContent", token, env)

    status, body = run(go)
    text = body["response"]["candidates"][0]["content"]["parts"][0]["text"]
    assert status == 200 and text.startswith("Echo: what is this [received ")
    assert "system='You are terse.'" in text and "tools=run_shell" in text and "media=image/png:" in text


def test_tool_call_reply_is_signed_for_thinking_models_only(fake: FakeCloudCode) -> None:
    a, token = account(fake, project="proj-a")
    a.script(Reply.tool_call("run_shell", {"command": "ls"}), Reply.tool_call("run_shell", {"command": "ls"}))

    async def go(s: aiohttp.ClientSession) -> list[Any]:
        return [await post(s, fake, "generateContent", token, envelope("proj-a", m))
                for m in ("gemini-pro-agent", "claude-sonnet-4-6")]

    (_, thinking), (_, plain) = run(go)
    fc = thinking["response"]["candidates"][0]["content"]["parts"][-1]
    assert fc["functionCall"] == {"name": "run_shell", "args": {"command": "ls"}} and fc["thoughtSignature"]
    assert "thoughtSignature" not in plain["response"]["candidates"][0]["content"]["parts"][-1]


def test_malformed_function_call_and_empty_stream(fake: FakeCloudCode) -> None:
    a, token = account(fake, project="proj-a")
    a.script(Reply.malformed_function_call(), Reply.empty())

    async def go(s: aiohttp.ClientSession) -> list[Any]:
        return [await post(s, fake, "streamGenerateContent", token, envelope("proj-a")) for _ in range(2)]

    (s1, raw1), (s2, raw2) = run(go)
    events = sse_events(raw1)
    cand = events[-1]["response"]["candidates"][0]
    assert cand["finishReason"] == "MALFORMED_FUNCTION_CALL" and "content" not in cand
    assert s2 == 200 and raw2 == b""


# -- generation: errors ----------------------------------------------------------------------
def test_429_quota_body_shape_and_retry_after(fake: FakeCloudCode) -> None:
    a, token = account(fake, project="proj-a")
    a.script(Reply.error(429, reason="QUOTA_EXHAUSTED", reset_delay="30s", retry_after=30),
             Reply.error(429), Reply.error(503, reason="MODEL_CAPACITY_EXHAUSTED"),
             Reply.error(403, reason="VALIDATION_REQUIRED", validation_url="https://example.com/verify"))

    async def go(s: aiohttp.ClientSession) -> list[tuple[int, Any, str | None]]:
        out = []
        for _ in range(4):
            async with s.post(f"{fake.base_url('prod')}:streamGenerateContent?alt=sse",
                              json=envelope("proj-a"), headers=headers(token)) as r:
                out.append((r.status, await r.json(), r.headers.get("Retry-After")))
        return out

    (st, quota, retry_after), (st2, rate, _), (st3, cap, _), (st4, val, _) = run(go)
    assert st == 429 and retry_after == "30"
    err = quota["error"]
    assert err["code"] == 429 and err["status"] == "RESOURCE_EXHAUSTED"
    assert err["message"] == "You have exhausted your capacity on this model. Your quota will reset after 30s."
    info, retry = err["details"]
    assert info["@type"] == "type.googleapis.com/google.rpc.ErrorInfo" and info["reason"] == "QUOTA_EXHAUSTED"
    assert info["domain"] == "cloudcode-pa.googleapis.com"
    assert info["metadata"]["model"] == "gemini-3-flash" and info["metadata"]["quotaResetDelay"] == "30s"
    assert info["metadata"]["quotaResetTimeStamp"].endswith("Z")
    assert retry == {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "30s"}
    assert st2 == 429 and rate["error"]["details"][0]["reason"] == "RATE_LIMIT_EXCEEDED"
    assert st3 == 503 and cap["error"]["status"] == "UNAVAILABLE"
    assert cap["error"]["details"][0]["reason"] == "MODEL_CAPACITY_EXHAUSTED"
    assert st4 == 403 and val["error"]["details"][0]["reason"] == "VALIDATION_REQUIRED"
    assert val["error"]["details"][0]["metadata"]["validation_url"] == "https://example.com/verify"
    assert val["error"]["details"][0]["metadata"]["validation_url"] == "https://example.com/verify"


def test_exhausted_quota_answers_429_by_itself_and_unknown_model_404(fake: FakeCloudCode) -> None:
    a, token = account(fake, project="proj-a", quota={"claude-sonnet-4-6": 0.0})

    async def go(s: aiohttp.ClientSession) -> list[Any]:
        return [await post(s, fake, "generateContent", token, envelope("proj-a", m))
                for m in ("claude-sonnet-4-6", "no-such-model")]

    (s1, b1), (s2, b2) = run(go)
    assert s1 == 429 and b1["error"]["details"][0]["reason"] == "QUOTA_EXHAUSTED"
    assert s2 == 404 and b2 == {"error": {"code": 404, "message": "Requested entity was not found.",
                                          "status": "NOT_FOUND"}}


def test_wrong_project_is_permission_denied(fake: FakeCloudCode) -> None:
    _, token = account(fake, project="proj-a")

    async def go(s: aiohttp.ClientSession) -> tuple[int, Any]:
        return await post(s, fake, "generateContent", token, envelope("proj-b"))

    status, body = run(go)
    assert status == 403 and "projects/proj-b" in body["error"]["message"]


# -- validation ------------------------------------------------------------------------------
def _declaration(parameters: Any, name: str = "run_shell") -> list[dict[str, Any]]:
    return [{"functionDeclarations": [{"name": name, "description": "d", "parameters": parameters}]}]


BAD_REQUESTS: list[tuple[str, dict[str, Any], str]] = [
    ("additionalProperties", {"tools": _declaration({"type": "object", "properties": {}, "additionalProperties": False})},
     "Invalid JSON payload received. Unknown name \"additionalProperties\" at "
     "'request.tools[0].function_declarations[0].parameters': Cannot find field."),
    ("nested $ref", {"tools": _declaration({"type": "object", "properties": {"a": {"$ref": "#/$defs/A"}}})},
     "Unknown name \"$ref\" at 'request.tools[0].function_declarations[0].parameters.properties[0].value'"),
    ("const in items", {"tools": _declaration({"type": "array", "items": {"const": 1}})},
     "Unknown name \"const\" at 'request.tools[0].function_declarations[0].parameters.items'"),
    ("type list", {"tools": _declaration({"type": ["string", "null"]})}, "Proto field is not repeating"),
    ("required undefined", {"tools": _declaration({"type": "OBJECT", "properties": {"a": {"type": "STRING"}},
                                                   "required": ["b"]})},
     "* GenerateContentRequest.tools[0].function_declarations[0].parameters.required[0]: property is not defined"),
    ("bad function name", {"tools": _declaration({"type": "OBJECT"}, name="run shell!")}, "Invalid function name."),
    ("unknown part field", {"contents": [{"role": "user", "parts": [{"text": "x", "foo": 1}]}]},
     "Invalid JSON payload received. Unknown name \"foo\" at 'request.contents[0].parts[0]': Cannot find field."),
    ("bad role", {"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]},
     "Please use a valid role: user, model."),
    ("empty contents", {"contents": []}, "* GenerateContentRequest.contents: contents is not specified"),
    ("two data fields", {"contents": [{"role": "user", "parts": [{"text": "x", "inlineData": {
        "mimeType": "image/png", "data": "AAAA"}}]}]}, "Oneof field 'data' is already set"),
    ("bad base64", {"contents": [{"role": "user", "parts": [{"inlineData": {"mimeType": "image/png",
                                                                            "data": "@@@"}}]}]},
     "Base64 decoding failed"),
    ("generationConfig key", {"generationConfig": {"max_tokens": 5}},
     "Unknown name \"max_tokens\" at 'request.generation_config': Cannot find field."),
    ("thinkingConfig key", {"generationConfig": {"thinkingConfig": {"budget": 5}}},
     "Unknown name \"budget\" at 'request.generation_config.thinking_config'"),
    ("functionResponse not object", {"contents": [
        user("x"), {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": "ok"}}]}]},
     "function_response.response' (type.googleapis.com/google.protobuf.Struct)"),
    ("missing functionResponse", {"contents": [
        user("x"), {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}}]}, user("hi")]},
     "number of function response parts is equal to the number of function call parts"),
    ("orphan functionResponse", {"contents": [
        {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {}}}]}]},
     "function response turn comes immediately after a function call turn"),
]


@pytest.mark.parametrize("case", BAD_REQUESTS, ids=[c[0] for c in BAD_REQUESTS])
def test_malformed_requests_get_googles_400(fake: FakeCloudCode, case: tuple[str, dict[str, Any], str]) -> None:
    _, overrides, expected = case
    _, token = account(fake, project="proj-a")
    env = envelope("proj-a", "claude-sonnet-4-6")
    env["request"].update(overrides)

    async def go(s: aiohttp.ClientSession) -> tuple[int, Any]:
        return await post(s, fake, "streamGenerateContent", token, env)

    status, body = run(go)
    assert status == 400, body
    assert body["error"]["status"] == "INVALID_ARGUMENT" and body["error"]["code"] == 400
    assert expected in body["error"]["message"]


def test_envelope_checks(fake: FakeCloudCode) -> None:
    _, token = account(fake, project="proj-a")
    extra = {**envelope("proj-a"), "foo": 1}
    no_model = {k: v for k, v in envelope("proj-a").items() if k != "model"}
    snake_ok = envelope("proj-a", tool_config={"functionCallingConfig": {"mode": "VALIDATED"}},
                        toolConfig={"functionCallingConfig": {"mode": "VALIDATED"},
                                    "includeServerSideToolInvocations": True})

    async def go(s: aiohttp.ClientSession) -> list[Any]:
        out = [await post(s, fake, "generateContent", token, b) for b in (extra, no_model, snake_ok)]
        async with s.post(f"{fake.base_url('daily')}:generateContent", data=b"{", headers={
                **headers(token), "Content-Type": "application/json"}) as r:
            out.append((r.status, await r.json()))
        async with s.post(f"{fake.base_url('daily')}:generateContent", json=envelope("proj-a")) as r:
            out.append((r.status, await r.json()))
        return out

    (s1, b1), (s2, _), (s3, _), (s4, b4), (s5, b5) = run(go)
    assert s1 == 400 and b1["error"]["message"] == 'Invalid JSON payload received. Unknown name "foo": Cannot find field.'
    assert s2 == 400 and s3 == 200
    assert s4 == 400 and b4["error"]["message"].startswith("Invalid JSON payload received.")
    assert s5 == 401 and b5["error"]["message"].startswith("Request is missing required authentication credential")


# -- thought signatures ----------------------------------------------------------------------
def _history(call_part: dict[str, Any]) -> list[dict[str, Any]]:
    return [user("list files"), {"role": "model", "parts": [call_part]},
            {"role": "user", "parts": [{"functionResponse": {"name": "run_shell", "response": {"output": "a b"}}}]}]


def test_signature_enforcement(fake: FakeCloudCode) -> None:
    a, token = account(fake, project="proj-a")
    a.script(Reply.tool_call("run_shell", {"command": "ls"}))
    call = {"functionCall": {"name": "run_shell", "args": {"command": "ls"}}}
    not_issued = base64.b64encode(b"x" * 60).decode()
    claude_sig = fake.issue_signature("claude-opus-4-6-thinking")

    async def go(s: aiohttp.ClientSession) -> list[tuple[int, Any]]:
        _, first = await post(s, fake, "generateContent", token, envelope("proj-a", "gemini-pro-agent"))
        issued = first["response"]["candidates"][0]["content"]["parts"][-1]
        bodies = [
            _history(call),  # missing
            _history({**call, "thoughtSignature": not_issued}),  # corrupted
            _history({**call, "thoughtSignature": claude_sig}),  # other family
            _history({**call, "thoughtSignature": BYPASS_SIGNATURE}),  # bypass
            _history({**call, "thought_signature": issued["thoughtSignature"]}),  # issued, snake_case spelling
        ]
        out = [await post(s, fake, "generateContent", token, envelope("proj-a", "gemini-pro-agent", c))
               for c in bodies]
        out.append(await post(s, fake, "generateContent", token, envelope("proj-a", "claude-sonnet-4-6",
                                                                          _history(call))))
        return out

    missing, corrupted, other_family, bypass, issued_ok, non_thinking = run(go)
    assert missing[0] == 400
    assert missing[1]["error"]["message"] == (
        "Function call is missing a thought_signature in functionCall parts. This is required for tools to work "
        "correctly, and missing thought_signature may lead to degraded model performance. Additional data, "
        "function call `default_api:run_shell`, position 2. Please refer to "
        "https://ai.google.dev/gemini-api/docs/thought-signatures for more details.")
    assert corrupted == (400, {"error": {"code": 400, "message": "Corrupted thought signature.",
                                         "status": "INVALID_ARGUMENT"}})
    assert other_family[0] == 400 and other_family[1]["error"]["message"] == "Corrupted thought signature."
    assert bypass[0] == 200 and issued_ok[0] == 200
    assert non_thinking[0] == 200, "models that do not think do not check signatures"
    assert issued_ok[1]["response"]["candidates"][0]["content"]["parts"][-1]["text"].startswith("Echo: functionResponse")


# -- transport behaviours --------------------------------------------------------------------
def test_host_failover_scripting(fake: FakeCloudCode) -> None:
    _, token = account(fake, project="proj-a")
    fake.host("sandbox").fail_with(503)
    fake.host("daily").drop_connections(times=1)
    fake.host("weird-name").fail_with(404, times=1)

    async def go(s: aiohttp.ClientSession) -> list[Any]:
        out: list[Any] = [await post(s, fake, "generateContent", token, envelope("proj-a"), host="sandbox")]
        try:
            await post(s, fake, "generateContent", token, envelope("proj-a"), host="daily")
            out.append("answered")
        except aiohttp.ClientError as e:
            out.append(type(e).__name__)
        out.append((await post(s, fake, "generateContent", token, envelope("proj-a"), host="daily"))[0])
        out.append((await post(s, fake, "generateContent", token, envelope("proj-a"), host="weird-name"))[0])
        out.append((await post(s, fake, "generateContent", token, envelope("proj-a"), host="weird-name"))[0])
        return out

    unavailable, dropped, healed, not_found, then_ok = run(go)
    assert unavailable == (503, {"error": {"code": 503, "message": "The service is currently unavailable.",
                                           "status": "UNAVAILABLE"}})
    assert dropped in ("ServerDisconnectedError", "ClientOSError")
    assert (healed, not_found, then_ok) == (200, 404, 200)
    assert fake.host("sandbox").calls == 1 and [r.host for r in fake.requests][-2:] == ["weird-name"] * 2


def test_fail_after_sends_n_chunks_then_drops(fake: FakeCloudCode) -> None:
    a, token = account(fake, project="proj-a")
    a.script(Reply.fail_after(2))

    async def go(s: aiohttp.ClientSession) -> tuple[list[bytes], str]:
        frames: list[bytes] = []
        async with s.post(f"{fake.base_url('daily')}:streamGenerateContent?alt=sse", json=envelope("proj-a", "claude-sonnet-4-6"),
                          headers=headers(token)) as r:
            assert r.status == 200
            try:
                async for line in r.content:
                    if line.startswith(b"data: "):
                        frames.append(line)
            except aiohttp.ClientPayloadError as e:
                return frames, type(e).__name__
        return frames, "completed"

    frames, outcome = run(go)
    assert len(frames) == 2 and outcome == "ClientPayloadError"
    assert all(b"finishReason" not in f for f in frames)


def test_error_event_mid_stream(fake: FakeCloudCode) -> None:
    a, token = account(fake, project="proj-a")
    a.script(Reply.error_after(1, 500))

    async def go(s: aiohttp.ClientSession) -> tuple[int, Any]:
        return await post(s, fake, "streamGenerateContent", token, envelope("proj-a", "claude-sonnet-4-6"))

    status, raw = run(go)
    events = sse_events(raw)
    assert status == 200 and len(events) == 2 and events[1] == {"error": {
        "code": 500, "message": "Internal error encountered.", "status": "INTERNAL"}}


@pytest.mark.parametrize("after_headers", [False, True])
def test_hang_is_released_by_the_test(fake: FakeCloudCode, after_headers: bool) -> None:
    a, token = account(fake, project="proj-a")
    gate = Gate()
    a.script(Reply.hang(gate, after_headers=after_headers, then=Reply.text("finally", chunks=1)))

    async def go(s: aiohttp.ClientSession) -> tuple[int, Any]:
        task = asyncio.ensure_future(post(s, fake, "streamGenerateContent", token,
                                          envelope("proj-a", "claude-sonnet-4-6")))
        entered = await asyncio.get_running_loop().run_in_executor(None, gate.wait_entered)
        assert entered and not task.done()
        gate.release()
        return await task

    status, raw = run(go)
    events = sse_events(raw)
    assert status == 200 and events[-1]["response"]["candidates"][0]["content"]["parts"][0]["text"] == "finally"


def test_stopping_the_fake_ends_a_hang(fake: FakeCloudCode) -> None:
    a, token = account(fake, project="proj-a")
    gate = Gate()
    a.script(Reply.hang(gate))

    async def go(s: aiohttp.ClientSession) -> str:
        task = asyncio.ensure_future(post(s, fake, "generateContent", token, envelope("proj-a")))
        await asyncio.get_running_loop().run_in_executor(None, gate.wait_entered)
        await asyncio.get_running_loop().run_in_executor(None, fake.stop)
        try:
            await task
        except aiohttp.ClientError as e:
            return type(e).__name__
        return "answered"

    assert run(go) != "answered"


def test_paced_stream_has_the_requested_chunks(fake: FakeCloudCode) -> None:
    a, token = account(fake, project="proj-a")
    a.script(Reply.stream(n_chunks=5, delay_ms=1))

    async def go(s: aiohttp.ClientSession) -> tuple[int, Any]:
        return await post(s, fake, "streamGenerateContent", token, envelope("proj-a", "claude-sonnet-4-6"))

    _, raw = run(go)
    assert len(sse_events(raw)) == 5


# -- runner and CLI --------------------------------------------------------------------------
def test_server_thread_runs_any_app() -> None:
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hi")

    app = web.Application()
    app.router.add_get("/", hello)
    server = ServerThread(app)
    url = server.start()
    try:
        assert url.startswith("http://127.0.0.1:")

        async def go(s: aiohttp.ClientSession) -> str:
            async with s.get(url + "/") as r:
                return await r.text()

        assert run(go) == "hi"
    finally:
        server.stop()
    assert server.url == ""


def test_standalone_cli_prints_base_urls() -> None:
    root = Path(__file__).resolve().parents[2]
    with subprocess.Popen([sys.executable, "-m", "tests.fakes.cloudcode", "--port", "0", "--accounts", "1"],
                          cwd=root, stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            lines = [proc.stdout.readline() for _ in range(3)]
        finally:
            proc.terminate()
            proc.wait(10)
    assert lines[0].startswith("fake Cloud Code listening on http://127.0.0.1:")
    assert "/daily/v1internal" in lines[1] and "/prod/v1internal" in lines[2]


def test_claude_thinking_rules(fake: FakeCloudCode) -> None:
    _, token = account(fake, project="proj-a")
    model = "claude-opus-4-6-thinking"
    sig = fake.issue_signature(model)
    on = {"thinkingConfig": {"includeThoughts": True, "thinkingBudget": 1024}}
    call = {"functionCall": {"name": "run_shell", "args": {}}, "thoughtSignature": sig}
    result = {"role": "user", "parts": [{"functionResponse": {"name": "run_shell", "response": {"ok": True}}}]}
    unsigned_thought = [user("q"), {"role": "model", "parts": [{"text": "hmm", "thought": True}, call]}, result]
    no_thought_first = [user("q"), {"role": "model", "parts": [call]}, result]
    good = [user("q"), {"role": "model", "parts": [{"text": "hmm", "thought": True, "thoughtSignature": sig},
                                                   call]}, result]

    async def go(s: aiohttp.ClientSession) -> list[tuple[int, Any]]:
        return [await post(s, fake, "generateContent", token, envelope("proj-a", model, c, generationConfig=on))
                for c in (unsigned_thought, no_thought_first, good)]

    (s1, b1), (s2, b2), (s3, _) = run(go)
    assert s1 == 400 and b1["error"]["message"] == "messages.1.content.0.thinking.signature: Field required"
    assert s2 == 400 and "Expected `thinking` or `redacted_thinking`, but found `tool_use`" in b2["error"]["message"]
    assert s3 == 200


def test_quota_per_call_runs_an_account_dry(fake: FakeCloudCode) -> None:
    a, token = account(fake, project="proj-a", quota={"claude-sonnet-4-6": 0.5})
    fake.quota_per_call = 0.25

    async def go(s: aiohttp.ClientSession) -> list[int]:
        return [(await post(s, fake, "generateContent", token, envelope("proj-a", "claude-sonnet-4-6")))[0]
                for _ in range(3)]

    assert run(go) == [200, 200, 429]
    assert a.quota["claude-sonnet-4-6"] == 0.0 and a.calls == 3


def test_raw_replies_and_account_rpc_scripts(fake: FakeCloudCode) -> None:
    a, token = account(fake, project="proj-a")
    a.script(Reply.raw(200, b"data: {not json\r\n\r\n", {"Content-Type": "text/event-stream"}))
    a.script(Reply.error(403, message="Forbidden project"), method="fetchAvailableModels")

    async def go(s: aiohttp.ClientSession) -> list[tuple[int, Any]]:
        return [await post(s, fake, "streamGenerateContent", token, envelope("proj-a")),
                await post(s, fake, "fetchAvailableModels", token, {"project": "proj-a"}),
                await post(s, fake, "fetchAvailableModels", token, {"project": "proj-a"})]

    (s1, raw), (s2, b2), (s3, b3) = run(go)
    assert (s1, raw) == (200, b"data: {not json\r\n\r\n")
    assert s2 == 403 and b2["error"] == {"code": 403, "message": "Forbidden project", "status": "PERMISSION_DENIED"}
    assert s3 == 200 and "models" in b3


def test_search_runs_only_on_web_search_model_ids_and_links_through_the_redirector(fake: FakeCloudCode) -> None:
    """Reference §7: fetchAvailableModels lists webSearchModelIds; a googleSearch tool on another id
    is refused with 400; the grounded answer's chunks link through grounding-api-redirect, which
    answers with the real page in Location."""
    a, token = account(fake, project="proj-a")
    a.web_search_models = ["gemini-3-flash"]
    search = [{"googleSearch": {}}]

    async def go(s: aiohttp.ClientSession) -> tuple[Any, ...]:
        models = await post(s, fake, "fetchAvailableModels", token, {"project": "proj-a"})
        refused = await post(s, fake, "generateContent", token,
                             {**envelope("proj-a", "gemini-3.1-flash-lite", [user("latest python")], tools=search),
                              "requestType": "web_search"})
        grounded = await post(s, fake, "generateContent", token,
                              {**envelope("proj-a", "gemini-3-flash", [user("latest python")], tools=search),
                               "requestType": "web_search"})
        link = grounded[1]["response"]["candidates"][0]["groundingMetadata"]["groundingChunks"][0]["web"]["uri"]
        local = fake.redirect_base + link.rsplit("/", 1)[1]
        async with s.head(local, allow_redirects=False) as r:
            redirected = (r.status, r.headers.get("Location"))
        async with s.head(fake.redirect_base + "unknown", allow_redirects=False) as r:
            unknown = r.status
        return models, refused, grounded, link, redirected, unknown

    (_, models), refused, (status, grounded), link, redirected, unknown = run(go)
    assert models["webSearchModelIds"] == ["gemini-3-flash"]
    assert refused[0] == 400 and "webSearchModelIds" in refused[1]["error"]["message"]
    assert status == 200
    cand = grounded["response"]["candidates"][0]
    meta = cand["groundingMetadata"]
    text = cand["content"]["parts"][0]["text"]
    assert meta["webSearchQueries"] == ["latest python"]
    assert link.startswith("https://vertexaisearch.cloud.google.com/grounding-api-redirect/")
    assert [c["web"]["title"] for c in meta["groundingChunks"]] == ["example.com", "docs.example.org", "news.example.net"]
    for sup in meta["groundingSupports"]:  # UTF-8 byte offsets into the answer
        seg = sup["segment"]
        assert text.encode()[seg["startIndex"]:seg["endIndex"]].decode() == seg["text"]
    assert redirected == (302, "https://example.com/latest-python")
    assert unknown == 404
