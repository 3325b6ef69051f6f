"""What the handlers take from the accounts and what the envelope says, end to end: output caps
from the live catalog (not the built-in defaults), and the web_search request type."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.cloudcode import FakeCloudCode
from tests.proxy.app_stack import AppStack, app_stack

QUOTA = {"gpt-oss-120b-medium": 0.9, "gemini-3-flash": 0.9}


@pytest.fixture()
async def stack(tmp_path: Path) -> AsyncIterator[tuple[FakeCloudCode, AppStack]]:
    fake = FakeCloudCode()
    fake.add_account("a@example.com", quota=QUOTA)
    async with app_stack(tmp_path, fake=fake, emails=("a@example.com",), auth_mode="strict") as s:
        yield fake, s


async def _post(s: AppStack, path: str, body: dict) -> tuple[int, dict]:
    status, _, raw = await s.post(path, body, headers={"Authorization": f"Bearer {s.api_key()}"})
    return status, json.loads(raw)


async def test_output_cap_comes_from_the_catalog(stack) -> None:
    fake, s = stack
    # signing the account in read its catalog
    assert any("gpt-oss-120b-medium" in a.models for a in s.pool.usable()), "the account's catalog never arrived"
    # the fake's catalog says 32768 for gpt-oss; the built-in default for non-Claude models is 65536
    status, body = await _post(s, "/v1/messages", {"model": "gpt-oss-120b-medium", "max_tokens": 60000,
                                               "messages": [{"role": "user", "content": "hi"}]})
    assert status == 200, body
    assert fake.last().body["request"]["generationConfig"]["maxOutputTokens"] == 32768
    status, body = await _post(s, "/v1/chat/completions", {"model": "gpt-oss-120b-medium", "max_completion_tokens": 60000,
                                                       "messages": [{"role": "user", "content": "hi"}]})
    assert status == 200, body
    assert fake.last().body["request"]["generationConfig"]["maxOutputTokens"] == 32768


async def test_search_grounded_requests_are_web_search(stack) -> None:
    fake, s = stack
    status, body = await _post(s, "/v1/messages", {
        "model": "gemini-3-flash", "max_tokens": 500, "messages": [{"role": "user", "content": "news?"}],
        "tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 3}]})
    assert status == 200, body
    env = fake.last().body
    assert env["requestType"] == "web_search" and env["requestId"].startswith("web_search/")
    assert env["request"]["tools"] == [{"googleSearch": {}}]
    status, body = await _post(s, "/v1/messages", {"model": "gemini-3-flash", "max_tokens": 500,
                                               "messages": [{"role": "user", "content": "hi"}]})
    assert status == 200 and fake.last().body["requestType"] == "agent"
