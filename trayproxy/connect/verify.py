"""Proof that a client is wired right: one real request through the proxy in the client's own
protocol with exactly the base URL, key and model read back from the client's files, and, when
the client is installed, the client itself answering one short prompt where and as the user will
run it (`run_client`)."""

from __future__ import annotations

import json
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trayproxy.connect.base import Connector, Endpoint, check_folder

__all__ = ["RoundTrip", "ClientRun", "round_trip", "run_client", "PROMPT"]

PROMPT = "Reply with the single word OK."
# what each protocol asks for when the client's files name no model (the proxy maps the name)
DEFAULT_MODELS = {"anthropic": "claude-sonnet-4-5", "openai-responses": "gpt-5-codex", "openai-chat": "gpt-5",
                  "gemini": "gemini-3-flash"}


@dataclass
class RoundTrip:
    ok: bool
    model: str | None = None  # what answered upstream (X-Trayproxy-Model)
    asked: str | None = None
    text: str | None = None
    problem: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ClientRun:
    ran: bool
    ok: bool = False
    output: str | None = None
    problem: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _request(ep: Endpoint, model: str) -> tuple[str, dict[str, str], dict[str, Any]]:
    base = ep.base_url.rstrip("/")
    if ep.protocol == "anthropic":
        return (f"{base}/v1/messages",
                {"Authorization": f"Bearer {ep.api_key}", "anthropic-version": "2023-06-01"},
                {"model": model, "max_tokens": 32, "messages": [{"role": "user", "content": PROMPT}]})
    if ep.protocol == "openai-responses":
        return (f"{base}/responses", {"Authorization": f"Bearer {ep.api_key}"},
                {"model": model, "input": PROMPT, "max_output_tokens": 32})
    if ep.protocol == "openai-chat":
        return (f"{base}/chat/completions", {"Authorization": f"Bearer {ep.api_key}"},
                {"model": model, "messages": [{"role": "user", "content": PROMPT}], "max_tokens": 32})
    return (f"{base}/v1beta/models/{model}:generateContent", {"x-goog-api-key": ep.api_key},
            {"contents": [{"role": "user", "parts": [{"text": PROMPT}]}], "generationConfig": {"maxOutputTokens": 32}})


def _text(protocol: str, body: dict[str, Any]) -> str:
    try:
        if protocol == "anthropic":
            return "".join(b.get("text", "") for b in body["content"] if b.get("type") == "text")
        if protocol == "openai-responses":
            return "".join(c.get("text", "") for item in body["output"] if item.get("type") == "message"
                           for c in item.get("content", []))
        if protocol == "openai-chat":
            return str(body["choices"][0]["message"].get("content") or "")
        return "".join(p.get("text", "") for p in body["candidates"][0]["content"]["parts"] if not p.get("thought"))
    except (KeyError, IndexError, TypeError, AttributeError):
        return ""


def _error_message(raw: bytes) -> str:
    try:
        body = json.loads(raw)
        err = body.get("error", body)
        return str(err.get("message") or err)[:300]
    except (ValueError, AttributeError):
        return raw[:300].decode("utf-8", "replace")


def round_trip(ep: Endpoint, *, timeout: float = 60.0) -> RoundTrip:
    model = ep.model or DEFAULT_MODELS[ep.protocol]
    url, headers, body = _request(ep, model)
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:  # noqa: S310 (the user's own base URL)
            answer = json.loads(r.read())
            served = r.headers.get("X-Trayproxy-Model")
    except urllib.error.HTTPError as e:
        hint = ""
        if e.code == 401:
            hint = " — the key in the client's settings is not the proxy's key (regenerated since?); connect again"
        elif e.code == 404 and e.headers.get("X-Trayproxy-Model") is None and not e.headers.get("Server", "").startswith("Python"):
            hint = f" — is {ep.base_url} the proxy?"
        return RoundTrip(False, asked=model, problem=f"{url} answered {e.code}: {_error_message(e.read())}{hint}")
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        return RoundTrip(False, asked=model,
                         problem=f"cannot reach {ep.base_url} ({reason}); is the proxy running? "
                                 "Start it from the tray or with `trayproxy serve`")
    except ValueError:
        return RoundTrip(False, asked=model, problem=f"{url} did not answer JSON; is {ep.base_url} the proxy?")
    if served is None:
        return RoundTrip(False, asked=model, problem=f"{ep.base_url} answered, but it is not trayproxy")
    return RoundTrip(True, model=served, asked=model, text=_text(ep.protocol, answer).strip()[:200])


def run_client(connector: Connector, binary: str, env: Mapping[str, str], *, timeout: float = 180.0) -> ClientRun:
    """The installed client answers PROMPT as the user will run it: in a new folder under their
    home that nobody trusted (`base.check_folder`), with $PWD that folder (OpenCode and Kilo take
    their folder from it), stdin closed, the user's environment minus variables that would
    override the files just written, nothing added that the user would not have; no key on its
    command line."""
    parent = check_folder(env)
    parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="run-", dir=parent) as cwd:
        run_env = {**connector.run_env(env), "PWD": cwd}
        try:
            p = subprocess.run(connector.run_args(binary, PROMPT), cwd=cwd, env=run_env,
                               capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return ClientRun(True, problem=f"{connector.title} did not answer within {int(timeout)} s")
        except OSError as e:
            return ClientRun(True, problem=f"could not run {binary}: {e}")
    out = p.stdout.strip()
    if connector.id == "claude-code" and out:
        try:
            data = json.loads(out.splitlines()[-1])
            if data.get("is_error"):
                return ClientRun(True, output=None, problem=f"Claude Code: {str(data.get('result'))[:300]}")
            out = str(data.get("result", out))
        except ValueError:
            pass
    if p.returncode != 0:
        tail = (p.stderr.strip() or out)[-400:]
        return ClientRun(True, problem=f"{connector.title} exited with {p.returncode}: {tail}")
    if not out:
        return ClientRun(True, problem=f"{connector.title} printed no answer: {p.stderr.strip()[-300:]}")
    return ClientRun(True, ok=True, output=out[-200:])
