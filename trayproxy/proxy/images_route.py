"""OpenAI Images API route: `POST /v1/images/generations` (and `/images/generations`).

The body becomes an image-model request (`openai_images.to_gemini`); the model name is resolved
like any other (`routes.upstream_model`), a non-image answer to that falls back to the default
image model's resolution. The pipeline sends it as an `image_gen` request and the answer's images
come back as `b64_json` or `data:` URLs. The monitor records the request like any other: the image
bytes are kept only when it stores bodies.
"""

from __future__ import annotations

from aiohttp import web

from trayproxy.protocols import openai_images
from trayproxy.protocols.core.envelope import is_image_model
from trayproxy.proxy.context import CONTEXT
from trayproxy.proxy.pipeline import Job, run_generation
from trayproxy.proxy.routes import client_model, read_json, upstream_model
from trayproxy.proxy.session import session_key

__all__ = ["register", "create_image"]


async def create_image(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    body = await read_json(request)
    name = client_model(request, body.get("model") or openai_images.DEFAULT_IMAGE_MODEL)
    target = upstream_model(ctx, name)
    if not is_image_model(target):  # e.g. dall-e-3 / gpt-image-1 with no mapping to an image model
        target = upstream_model(ctx, openai_images.DEFAULT_IMAGE_MODEL)
    gemini_req, fmt = openai_images.to_gemini(body)
    created = int(ctx.clock())
    job = Job(
        protocol="openai",
        client_model=name,
        upstream_model=target,
        request=gemini_req,
        make_machine=lambda: openai_images.ImagesResult(created=created, response_format=fmt),
        stream=False,
        session_key=session_key("openai", body, request.headers),
        request_type="image_gen",
    )
    return await run_generation(request, job)


def register(app: web.Application) -> None:
    for prefix in ("/v1", "/v1/v1", ""):
        app.router.add_post(f"{prefix}/images/generations", create_image)
