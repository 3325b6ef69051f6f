"""OpenAI Responses API routes: `POST /v1/responses` (and `/responses`), `GET /v1/responses/{id}`,
`GET /v1/responses/{id}/input_items`.

A Responses request becomes the upstream request through `openai_responses.to_gemini` (Responses
items mapped onto the OpenAI chat shapes both OpenAI protocols share); the answer is streamed back
by `openai_responses.ResponsesStream`.

`previous_response_id`: completed (and incomplete) responses are kept in `ctx.responses` (unless
the request said `store: false`) as `{"input_items", "output", "model", "instructions",
"session_key", "response"}`, where `input_items` is the whole conversation before that answer.
A follow-up request gets `input_items + output` as history before its own `input`, inherits the
model when it names none, and keeps the stored session key so the chain stays on one account.
As in the OpenAI API, `instructions` are not inherited. An unknown id is a 400
`previous_response_not_found`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from trayproxy.protocols import openai_responses
from trayproxy.protocols.errors import RequestError
from trayproxy.proxy.context import CONTEXT
from trayproxy.proxy.errors import ProxyError
from trayproxy.proxy.offload import is_big, off_loop
from trayproxy.proxy.pipeline import Job, run_generation
from trayproxy.proxy.resolve import pool_output_cap
from trayproxy.proxy.routes import client_model, read_json, upstream_model
from trayproxy.proxy.session import session_key

__all__ = ["register", "create_response", "get_response", "list_input_items"]

_STORABLE = ("completed", "incomplete")


def _stored(request: web.Request, response_id: str) -> dict[str, Any]:
    record = request.app[CONTEXT].responses.get(response_id)
    if record is None:
        raise ProxyError(404, f"No response found with id '{response_id}'.", code="not_found")
    return record


async def create_response(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    body = await read_json(request)

    history: list[dict[str, Any]] | None = None
    stored_key: str | None = None
    prev = body.get("previous_response_id")
    if prev is not None:
        if not isinstance(prev, str) or not prev:
            raise RequestError("previous_response_id must be the id of an earlier response",
                               field="previous_response_id")
        record = ctx.responses.get(prev)
        if record is None:
            raise ProxyError(
                400,
                f"Previous response with id '{prev}' not found. trayproxy keeps responses in memory for an "
                "hour and not across restarts; send the whole conversation as input instead.",
                code="previous_response_not_found",
            )
        history = list(record.get("input_items") or []) + list(record.get("output") or [])
        stored_key = record.get("session_key")
        if body.get("model") is None and isinstance(record.get("model"), str):
            body = {**body, "model": record["model"]}

    name = client_model(request, body.get("model"))
    target = upstream_model(ctx, name)
    big = is_big(request)
    gemini_req = await off_loop(big, openai_responses.to_gemini, body, history=history, upstream_model=target,
                                signatures=ctx.signatures.snapshot() if big else ctx.signatures,
                                cap=pool_output_cap(ctx, target))
    conversation = (history or []) + openai_responses.input_items(body)

    stream = bool(body.get("stream"))
    response_id = ctx.new_id("resp_")
    created_at = int(ctx.clock())
    echo = openai_responses.request_echo(body)
    key = stored_key or session_key("openai", {**body, "input": conversation}, request.headers)

    def on_complete(final: dict[str, Any]) -> None:
        if echo["store"] and final.get("status") in _STORABLE:
            ctx.responses.put(
                response_id,
                {
                    "input_items": conversation,
                    "output": final.get("output") or [],
                    "model": name,
                    "instructions": body.get("instructions"),
                    "session_key": key,
                    "response": final,
                },
            )

    job = Job(
        protocol="openai",
        client_model=name,
        upstream_model=target,
        request=gemini_req,
        make_machine=lambda: openai_responses.ResponsesStream(
            model=name,
            response_id=response_id,
            created_at=created_at,
            stream=stream,
            new_id=ctx.new_id,
            request_echo=echo,
            on_complete=on_complete,
        ),
        stream=stream,
        session_key=key,
    )
    return await run_generation(request, job)


async def get_response(request: web.Request) -> web.Response:
    record = _stored(request, request.match_info["response_id"])
    return web.json_response(record["response"])


async def list_input_items(request: web.Request) -> web.Response:
    record = _stored(request, request.match_info["response_id"])
    items = [dict(i) for i in record.get("input_items") or []]
    if request.query.get("order", "desc") != "asc":
        items.reverse()
    try:
        limit = max(1, min(100, int(request.query.get("limit", "20"))))
    except ValueError:
        raise RequestError("limit must be an integer between 1 and 100", field="limit") from None
    page = items[:limit]
    return web.json_response(
        {
            "object": "list",
            "data": page,
            "first_id": page[0].get("id") if page else None,
            "last_id": page[-1].get("id") if page else None,
            "has_more": len(items) > limit,
        }
    )


def register(app: web.Application) -> None:
    r = app.router
    for prefix in ("/v1", "/v1/v1", ""):
        r.add_post(f"{prefix}/responses", create_response)
        r.add_get(f"{prefix}/responses/{{response_id}}", get_response)
        r.add_get(f"{prefix}/responses/{{response_id}}/input_items", list_input_items)
