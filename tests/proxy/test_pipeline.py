"""The request path through the transport seam: failover, cooldowns, empty-answer retry,
token refresh, forbidden accounts, mid-stream failure. Uses the Gemini-native route, whose
converter is a plain relay, so these tests are about the pipeline alone."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from tests.proxy.app_stack import AppStack, app_stack
from trayproxy.upstream.transport import MockTransport, UpstreamRequest

Reply = tuple[int, dict[str, str], bytes | list[bytes]]


def sse(*events: dict) -> list[bytes]:
    return [b"data: " + json.dumps({"response": e}).encode() + b"\r\n\r\n" for e in events]


def text_events(text: str = "Hello", finish: str = "STOP") -> list[bytes]:
    return sse(
        {"candidates": [{"content": {"role": "model", "parts": [{"text": text[:2]}]}}]},
        {"candidates": [{"content": {"role": "model", "parts": [{"text": text[2:]}]}, "finishReason": finish}],
         "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 2, "totalTokenCount": 7}},
    )


def quota_429(delay: str) -> Reply:
    body = {"error": {"code": 429, "message": "You have exhausted your capacity on this model.", "status": "RESOURCE_EXHAUSTED",
                      "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "QUOTA_EXHAUSTED",
                                   "metadata": {"quotaResetDelay": delay}}]}}
    return 429, {}, json.dumps(body).encode()


class Upstream:
    """Scripted Cloud Code + OAuth behind MockTransport. Scripts are per account e-mail."""

    def __init__(self) -> None:
        self.scripts: dict[str, list[Callable[[], Reply] | Reply]] = defaultdict(list)
        self.calls: dict[str, int] = defaultdict(int)
        self.refreshes: dict[str, int] = defaultdict(int)
        self.revoked: set[str] = set()
        self.expired_tokens: set[str] = set()
        self.transport = MockTransport(self.handle)

    async def handle(self, req: UpstreamRequest) -> Reply:
        if req.url.endswith("/token"):
            form = parse_qs((req.body or b"").decode())
            rt = form["refresh_token"][0]
            email = rt.removeprefix("rt-")
            if email in self.revoked:
                return 400, {}, b'{"error":"invalid_grant","error_description":"Token has been expired or revoked."}'
            self.refreshes[email] += 1
            return 200, {}, json.dumps({"access_token": f"at-{email}-{self.refreshes[email]}", "expires_in": 3600}).encode()
        token = req.headers["Authorization"].removeprefix("Bearer ")
        email = token.removeprefix("at-").rsplit("-", 1)[0]
        if token in self.expired_tokens:
            return 401, {}, b'{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}'
        self.calls[email] += 1
        script = self.scripts[email]
        if script:
            item = script.pop(0)
            return item() if callable(item) else item
        return 200, {"content-type": "text/event-stream"}, text_events(f"Hi from {email}")


@pytest.fixture()
def up() -> Upstream:
    return Upstream()


@pytest.fixture()
async def stack(up: Upstream, tmp_path: Path) -> AsyncIterator[AppStack]:
    async with app_stack(tmp_path, transport=up.transport) as s:
        for email in ("a@x.com", "b@x.com", "c@x.com"):
            s.add_account(email, f"proj-{email[0]}")
        yield s


async def call(stack: AppStack, *, stream: bool = False, text: str = "hello",
               model: str = "gemini-3.8-flash-tiered") -> tuple[int, dict[str, str], bytes]:
    method = "streamGenerateContent?alt=sse" if stream else "generateContent"
    return await stack.post(f"/v1beta/models/{model}:{method}",
                            {"contents": [{"role": "user", "parts": [{"text": text}]}]})


def account_email(stack: AppStack, headers: dict[str, str]) -> str:
    acc = stack.store.get(headers["x-trayproxy-account"])
    assert acc is not None
    return acc.email


async def test_quota_429_fails_over_and_cools_the_account(stack: AppStack, up: Upstream) -> None:
    # find which account serves this conversation, then make it hit quota
    s, h, _ = await call(stack, text="conv-1")
    first = account_email(stack, h)
    up.scripts[first].append(quota_429("30s"))
    s, h, b = await call(stack, text="conv-1")
    assert s == 200 and account_email(stack, h) != first
    assert json.loads(b)["candidates"][0]["content"]["parts"][0]["text"].startswith("Hi from")
    assert h["x-trayproxy-model"] == "gemini-3.8-flash-tiered"
    acc = stack.store.by_email(first)
    assert acc is not None and 25 < stack.pool.cooldown_left(acc.id, "gemini-3.8-flash-tiered") <= 30
    # the cooled account is skipped for this model
    before = up.calls[first]
    for i in range(6):
        assert (await call(stack, text=f"other-{i}"))[0] == 200
    assert up.calls[first] == before


async def test_all_accounts_limited_gives_429_with_shortest_retry_after(stack: AppStack, up: Upstream) -> None:
    up.scripts["a@x.com"].append(quota_429("40s"))
    up.scripts["b@x.com"].append(quota_429("12s"))
    up.scripts["c@x.com"].append(quota_429("25s"))
    s, h, b = await call(stack)
    assert s == 429
    assert 11 <= int(h["retry-after"]) <= 12
    err = json.loads(b)["error"]
    assert err["status"] == "RESOURCE_EXHAUSTED" and "rate-limited" in err["message"]
    # and immediately again: no upstream call at all, same answer
    total = sum(up.calls.values())
    s, h, _ = await call(stack)
    assert s == 429 and sum(up.calls.values()) == total


async def test_empty_answer_is_retried_once_then_reported(stack: AppStack, up: Upstream) -> None:
    empty = (200, {}, sse({"candidates": [{"content": {"role": "model", "parts": []}}]}))
    malformed = (200, {}, sse({"candidates": [{"finishReason": "MALFORMED_FUNCTION_CALL"}]}))
    for email in up.scripts.keys() | {"a@x.com", "b@x.com", "c@x.com"}:
        up.scripts[email][:] = [empty, malformed]
    s, h, b = await call(stack)
    assert s == 502 and "empty answer" in json.loads(b)["error"]["message"]
    # one empty, then a real answer: the client only sees the real one
    for email in ("a@x.com", "b@x.com", "c@x.com"):
        up.scripts[email][:] = [malformed]
    s, h, b = await call(stack, text="again")
    assert s == 200 and json.loads(b)["candidates"][0]["content"]["parts"][0]["text"].startswith("Hi from")


async def test_expired_token_is_refreshed_and_retried_on_the_same_account(stack: AppStack, up: Upstream) -> None:
    s, h, _ = await call(stack, text="conv-x")
    email = account_email(stack, h)
    up.expired_tokens.add(f"at-{email}-1")
    s, h, _ = await call(stack, text="conv-x")
    assert s == 200 and account_email(stack, h) == email and up.refreshes[email] == 2


async def test_invalid_grant_disables_account_and_another_serves(stack: AppStack, up: Upstream) -> None:
    up.revoked.add("a@x.com")
    for i in range(6):
        s, h, _ = await call(stack, text=f"q{i}")
        assert s == 200 and account_email(stack, h) != "a@x.com"
    acc = stack.store.by_email("a@x.com")
    assert acc is not None and acc.disabled and acc.disabled_reason and "invalid_grant" in acc.disabled_reason
    listed = {a["email"]: a["state"] for a in stack.account_views()}
    assert "sign-in: invalid_grant" in listed["a@x.com"]


async def test_verification_403_pauses_the_account_and_others_serve(stack: AppStack, up: Upstream) -> None:
    s, h, _ = await call(stack, text="conv-f")
    email = account_email(stack, h)
    up.scripts[email].append((403, {}, b'{"error":{"code":403,"message":"Verify your account. VALIDATION_REQUIRED '
                                       b'https://accounts.google.com/signin/continue?x=1","status":"PERMISSION_DENIED"}}'))
    s, h, _ = await call(stack, text="conv-f")
    assert s == 200 and account_email(stack, h) != email
    acc = stack.store.by_email(email)
    assert acc is not None and not acc.disabled and acc.verify_url == "https://accounts.google.com/signin/continue?x=1"
    assert {a["email"]: a["status"] for a in stack.account_views()}[email] == "verify"


async def test_other_403_rests_the_account_without_disabling_it(stack: AppStack, up: Upstream) -> None:
    s, h, _ = await call(stack, text="conv-g")
    email = account_email(stack, h)
    up.scripts[email].append((403, {}, b'{"error":{"code":403,"message":"The caller does not have permission",'
                                       b'"status":"PERMISSION_DENIED"}}'))
    s, h, _ = await call(stack, text="conv-g")
    assert s == 200 and account_email(stack, h) != email
    acc = stack.store.by_email(email)
    assert acc is not None and not acc.disabled and stack.pool.cooldown_left(acc.id) > 0


async def test_client_errors_are_not_failover(stack: AppStack, up: Upstream) -> None:
    for email in ("a@x.com", "b@x.com", "c@x.com"):
        up.scripts[email].append((400, {}, b'{"error":{"code":400,"message":"Invalid JSON payload received.","status":"INVALID_ARGUMENT"}}'))
    s, _, b = await call(stack)
    assert s == 400 and "Invalid JSON payload" in json.loads(b)["error"]["message"]
    assert sum(up.calls.values()) == 1
    for email in ("a@x.com", "b@x.com", "c@x.com"):
        # a 404 moves on to the next base URL first (three are configured), then reaches the client
        up.scripts[email][:] = [(404, {}, b'{"error":{"code":404,"message":"Requested entity was not found."}}')] * 3
    s, _, b = await call(stack, model="gemini-9-nonexistent")
    assert s == 404 and "gemini-9-nonexistent" in json.loads(b)["error"]["message"]
    assert all(stack.pool.cooldown_left(a.id) == 0 for a in stack.store.all())


async def test_models_and_count_tokens(stack: AppStack, up: Upstream) -> None:
    async def count(req: UpstreamRequest) -> Reply:
        return 200, {}, b'{"totalTokens": 42}'

    orig = up.handle

    async def handler(req: UpstreamRequest) -> Reply:
        if req.url.endswith(":countTokens"):
            return await count(req)
        return await orig(req)

    up.transport.handler = handler
    s, _, b = await stack.post("/v1beta/models/gemini-3-flash:countTokens", {"contents": [{"parts": [{"text": "count me"}]}]})
    assert s == 200 and json.loads(b) == {"totalTokens": 42}
    s, _, b = await stack.get("/v1beta/models")
    names = [m["name"] for m in json.loads(b)["models"]]
    assert "models/gemini-3-pro" in names
    s, _, b = await stack.get("/v1/models")
    assert json.loads(b)["object"] == "list"


async def test_bad_model_names_never_reach_the_upstream(stack: AppStack, up: Upstream) -> None:
    for bad in ("..%2F..%2Fv1%2Ffiles", "a%20b"):
        s, _, b = await stack.post(f"/v1beta/models/{bad}:generateContent", {"contents": [{"parts": [{"text": "x"}]}]})
        assert s == 400, bad
    assert sum(up.calls.values()) == 0



def test_envelope_request_ids_are_uuid4_strings() -> None:
    """The envelope's id is what uuid.UUID(int=..., version=4) prints for the same random bits."""
    import random
    import uuid

    from trayproxy.proxy import pipeline

    state = random.getstate()
    try:
        random.seed(7)
        ours = [pipeline._uuid4() for _ in range(200)]
        random.seed(7)
        theirs = [str(uuid.UUID(int=random.getrandbits(128), version=4)) for _ in range(200)]
    finally:
        random.setstate(state)
    assert ours == theirs
    assert all(uuid.UUID(u).version == 4 for u in ours)
