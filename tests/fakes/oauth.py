"""Google OAuth 2.0 on the fake: token endpoint (refresh + authorization code with PKCE), the
consent "page" (which redirects at once for a scripted account) and userinfo.

Error bodies follow Google's token endpoint: `{"error": "invalid_grant", "error_description": ...}`.
`token_unreachable = True` makes the token endpoint drop connections (a network failure).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from aiohttp import web

from .replies import google_error

if TYPE_CHECKING:
    from .cloudcode import FakeAccount, RecordedRequest

__all__ = ["OAuthMixin", "DEFAULT_CLIENT_ID", "DEFAULT_CLIENT_SECRET", "SCOPES"]

DEFAULT_CLIENT_ID = "1071006060591-tmhssin2h21lcre235vtolojh4g403ep.apps.googleusercontent.com"
DEFAULT_CLIENT_SECRET = "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"
SCOPES = ("openid https://www.googleapis.com/auth/cloud-platform https://www.googleapis.com/auth/userinfo.email "
          "https://www.googleapis.com/auth/userinfo.profile https://www.googleapis.com/auth/cclog "
          "https://www.googleapis.com/auth/experimentsandconfigs")


@dataclass
class _Token:
    account: FakeAccount
    expires_at: float


@dataclass
class _Code:
    account: FakeAccount
    client_id: str
    redirect_uri: str
    challenge: str | None
    method: str
    scope: str


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def _oauth_error(status: int, error: str, description: str) -> web.Response:
    return web.json_response({"error": error, "error_description": description}, status=status)


def _redirect(location: str) -> web.Response:
    return web.Response(status=302, headers={"Location": location})


def _page(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=f"<!doctype html><title>Error</title><p>{text}</p>",
                        content_type="text/html")


class OAuthMixin:
    """OAuth state and routes of FakeCloudCode (kept apart to keep modules small)."""

    accounts: dict[str, FakeAccount]
    clock: Callable[[], float]

    def __init__(self) -> None:
        self.clients: dict[str, str] = {DEFAULT_CLIENT_ID: DEFAULT_CLIENT_SECRET}
        self.signing_in: FakeAccount | None = None  # who "signs in" at /oauth/auth (default: first account)
        self.sign_in_error: str | None = None  # e.g. "access_denied"
        self.token_unreachable = False  # the token endpoint closes connections (network trouble)
        self._tokens: dict[str, _Token] = {}
        self._codes: dict[str, _Code] = {}
        self._token_ids = itertools.count(1)

    # -- scripting ---------------------------------------------------------------------------
    def sign_in_as(self, account: FakeAccount) -> None:
        self.signing_in, self.sign_in_error = account, None

    def deny_sign_in(self, error: str = "access_denied") -> None:
        self.sign_in_error = error

    def add_client(self, client_id: str, client_secret: str) -> None:
        self.clients[client_id] = client_secret

    def issue_access_token(self, account: FakeAccount, expires_in: int | None = None) -> str:
        """A valid access token for `account` (tests can skip the refresh call with it)."""
        token = f"ya29.fake-{next(self._token_ids)}-{secrets.token_urlsafe(24)}"
        life = account.expires_in if expires_in is None else expires_in
        self._tokens[token] = _Token(account, self.clock() + life)
        account.access_tokens.append(token)
        return token

    def expire_token(self, token: str) -> None:
        if token in self._tokens:
            self._tokens[token].expires_at = 0.0

    def account_for_token(self, token: str) -> FakeAccount | None:
        t = self._tokens.get(token)
        if t is None or t.expires_at <= self.clock():
            return None
        return t.account

    # -- routes ------------------------------------------------------------------------------
    def add_oauth_routes(self, app: web.Application) -> None:
        app.router.add_post("/oauth/token", self._token)
        app.router.add_get("/oauth/auth", self._auth)
        app.router.add_get("/oauth/userinfo", self._userinfo)

    async def record(self, request: web.Request, rpc: str, host: str | None, body: Any) -> RecordedRequest:
        raise NotImplementedError

    async def _token(self, request: web.Request) -> web.StreamResponse:
        form = dict(await request.post())
        rec = await self.record(request, "oauth.token", None, form)
        if self.token_unreachable:
            rec.status = 599
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=599)
        resp = self._token_answer({k: str(v) for k, v in form.items()}, rec)
        rec.status = resp.status
        return resp

    def _token_answer(self, form: dict[str, str], rec: RecordedRequest) -> web.Response:
        client_id = form.get("client_id", "")
        if client_id not in self.clients:
            return _oauth_error(401, "invalid_client", "The OAuth client was not found.")
        if form.get("client_secret") != self.clients[client_id]:
            return _oauth_error(401, "invalid_client", "Unauthorized")
        grant = form.get("grant_type", "")
        if grant == "refresh_token":
            rt = form.get("refresh_token")
            if not rt:
                return _oauth_error(400, "invalid_request", "Missing required parameter: refresh_token")
            account = next((a for a in self.accounts.values() if a.refresh_token == rt), None)
            if account is None or account.revoked:
                return _oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
            rec.account = account.email
            scripted = account.next_reply("token")
            if scripted is not None:
                body = scripted.error_body("", self.clock())
                return web.json_response(body, status=scripted.status, headers=scripted.headers)
            return web.json_response(self._tokens_for(account, SCOPES, with_refresh=False))
        if grant == "authorization_code":
            code = self._codes.get(form.get("code", ""))
            if code is None:
                return _oauth_error(400, "invalid_grant", "Malformed auth code.")
            if code.client_id != client_id:
                return _oauth_error(400, "invalid_grant", "Bad Request")
            if form.get("redirect_uri") != code.redirect_uri:
                return _oauth_error(400, "redirect_uri_mismatch", "Bad Request")
            if code.challenge is not None:
                verifier = form.get("code_verifier")
                if not verifier:
                    return _oauth_error(400, "invalid_grant", "Missing code verifier.")
                expected = s256(verifier) if code.method == "S256" else verifier
                if expected != code.challenge:
                    return _oauth_error(400, "invalid_grant", "Invalid code verifier.")
            del self._codes[form["code"]]  # single use, once redeemed
            rec.account = code.account.email
            return web.json_response(self._tokens_for(code.account, code.scope, with_refresh=True))
        if not grant:
            return _oauth_error(400, "invalid_request", "Missing required parameter: grant_type")
        return _oauth_error(400, "unsupported_grant_type", f"Invalid grant_type: {grant}")

    def _tokens_for(self, account: FakeAccount, scope: str, *, with_refresh: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "access_token": self.issue_access_token(account),
            "expires_in": account.expires_in,
            "scope": scope,
            "token_type": "Bearer",
            "id_token": "eyJhbGciOiJub25lIn0." + base64.urlsafe_b64encode(
                f'{{"email":"{account.email}","sub":"{account.id}"}}'.encode()).rstrip(b"=").decode() + ".",
        }
        if with_refresh:
            out["refresh_token"] = account.refresh_token
            out["refresh_token_expires_in"] = 604799
        return out

    async def _auth(self, request: web.Request) -> web.StreamResponse:
        q = request.query
        rec = await self.record(request, "oauth.auth", None, dict(q))
        resp = self._auth_answer(q, rec)
        rec.status = resp.status
        return resp

    def _auth_answer(self, q: Any, rec: RecordedRequest) -> web.Response:
        client_id = q.get("client_id", "")
        if client_id not in self.clients:
            return _page(401, "Error 401: invalid_client. The OAuth client was not found.")
        redirect_uri = q.get("redirect_uri", "")
        if not redirect_uri:
            return _page(400, "Error 400: invalid_request. Missing required parameter: redirect_uri")
        if q.get("response_type") != "code":
            return _page(400, "Error 400: invalid_request. Invalid response_type")
        method = q.get("code_challenge_method", "plain")
        if q.get("code_challenge") and method not in ("S256", "plain"):
            return _page(400, "Error 400: invalid_request. Invalid code_challenge_method")
        sep = "&" if "?" in redirect_uri else "?"
        state = q.get("state")
        if self.sign_in_error:
            params = {"error": self.sign_in_error, **({"state": state} if state is not None else {})}
            return _redirect(redirect_uri + sep + urlencode(params))
        account = self.signing_in or next(iter(self.accounts.values()), None)
        if account is None:
            return _page(400, "No account is scripted to sign in on the fake.")
        rec.account = account.email
        code = "4/0A" + secrets.token_urlsafe(32)
        scope = q.get("scope", "")
        self._codes[code] = _Code(account, client_id, redirect_uri, q.get("code_challenge"), method, scope)
        params = {**({"state": state} if state is not None else {}), "code": code, "scope": scope,
                  "authuser": "0", "prompt": "consent"}
        return _redirect(redirect_uri + sep + urlencode(params))

    async def _userinfo(self, request: web.Request) -> web.StreamResponse:
        rec = await self.record(request, "oauth.userinfo", None, None)
        auth = request.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else request.query.get("access_token", "")
        account = self.account_for_token(token)
        if account is None:
            rec.status = 401
            return web.json_response(google_error(401), status=401)
        rec.account = account.email
        rec.status = 200
        return web.json_response({
            "id": account.id, "email": account.email, "verified_email": True, "name": account.name,
            "given_name": account.name.split()[0], "picture": f"https://lh3.googleusercontent.com/a/{account.id}",
        })
