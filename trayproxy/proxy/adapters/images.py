"""OpenAI Images: `POST /v1/images/generations`.

The body becomes image-model requests (`openai_images.to_gemini`); the model name is resolved like
any other, and a name that does not resolve to an image model (dall-e-3, gpt-image-1 without a
mapping) falls back to the default image model's resolution. Image models make one image per
request, so `n` images are `n` generations side by side (`image_gen` requests, `Call.copies`); the
answers are merged, and the call fails only when every one failed. The monitor records the call
like any other, with the summed usage.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from trayproxy.json_types import JSON
from trayproxy.protocols import openai_images
from trayproxy.protocols.core.envelope import is_image_model
from trayproxy.proxy.adapters.base import Adapter, Call, model_name
from trayproxy.proxy.context import ProxyContext
from trayproxy.proxy.errors import ProxyError
from trayproxy.proxy.exchange import Exchange
from trayproxy.proxy.job import StreamMachine
from trayproxy.proxy.resolve import Plan, plan
from trayproxy.proxy.retry import Retry
from trayproxy.proxy.session import session_key

__all__ = ["Images"]


@dataclass(slots=True, frozen=True)
class _State:
    request: JSON
    response_format: str


class Images(Adapter):
    protocol = "openai"
    request_type = "image_gen"

    def parse(self, ctx: ProxyContext, ex: Exchange, body: JSON, route: Mapping[str, str]) -> Call:
        name = model_name(body.get("model") or openai_images.DEFAULT_IMAGE_MODEL)
        request, fmt, n = openai_images.to_gemini(body)
        return Call(name, body, False, session_key("openai", body, ex.headers), copies=n,
                    state=_State(request, fmt))

    def plan(self, ctx: ProxyContext, call: Call, retry: Retry) -> Plan:
        try:
            p: Plan | None = plan(ctx, call.name, retry.tried_targets)
        except ProxyError as e:  # a name no catalog places (dall-e-3, gpt-image-1): the image family
            if e.status != 404:
                raise
            p = None
        if p is None or not is_image_model(p.target):
            p = plan(ctx, openai_images.DEFAULT_IMAGE_MODEL, retry.tried_targets)
        return p

    def convert(self, call: Call, plan: Plan, signatures: Mapping[str, str]) -> JSON:
        return call.state.request

    def machine(self, ctx: ProxyContext, call: Call, plan: Plan) -> Callable[[], StreamMachine]:
        created, fmt = int(ctx.clock()), call.state.response_format
        return lambda: openai_images.ImagesResult(created=created, response_format=fmt)

    def answer(self, ctx: ProxyContext, call: Call, results: list[JSON]) -> JSON:
        return results[0] if len(results) == 1 else openai_images.merge(results)
