"""OpenAI Images API route: `POST /v1/images/generations` (and `/images/generations`).

The body becomes image-model requests (`openai_images.to_gemini`); the model name is resolved like
any other (`routes.upstream_model`), and a name that does not resolve to an image model (dall-e-3,
gpt-image-1 without a mapping) falls back to the default image model's resolution. Image models
make one image per request, so `n` images are `n` requests through the pipeline, side by side (as
`image_gen` requests); the answers are merged, and the call fails only when every one failed. The
monitor records the call like any other, with the summed usage: the image bytes are kept only when
it stores bodies.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiohttp import web

from trayproxy.protocols import openai_images
from trayproxy.protocols.core.envelope import is_image_model
from trayproxy.protocols.gemini import Usage
from trayproxy.proxy.context import CONTEXT
from trayproxy.proxy.errors import ProxyError
from trayproxy.proxy.offload import is_big, off_loop
from trayproxy.proxy.pipeline import OUTCOME, Job, StreamMachine, run_generation
from trayproxy.proxy.routes import client_model, read_json, upstream_model
from trayproxy.proxy.session import session_key

__all__ = ["register", "create_image"]


async def create_image(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    body = await read_json(request)
    name = client_model(request, body.get("model") or openai_images.DEFAULT_IMAGE_MODEL)

    def resolve() -> str:
        try:
            target: str | None = upstream_model(ctx, name)
        except ProxyError as e:  # a name no catalog places (dall-e-3, gpt-image-1): the image family
            if e.status != 404:
                raise
            target = None
        if target is None or not is_image_model(target):
            target = upstream_model(ctx, openai_images.DEFAULT_IMAGE_MODEL)
        return target

    gemini_req, fmt, n = await off_loop(is_big(request), openai_images.to_gemini, body)
    created = int(ctx.clock())
    usages: list[Usage] = []

    def keep_usage(result: dict[str, Any], machine: StreamMachine) -> dict[str, Any]:
        usages.append(machine.usage or Usage())
        return result

    def job(target: str) -> Job:
        return Job(
            protocol="openai",
            client_model=name,
            upstream_model=target,
            request=gemini_req,
            make_machine=lambda: openai_images.ImagesResult(created=created, response_format=fmt),
            stream=False,
            session_key=session_key("openai", body, request.headers),
            request_type="image_gen",
            on_result=keep_usage,
            # planned again (another group of accounts): this one image, not the whole handler
            rerun=lambda: run_generation(request, job(resolve())),
        )

    target = resolve()
    if n == 1:
        return await run_generation(request, job(target))
    answers = await asyncio.gather(*(run_generation(request, job(target)) for _ in range(n)), return_exceptions=True)
    done = [a for a in answers if isinstance(a, web.Response) and isinstance(a.body, bytes)]
    if not done:
        failed = next(a for a in answers if isinstance(a, BaseException))
        raise failed
    out = request.get(OUTCOME)
    if out is not None:  # the monitor row counts every image's tokens
        out.usage = Usage(prompt=sum(u.prompt for u in usages), output=sum(u.output for u in usages),
                          reasoning=sum(u.reasoning for u in usages), total=sum(u.total for u in usages))
    merged = openai_images.merge([orjson.loads(a.body) for a in done if isinstance(a.body, bytes)])
    headers = {k: v for k, v in done[0].headers.items() if k.startswith("X-Trayproxy-")}
    return web.Response(body=orjson.dumps(merged), content_type="application/json", headers=headers)


def register(app: web.Application) -> None:
    for prefix in ("/v1", "/v1/v1", ""):
        app.router.add_post(f"{prefix}/images/generations", create_image)
