"""Google OAuth for installed apps: refresh, userinfo, and browser sign-in with PKCE.

Network failures (DNS, TLS, refused, timeout) are `OAuthError(code="network")` with what to
check, so callers never report them as a rejected token. Sign-in runs a one-shot loopback server
on 127.0.0.1:<ephemeral port>, opens the consent page with `state` and an S256 code challenge,
and exchanges the code it gets back. The page the browser lands on says plainly whether it
worked.

Without a browser on this machine (SSH, a container) the person opens the consent page anywhere;
Google then sends that browser to the loopback address, which does not load there. They paste
the address it ended on (or only its code) and `LoginFlow.complete` takes the code from it,
checks `state` when it is there, and exchanges it with the same redirect URI and PKCE verifier.
Google blocked the copy-the-code ("oob") redirect for every client in 2023, and gemini-cli's
hosted code page belongs to its own OAuth client, so loopback plus paste is the way that works.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import html
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import orjson
from aiohttp import web

from trayproxy.config import OAuthConfig
from trayproxy.upstream.errors import describe_network_error
from trayproxy.upstream.transport import Timeouts, Transport, TransportError, UpstreamRequest

__all__ = ["SCOPES", "Tokens", "OAuthError", "OAuthClient", "LoginFlow", "pkce_pair", "parse_pasted"]

SCOPES = (
    "openid",
    "https://www.googleapis.com/auth/cloud-platform",
    "https://www.googleapis.com/auth/userinfo.email",
    "https://www.googleapis.com/auth/userinfo.profile",
    "https://www.googleapis.com/auth/cclog",
    "https://www.googleapis.com/auth/experimentsandconfigs",
)
_T = Timeouts(connect=10.0, read=30.0)


class OAuthError(Exception):
    def __init__(self, message: str, *, code: str = "oauth_error", status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status

    @property
    def invalid_grant(self) -> bool:
        return self.code == "invalid_grant"


@dataclass
class Tokens:
    access_token: str
    expires_at: float
    refresh_token: str | None = None


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(64)[:96]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


class OAuthClient:
    def __init__(self, transport: Transport, config: Callable[[], OAuthConfig], clock: Callable[[], float]) -> None:
        self.transport = transport
        self.config = config
        self.clock = clock

    async def _token_call(self, form: dict[str, str]) -> dict[str, Any]:
        cfg = self.config()
        data = urlencode({"client_id": cfg.client_id, "client_secret": cfg.client_secret, **form}).encode()
        try:
            resp = await self.transport.send(
                UpstreamRequest(
                    "POST",
                    cfg.token_url,
                    {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
                    data,
                    _T,
                )
            )
            raw = await resp.read()
        except TransportError as e:
            raise OAuthError(f"Google's token endpoint could not be reached: {describe_network_error(e)}",
                             code="network") from e
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = {}
        if resp.status != 200 or not isinstance(body, dict) or "access_token" not in body:
            code = str(body.get("error") or f"http_{resp.status}") if isinstance(body, dict) else f"http_{resp.status}"
            desc = body.get("error_description") if isinstance(body, dict) else None
            raise OAuthError(f"{code}: {desc or raw[:200].decode('utf-8', 'replace')}", code=code, status=resp.status)
        return body

    async def refresh(self, refresh_token: str) -> Tokens:
        body = await self._token_call({"grant_type": "refresh_token", "refresh_token": refresh_token})
        return Tokens(
            access_token=str(body["access_token"]),
            expires_at=self.clock() + float(body.get("expires_in", 3600)),
            refresh_token=body.get("refresh_token"),
        )

    async def exchange_code(self, code: str, verifier: str, redirect_uri: str) -> Tokens:
        body = await self._token_call(
            {"grant_type": "authorization_code", "code": code, "code_verifier": verifier, "redirect_uri": redirect_uri}
        )
        if not body.get("refresh_token"):
            raise OAuthError("Google did not return a refresh token; sign in again and grant access", code="no_refresh")
        return Tokens(
            access_token=str(body["access_token"]),
            expires_at=self.clock() + float(body.get("expires_in", 3600)),
            refresh_token=str(body["refresh_token"]),
        )

    async def userinfo(self, access_token: str) -> dict[str, Any]:
        cfg = self.config()
        try:
            resp = await self.transport.send(
                UpstreamRequest("GET", cfg.userinfo_url, {"Authorization": f"Bearer {access_token}"}, None, _T)
            )
            raw = await resp.read()
        except TransportError as e:
            raise OAuthError(f"Google's userinfo endpoint could not be reached: {describe_network_error(e)}",
                             code="network") from e
        if resp.status != 200:
            raise OAuthError(f"userinfo answered HTTP {resp.status}", code="userinfo", status=resp.status)
        data = orjson.loads(raw)
        if not isinstance(data, dict) or not data.get("email"):
            raise OAuthError("userinfo did not include an e-mail address", code="userinfo")
        return data

    def auth_url(self, redirect_uri: str, state: str, challenge: str) -> str:
        cfg = self.config()
        q = {
            "client_id": cfg.client_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": " ".join(SCOPES),
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "access_type": "offline",
            "prompt": "consent",
            "include_granted_scopes": "true",
        }
        return f"{cfg.auth_url}?{urlencode(q)}"


_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>trayproxy</title>
<style>body{{font:16px system-ui,sans-serif;display:grid;place-items:center;height:100vh;margin:0;background:#f6f7f9}}
main{{background:#fff;padding:2rem 2.5rem;border-radius:12px;box-shadow:0 2px 12px #0002;max-width:32rem}}
h1{{font-size:1.3rem;color:{color}}}</style></head>
<body><main><h1>{title}</h1><p>{text}</p></main></body></html>"""


