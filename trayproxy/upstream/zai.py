"""z.ai: an Anthropic-compatible upstream beside the Google pool (Anthropic routes only).

Requests are forwarded with the z.ai key (never the client's), the model mapped to a GLM
model by family, and the answer relayed byte for byte (SSE or JSON).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from trayproxy.config import ZaiConfig
from trayproxy.upstream.transport import (
    Timeouts,
    Transport,
    TransportError,
    UpstreamRequest,
    UpstreamResponse,
)

__all__ = ["ZaiClient", "ZaiError", "zai_model", "FORWARDED_HEADERS"]

FORWARDED_HEADERS = ("content-type", "accept", "anthropic-version", "anthropic-beta", "user-agent")


class ZaiError(Exception):
    pass


def zai_model(model: str, cfg: ZaiConfig) -> str:
    """claude-* names go to the configured GLM model of their family; others pass through."""
    low = model.lower()
    if low.startswith("zai:"):
        return model[4:]
    if low.startswith("glm-") or not low.startswith("claude"):
        return model
    for family in ("opus", "haiku", "sonnet"):
        if family in low and family in cfg.models:
            return cfg.models[family]
    return cfg.models.get("sonnet", model)


class ZaiClient:
    def __init__(
        self,
        transport: Transport,
        config: Callable[[], ZaiConfig],
        api_key: Callable[[], str | None],
        timeouts: Callable[[], Timeouts],
    ) -> None:
        self.transport = transport
        self.config = config
        self.api_key = api_key
        self.timeouts = timeouts

    def _key(self) -> str:
        key = self.api_key()
        if not key:
            raise ZaiError("The z.ai API key is not set (Settings > z.ai, or `trayproxy config set zai.api_key`, which asks for it)")
        return key

    def _headers(self, client_headers: dict[str, str], *, bearer: bool) -> dict[str, str]:
        h = {k: v for k, v in ((k.lower(), v) for k, v in client_headers.items()) if k in FORWARDED_HEADERS}
        h.setdefault("content-type", "application/json")
        h.setdefault("anthropic-version", "2023-06-01")
        key = self._key()
        if bearer:
            h["authorization"] = f"Bearer {key}"
        else:
            h["x-api-key"] = key
        return h

    async def forward(self, path: str, body: dict[str, Any], client_headers: dict[str, str]) -> UpstreamResponse:
        """POST body (model already rewritten by the caller) to <base_url><path>."""
        cfg = self.config()
        bearer = "authorization" in {k.lower() for k in client_headers} and "x-api-key" not in {
            k.lower() for k in client_headers
        }
        req = UpstreamRequest(
            "POST",
            cfg.base_url.rstrip("/") + path,
            self._headers(client_headers, bearer=bearer),
            orjson.dumps(body),
            self.timeouts(),
        )
        return await self.transport.send(req)

    async def list_models(self) -> list[str]:
        cfg = self.config()
        key = self._key()
        req = UpstreamRequest(
            "GET",
            cfg.base_url.rstrip("/") + "/v1/models",
            {"authorization": f"Bearer {key}", "x-api-key": key, "anthropic-version": "2023-06-01"},
            None,
            Timeouts(connect=10.0, read=30.0),
        )
        try:
            resp = await self.transport.send(req)
            raw = await resp.read()
        except TransportError as e:
            raise ZaiError(f"z.ai could not be reached: {e}") from e
        if resp.status != 200:
            raise ZaiError(f"z.ai answered {resp.status}: {raw[:400].decode('utf-8', 'replace')}")
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            raise ZaiError("z.ai answered with something that is not JSON") from e
        items = data.get("data") or data.get("models") or [] if isinstance(data, dict) else []
        names = []
        for it in items:
            if isinstance(it, dict):
                n = it.get("id") or it.get("name")
                if isinstance(n, str):
                    names.append(n)
            elif isinstance(it, str):
                names.append(it)
        return names
