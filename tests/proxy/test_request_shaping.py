"""What the handlers take from the accounts and what the envelope says, end to end: output caps
from the live catalog (not the built-in defaults), and the web_search request type."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from tests.fakes.cloudcode import FakeCloudCode
from tests.helpers import request
from tests.proxy.stack import running_stack
from trayproxy.controller import Controller

QUOTA = {"gpt-oss-120b-medium": 0.9, "gemini-3-flash": 0.9}


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[FakeCloudCode, Controller]]:
    with running_stack(QUOTA) as s:
        yield s


def _post(ctl: Controller, path: str, body: dict) -> tuple[int, dict]:
    status, _, raw = request(ctl.status().port, "POST", path, body=body,
                             headers={"Authorization": f"Bearer {ctl.api_key()}"})
    return status, json.loads(raw)


def test_output_cap_comes_from_the_catalog(stack) -> None:
    fake, ctl = stack
    deadline = time.monotonic() + 30
    while not any("gpt-oss-120b-medium" in a.models for a in ctl.pool.usable()):
        assert time.monotonic() < deadline, "the account's catalog never arrived"
        time.sleep(0.05)
    # the fake's catalog says 32768 for gpt-oss; the built-in default for non-Claude models is 65536
    status, body = _post(ctl, "/v1/messages", {"model": "gpt-oss-120b-medium", "max_tokens": 60000,
                                               "messages": [{"role": "user", "content": "hi"}]})
    assert status == 200, body
    assert fake.last().body["request"]["generationConfig"]["maxOutputTokens"] == 32768
    status, body = _post(ctl, "/v1/chat/completions", {"model": "gpt-oss-120b-medium", "max_completion_tokens": 60000,
                                                       "messages": [{"role": "user", "content": "hi"}]})
    assert status == 200, body
    assert fake.last().body["request"]["generationConfig"]["maxOutputTokens"] == 32768


def test_search_grounded_requests_are_web_search(stack) -> None:
    fake, ctl = stack
    status, body = _post(ctl, "/v1/messages", {
        "model": "gemini-3-flash", "max_tokens": 500, "messages": [{"role": "user", "content": "news?"}],
        "tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 3}]})
    assert status == 200, body
    env = fake.last().body
    assert env["requestType"] == "web_search" and env["requestId"].startswith("web_search/")
    assert env["request"]["tools"] == [{"googleSearch": {}}]
    status, body = _post(ctl, "/v1/messages", {"model": "gemini-3-flash", "max_tokens": 500,
                                               "messages": [{"role": "user", "content": "hi"}]})
    assert status == 200 and fake.last().body["requestType"] == "agent"