class LoginFlow:
    """One browser sign-in: `start()` gives the URL to open, `wait()` the tokens."""

    def __init__(self, client: OAuthClient) -> None:
        self.client = client
        self.state = secrets.token_urlsafe(24)
        self.verifier, self.challenge = pkce_pair()
        self._result: asyncio.Future[Tokens] | None = None
        self._runner: web.AppRunner | None = None
        self.redirect_uri = ""
        self.url = ""

    async def start(self) -> str:
        loop = asyncio.get_running_loop()
        self._result = loop.create_future()
        app = web.Application()
        app.router.add_get("/oauth-callback", self._callback)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.redirect_uri = f"http://127.0.0.1:{port}/oauth-callback"
        self.url = self.client.auth_url(self.redirect_uri, self.state, self.challenge)
        return self.url

    async def _callback(self, request: web.Request) -> web.Response:
        assert self._result is not None
        q = request.query
        if q.get("state") != self.state:
            return self._page(False, "This sign-in link does not belong to the running trayproxy. Start again.")
        if "error" in q:
            err = q.get("error", "error")
            if not self._result.done():
                self._result.set_exception(OAuthError(f"Google sign-in was not completed: {err}", code=err))
            return self._page(False, f"Google said: {err}. You can close this tab and try again.")
        code = q.get("code")
        if not code:
            return self._page(False, "The answer from Google had no authorization code.")
        try:
            tokens = await self.client.exchange_code(code, self.verifier, self.redirect_uri)
        except OAuthError as e:
            if not self._result.done():
                self._result.set_exception(e)
            return self._page(False, f"The sign-in could not be completed: {e}")
        if not self._result.done():
            self._result.set_result(tokens)
        return self._page(True, "Your Google account is connected to trayproxy. You can close this tab.")

    def _page(self, ok: bool, text: str) -> web.Response:
        body = _PAGE.format(
            color="#137333" if ok else "#b3261e",
            title="Signed in" if ok else "Sign-in failed",
            text=html.escape(text),
        )
        return web.Response(text=body, content_type="text/html")

    @property
    def finished(self) -> bool:
        """The sign-in has its outcome (tokens, or Google's refusal)."""
        return self._result is not None and self._result.done()

    async def complete(self, pasted: str) -> Tokens:
        """Finish the sign-in with what the person pasted: the address the browser ended on, its
        query, or the code alone. A paste that is wrong (another sign-in's state, no code, a code
        Google refuses) raises OAuthError and the flow keeps waiting for a better one; Google's
        own refusal (`error=access_denied`) ends it."""
        assert self._result is not None, "call start() first"
        code, state, error = parse_pasted(pasted)
        if state is not None and state != self.state:
            raise OAuthError("That address belongs to another sign-in (its state does not match). Paste the "
                             "address from the sign-in started here.", code="state_mismatch")
        if error:
            e = OAuthError(f"Google sign-in was not completed: {error}", code=error)
            if not self._result.done():
                self._result.set_exception(e)
            raise e
        if not code:
            raise OAuthError("No authorization code in what was pasted: copy the whole address from the "
                             "browser's address bar (it contains code=...).", code="no_code")
        tokens = await self.client.exchange_code(code, self.verifier, self.redirect_uri)
        if not self._result.done():
            self._result.set_result(tokens)
        return tokens

    async def wait(self, timeout: float = 300.0) -> Tokens:
        assert self._result is not None, "call start() first"
        try:
            return await asyncio.wait_for(asyncio.shield(self._result), timeout)
        except asyncio.TimeoutError:
            raise OAuthError("Sign-in timed out: the browser did not come back within 5 minutes", code="timeout") from None
        finally:
            await self.close()

    async def close(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await asyncio.sleep(0.05)  # let the result page reach the browser
            await runner.cleanup()


def parse_pasted(text: str) -> tuple[str | None, str | None, str | None]:
    """(code, state, error) from a pasted redirect: a full URL (query or fragment), `?code=...`,
    `code=...&state=...`, `host:port/path?...`, `code#state`, or the bare code."""
    t = text.strip().strip("'\"<>")
    if not t:
        return None, None, None
    if "://" in t:
        parts = urlsplit(t)
        query = parts.query or parts.fragment
        if not query:  # an address without its query: no code in it
            return None, None, None
    elif t.startswith(("?", "#")):
        query = t[1:]
    elif "?" in t:  # host:port/path?code=...
        query = t.split("?", 1)[1]
    else:
        query = t
    if "=" in query:
        q = parse_qs(query, keep_blank_values=False)
        first = {k: v[0] for k, v in q.items() if v}
        return first.get("code"), first.get("state"), first.get("error")
    if "#" in t:  # code#state
        code, _, state = t.partition("#")
        return unquote(code) or None, state or None, None
    return unquote(t), None, None
