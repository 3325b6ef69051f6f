"""What a person may paste back after signing in without a browser here (accounts/oauth.py
`parse_pasted`), and LoginFlow.complete's checks: state, a missing code, Google's refusal."""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Iterator

import pytest

from tests.fakes.cloudcode import FakeCloudCode
from trayproxy.accounts.oauth import LoginFlow, OAuthClient, OAuthError, parse_pasted
from trayproxy.config import OAuthConfig
from trayproxy.upstream.transport import AiohttpTransport, UpstreamRequest


@pytest.mark.parametrize(("text", "expected"), [
    ("http://127.0.0.1:4567/oauth-callback?state=abc&code=4/0Axyz&scope=openid", ("4/0Axyz", "abc", None)),
    ("http://localhost:51121/oauth-callback?code=4%2F0Aenc&state=s", ("4/0Aenc", "s", None)),
    ("  'http://127.0.0.1:1/oauth-callback?code=q&state=s'  \n", ("q", "s", None)),
    ("127.0.0.1:4567/oauth-callback?code=c1&state=s", ("c1", "s", None)),
    ("?code=c2&state=s", ("c2", "s", None)),
    ("code=c3&state=s", ("c3", "s", None)),
    ("http://localhost:1/oauth-callback#code=frag&state=s", ("frag", "s", None)),
    ("c4#s", ("c4", "s", None)),
    ("4/0Abare-code", ("4/0Abare-code", None, None)),
    ("4%2F0Abare", ("4/0Abare", None, None)),
    ("http://127.0.0.1:1/oauth-callback?error=access_denied&state=s", (None, "s", "access_denied")),
    ("http://127.0.0.1:1/oauth-callback", (None, None, None)),
    ("   ", (None, None, None)),
])
def test_parse_pasted(text: str, expected: tuple[str | None, str | None, str | None]) -> None:
    assert parse_pasted(text) == expected


@pytest.fixture()
def fake() -> Iterator[FakeCloudCode]:
    f = FakeCloudCode()
    f.add_account("paste@example.com")
    with f:
        yield f


async def test_complete_checks_state_and_exchanges_with_the_same_redirect(fake: FakeCloudCode) -> None:
    cfg = OAuthConfig(auth_url=fake.auth_url, token_url=fake.token_url, userinfo_url=fake.userinfo_url)
    transport = AiohttpTransport()
    try:
        flow = LoginFlow(OAuthClient(transport, lambda: cfg, time.time))
        url = await flow.start()
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
        assert q["redirect_uri"] == [flow.redirect_uri] and q["state"] == [flow.state]
        resp = await transport.send(UpstreamRequest("GET", url))  # the browser, elsewhere: not followed
        landed = resp.headers.get("location") if resp.status == 302 else None
        await resp.read()
        assert landed and "code=" in landed
        with pytest.raises(OAuthError, match="belongs to another sign-in"):
            await flow.complete(landed.replace(f"state={flow.state}", "state=someone-else"))
        with pytest.raises(OAuthError, match="No authorization code"):
            await flow.complete(landed.split("?")[0])
        assert not flow.finished
        code = parse_pasted(landed)[0]
        assert code is not None
        tokens = await flow.complete(code)  # the code alone works too (PKCE still binds it)
        assert tokens.refresh_token == "rt-paste@example.com" and flow.finished
        assert (await flow.wait(5)).access_token == tokens.access_token
    finally:
        await transport.aclose()
