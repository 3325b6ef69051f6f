"""Anthropic Messages API <-> Gemini `GenerateContentRequest` / `GenerateContentResponse`.

Pure code: dicts in, dicts and SSE bytes out. Ids come from an injected `IdFactory`.

Request side (`to_gemini`, `count_tokens_request`): validates the Messages body, maps system,
messages, tools, tool_choice, thinking and sampling parameters to Gemini.

Response side (`MessagesStream`): a state machine fed one unwrapped Gemini response at a time;
it yields Anthropic SSE frames (`message_start`, `content_block_*`, `message_delta`,
`message_stop`) exactly as the Anthropic API orders them, and collects the same content for
the non-streaming `Message` body.

Thought signatures
------------------
Every signature the upstream issues is shown to the client as the `signature` of a thinking
block, *tagged* with the family of the model that issued it::

    tp1.<family>.<raw upstream signature>      e.g. "tp1.claude.EqQBCkgIARAB..."

Families (`signature_family`): ``claude`` (any claude-*), ``gemini2`` (gemini-2.x),
``gemini3`` (every other gemini-*, incl. gemini-pro-agent / gemini-3-flash-agent, which the
effort variants switch between), ``gptoss``, else ``m-<model>``. Clients (Claude Code, the
SDKs) treat signatures as opaque and send them back verbatim, so the tag survives restarts and
needs no server-side memory. On the way back (`to_gemini`) the tag is removed and:

- a signature whose family equals the upstream model's family is replayed;
- a signature from another family, an untagged one (real Anthropic signatures, anything a
  client made up) or an empty one is *not* replayed: the thinking block is dropped (never
  turned into a 400). Function calls then fall back to the `signatures` memory, else to
  `BYPASS_SIGNATURE` on thinking models.

Where a signature sits upstream differs by family: Claude signs its thought parts; Gemini signs
the first function call of a step (or a text part). The response side keeps that information
in the order of the blocks: a signature that arrives on a function call (or text) part is
attached to the thinking block open before it, or carried by an empty thinking block emitted
right before the tool_use block. The request side puts a replayed signature back on the next
function call of the same assistant message (and, for Gemini, on the next text part when a
text part comes first), so the upstream sees its signature where it put it.

`MessagesStream.signatures` maps tool_use id -> tagged signature (the one on the function call
part, else the thought before it). `to_gemini(signatures=...)` accepts tagged values (family
checked) and untagged ones (trusted: only trayproxy writes that memory).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeGuard

import orjson

from trayproxy.protocols.errors import RequestError
from trayproxy.protocols.gemini import (
    BYPASS_SIGNATURE,
    SAFETY_OFF,
    SIGNATURE_PREFIX,
    IdFactory,
    Usage,
    decode_signature,
    encode_signature,
    finish_reason,
    is_thinking_model,
    iter_parts,
    part_as_text,
    signature_family,
    unwrap,
)
from trayproxy.protocols.schema import clean_schema
from trayproxy.protocols.sse import encode_event

__all__ = [
    "to_gemini",
    "count_tokens_request",
    "is_background_request",
    "MessagesStream",
    "signature_family",
    "encode_signature",
    "decode_signature",
    "SIGNATURE_PREFIX",
]

JSON = dict[str, Any]

# -- signatures ---------------------------------------------------------------------------------

# -- small helpers ------------------------------------------------------------------------------

_MIME_BY_EXT = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "heic": "image/heic",
    "heif": "image/heif",
    "bmp": "image/bmp",
    "svg": "image/svg+xml",
    "pdf": "application/pdf",
    "txt": "text/plain",
    "md": "text/markdown",
    "html": "text/html",
    "htm": "text/html",
    "csv": "text/csv",
    "json": "application/json",
}


def _guess_mime(url: str, default: str) -> str:
    path = url.split("#", 1)[0].split("?", 1)[0]
    last = path.rsplit("/", 1)[-1]
    if "." in last:
        return _MIME_BY_EXT.get(last.rsplit(".", 1)[-1].lower(), default)
    return default


def _is_int(v: Any) -> TypeGuard[int]:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _nonblank(text: str) -> bool:
    return bool(text) and not text.isspace()


def _output_cap(model: str) -> int:
    return 64000 if model.lower().startswith("claude") else 65536


#: Thinking budget for an Anthropic `effort` (adaptive thinking, `output_config.effort`).
EFFORT_BUDGETS = {"low": 2048, "medium": 8192, "high": 24576, "max": 32768}
#: Budget used when a Claude upstream thinks by default and the client named none.
DEFAULT_CLAUDE_BUDGET = 16000
#: Smallest budget worth sending (Anthropic's own minimum).
MIN_BUDGET = 1024
#: Room for the visible answer kept above a budget the proxy chose itself.
_ANSWER_ROOM = 4096
#: maxOutputTokens = budget + this when the client's max_tokens leaves no room for an answer.
_RAISED_ROOM = 8192

_EMPTY_TOOL_RESULT = "(the tool returned no output)"
_EMPTY_TOOL_ERROR = "(the tool failed without output)"
_MISSING_TOOL_RESULT = "No result was provided for this tool call (it was interrupted or skipped)."

#: Content block types the Messages API defines for server-side tools: accepted, not relayed.
_SERVER_BLOCKS = frozenset(
    {
        "server_tool_use",
        "web_search_tool_result",
        "web_fetch_tool_result",
        "code_execution_tool_result",
        "bash_code_execution_tool_result",
        "text_editor_code_execution_tool_result",
        "tool_search_tool_result",
        "mcp_tool_use",
        "mcp_tool_result",
        "container_upload",
    }
)


# -- request conversion -------------------------------------------------------------------------


@dataclass
class _Ctx:
    upstream_model: str
    family: str
    signatures: Mapping[str, str]
    thinking_upstream: bool = False  # function calls need a signature (else BYPASS_SIGNATURE)
    tool_names: dict[str, str] = field(default_factory=dict)

    def trusted(self, value: Any, *, remembered: bool = False) -> str | None:
        """The raw signature to replay, or None when it must not be sent upstream."""
        if not isinstance(value, str) or not value or value == BYPASS_SIGNATURE:
            return None
        family, raw = decode_signature(value)
        if family is None:
            return raw if remembered else None
        return raw if family == self.family else None

    def remembered(self, tool_id: str) -> str | None:
        try:
            value = self.signatures.get(tool_id)
        except Exception:  # a Mapping may raise on odd keys; memory is best effort
            return None
        return self.trusted(value, remembered=True)


def _req_str(body: JSON, key: str) -> str:
    v = body.get(key)
    if not isinstance(v, str) or not v.strip():
        raise RequestError(f"`{key}` is required and must be a non-empty string.", field=key)
    return v


#: Claude Code's attribution line (`x-anthropic-billing-header: cc_version=...; cch=<hash>`):
#: meaningful to Anthropic only, and its per-request hash would defeat upstream prefix caching.
_BILLING_LINE = re.compile(r"^x-anthropic-billing-header:[^\n]*(?:\n|$)", re.M)


def _system_text(text: str) -> str:
    return _BILLING_LINE.sub("", text) if "x-anthropic-billing-header:" in text else text


def _system_parts(system: Any) -> list[JSON]:
    if system is None:
        return []
    if isinstance(system, str):
        system = _system_text(system)
        return [{"text": system}] if _nonblank(system) else []
    if not isinstance(system, list):
        raise RequestError("`system` must be a string or a list of text blocks.", field="system")
    parts: list[JSON] = []
    for i, block in enumerate(system):
        if not isinstance(block, dict) or block.get("type") != "text":
            raise RequestError("`system` blocks must be text blocks.", field=f"system[{i}]")
        text = block.get("text")
        if not isinstance(text, str):
            raise RequestError("A text block needs a string `text`.", field=f"system[{i}].text")
        text = _system_text(text)
        if _nonblank(text):
            parts.append({"text": text})
    return parts


def _media_part(source: Any, where: str, *, kind: str) -> JSON:
    """image/document `source` -> inlineData / fileData part."""
    if not isinstance(source, dict):
        raise RequestError(
            f"A{'n' if kind == 'image' else ''} {kind} block needs a `source` object.", field=where
        )
    stype = source.get("type")
    default_mime = "image/jpeg" if kind == "image" else "application/pdf"
    if stype == "base64":
        data = source.get("data")
        mime = source.get("media_type")
        if not isinstance(data, str) or not data:
            raise RequestError("A base64 source needs its `data`.", field=f"{where}.data")
        if not isinstance(mime, str) or not mime:
            raise RequestError("A base64 source needs its `media_type`.", field=f"{where}.media_type")
        return {"inlineData": {"mimeType": mime, "data": data}}
    if stype == "url":
        url = source.get("url")
        if not isinstance(url, str) or not url:
            raise RequestError("A url source needs its `url`.", field=f"{where}.url")
        return {"fileData": {"fileUri": url, "mimeType": _guess_mime(url, default_mime)}}
    if stype == "file":
        raise RequestError(
            "Files API references (source type `file`) are not supported; send the data as base64.",
            field=f"{where}.type",
        )
    raise RequestError(f"Unsupported {kind} source type {stype!r}.", field=f"{where}.type")


def _document_parts(block: JSON, where: str) -> list[JSON]:
    source = block.get("source")
    title = block.get("title")
    parts: list[JSON] = []
    if isinstance(title, str) and _nonblank(title):
        parts.append({"text": f"Document: {title}"})
    if isinstance(source, dict) and source.get("type") == "text":
        data = source.get("data")
        if not isinstance(data, str):
            raise RequestError("A text document source needs string `data`.", field=f"{where}.source.data")
        if _nonblank(data):
            parts.append({"text": data})
        return parts
    if isinstance(source, dict) and source.get("type") == "content":
        content = source.get("content")
        if isinstance(content, str):
            if _nonblank(content):
                parts.append({"text": content})
            return parts
        if not isinstance(content, list):
            raise RequestError("A content document source needs `content`.", field=f"{where}.source.content")
        for j, sub in enumerate(content):
            sw = f"{where}.source.content[{j}]"
            if not isinstance(sub, dict):
                raise RequestError("Content blocks must be objects.", field=sw)
            if sub.get("type") == "text":
                text = sub.get("text")
                if isinstance(text, str) and _nonblank(text):
                    parts.append({"text": text})
            elif sub.get("type") == "image":
                parts.append(_media_part(sub.get("source"), f"{sw}.source", kind="image"))
            else:
                raise RequestError(f"Unsupported block type {sub.get('type')!r} in a document.", field=sw)
        return parts
    parts.append(_media_part(source, f"{where}.source", kind="document"))
    return parts


def _search_result_text(block: JSON) -> str:
    lines = []
    if isinstance(block.get("title"), str):
        lines.append(block["title"])
    if isinstance(block.get("source"), str):
        lines.append(block["source"])
    for sub in block.get("content") or []:
        if isinstance(sub, dict) and isinstance(sub.get("text"), str):
            lines.append(sub["text"])
    return "\n".join(lines)


def _tool_result_parts(block: JSON, where: str) -> tuple[str, list[JSON]]:
    """tool_result content -> (text for the functionResponse, extra media parts)."""
    content = block.get("content")
    texts: list[str] = []
    extra: list[JSON] = []
    if content is None:
        pass
    elif isinstance(content, str):
        texts.append(content)
    elif isinstance(content, list):
        for j, sub in enumerate(content):
            sw = f"{where}.content[{j}]"
            if not isinstance(sub, dict):
                raise RequestError("tool_result content blocks must be objects.", field=sw)
            t = sub.get("type")
            if t == "text":
                text = sub.get("text")
                if not isinstance(text, str):
                    raise RequestError("A text block needs a string `text`.", field=f"{sw}.text")
                texts.append(text)
            elif t == "image":
                extra.append(_media_part(sub.get("source"), f"{sw}.source", kind="image"))
            elif t == "document":
                for p in _document_parts(sub, sw):
                    if "text" in p:
                        texts.append(p["text"])
                    else:
                        extra.append(p)
            elif t == "search_result":
                texts.append(_search_result_text(sub))
            elif t == "tool_reference":
                name = sub.get("tool_name")
                if isinstance(name, str):
                    texts.append(f"(tool reference: {name})")
            else:
                raise RequestError(f"Unsupported block type {t!r} in a tool_result.", field=sw)
    else:
        raise RequestError(
            "tool_result `content` must be a string or a list of blocks.", field=f"{where}.content"
        )
    text = "\n".join(t for t in texts if t)
    if not text.strip():
        text = _EMPTY_TOOL_ERROR if block.get("is_error") else _EMPTY_TOOL_RESULT
        if extra:
            text = "(see the attached content)"
    return text, extra


@dataclass
class _Turn:
    role: str  # "user" | "model"
    parts: list[JSON]


def _convert_message(msg: Any, i: int, ctx: _Ctx) -> _Turn:
    where = f"messages[{i}]"
    if not isinstance(msg, dict):
        raise RequestError("Each message must be an object.", field=where)
    role = msg.get("role")
    if role not in ("user", "assistant"):
        raise RequestError(
            f"Message role must be 'user' or 'assistant', not {role!r} (put system text in `system`).",
            field=f"{where}.role",
        )
    content = msg.get("content")
    if isinstance(content, str):
        return _Turn("user" if role == "user" else "model", [{"text": content}] if _nonblank(content) else [])
    if not isinstance(content, list):
        raise RequestError("Message content must be a string or a list of blocks.", field=f"{where}.content")
    parts: list[JSON] = []
    carried: str | None = None  # replayable signature of the last thinking block, not yet placed
    for j, block in enumerate(content):
        bw = f"{where}.content[{j}]"
        if not isinstance(block, dict):
            raise RequestError("Content blocks must be objects.", field=bw)
        t = block.get("type")
        if not isinstance(t, str):
            raise RequestError("Every content block needs a string `type`.", field=f"{bw}.type")
        if t == "text":
            text = block.get("text")
            if not isinstance(text, str):
                raise RequestError("A text block needs a string `text`.", field=f"{bw}.text")
            if not _nonblank(text):
                continue
            part: JSON = {"text": text}
            if carried and role == "assistant" and ctx.family != "claude":
                part["thoughtSignature"] = carried
                carried = None
            parts.append(part)
        elif t == "image":
            parts.append(_media_part(block.get("source"), f"{bw}.source", kind="image"))
        elif t == "document":
            parts.extend(_document_parts(block, bw))
        elif t == "search_result":
            text = _search_result_text(block)
            if _nonblank(text):
                parts.append({"text": text})
        elif t == "tool_use":
            if role != "assistant":
                raise RequestError("tool_use blocks belong in assistant messages.", field=bw)
            tid, name, args = block.get("id"), block.get("name"), block.get("input")
            if not isinstance(tid, str) or not tid:
                raise RequestError("A tool_use block needs its `id`.", field=f"{bw}.id")
            if not isinstance(name, str) or not name:
                raise RequestError("A tool_use block needs its `name`.", field=f"{bw}.name")
            if args is None:
                args = {}
            if not isinstance(args, dict):
                raise RequestError("tool_use `input` must be an object.", field=f"{bw}.input")
            ctx.tool_names[tid] = name
            sig = ctx.trusted(block.get("signature")) or carried or ctx.remembered(tid)
            carried = None
            if sig is None and ctx.thinking_upstream:
                sig = BYPASS_SIGNATURE
            part = {"functionCall": {"name": name, "args": args, "id": tid}}
            if sig:
                part["thoughtSignature"] = sig
            parts.append(part)
        elif t == "tool_result":
            if role != "user":
                raise RequestError("tool_result blocks belong in user messages.", field=bw)
            tid = block.get("tool_use_id")
            if not isinstance(tid, str) or not tid:
                raise RequestError("A tool_result block needs its `tool_use_id`.", field=f"{bw}.tool_use_id")
            text, extra = _tool_result_parts(block, bw)
            key = "error" if block.get("is_error") else "result"
            parts.append(
                {
                    "functionResponse": {
                        "name": ctx.tool_names.get(tid, ""),
                        "response": {key: text},
                        "id": tid,
                    },
                    "_extra": extra,
                }
            )
        elif t == "thinking":
            if role != "assistant":
                raise RequestError("thinking blocks belong in assistant messages.", field=bw)
            thinking = block.get("thinking")
            sig = ctx.trusted(block.get("signature"))
            if sig is None:
                continue  # another family's, or unsigned: never replayed, never a 400
            carried = sig
            if ctx.family == "claude" and isinstance(thinking, str) and thinking:
                parts.append({"text": thinking, "thought": True, "thoughtSignature": sig})
        elif t == "redacted_thinking" or t in _SERVER_BLOCKS:
            continue
        else:
            raise RequestError(f"Unsupported content block type {t!r}.", field=f"{bw}.type")
    return _Turn("user" if role == "user" else "model", parts)


def _merge(turns: Iterable[_Turn]) -> list[_Turn]:
    out: list[_Turn] = []
    for t in turns:
        if not t.parts:
            continue
        if out and out[-1].role == t.role:
            out[-1].parts.extend(t.parts)
        else:
            out.append(_Turn(t.role, list(t.parts)))
    return out


def _fix_tool_turns(turns: list[_Turn]) -> None:
    """Make every user turn answer exactly the previous model turn's calls.

    functionResponses go first (in call order); a call with no response gets a synthetic error
    response; a response to no call in the previous turn becomes plain text. Media from tool
    results follows the responses."""
    prev_calls: list[JSON] = []
    for k, turn in enumerate(turns):
        if turn.role == "model":
            prev_calls = [p["functionCall"] for p in turn.parts if "functionCall" in p]
            continue
        call_ids = [c.get("id") for c in prev_calls]
        answered: dict[str, JSON] = {}
        extras: list[JSON] = []
        others: list[JSON] = []
        for p in turn.parts:
            if "functionResponse" not in p:
                others.append(p)
                continue
            fr = p["functionResponse"]
            extra = p.get("_extra") or []
            if fr["id"] in call_ids and fr["id"] not in answered:
                answered[fr["id"]] = {"functionResponse": fr}
                extras.extend(extra)
            else:
                resp = fr["response"]
                label = fr["name"] or fr["id"]
                body = resp.get("result", resp.get("error", ""))
                prefix = "Error from" if "error" in resp else "Result of"
                others.append({"text": f"[{prefix} tool call {label}]\n{body}"})
                others.extend(extra)
        responses: list[JSON] = []
        if prev_calls and k > 0:
            for c in prev_calls:
                cid = c.get("id")
                if cid in answered:
                    answered[cid]["functionResponse"]["name"] = c["name"]
                    responses.append(answered[cid])
                else:
                    responses.append(
                        {
                            "functionResponse": {
                                "name": c["name"],
                                "response": {"error": _MISSING_TOOL_RESULT},
                                "id": cid,
                            }
                        }
                    )
        turn.parts = responses + extras + others
        prev_calls = []


def _strip_thoughts(turns: list[_Turn]) -> list[_Turn]:
    for t in turns:
        t.parts = [p for p in t.parts if not p.get("thought")]
    return _merge(turns)


def _loop_turn_starts_with_thought(turns: list[_Turn]) -> bool:
    """Anthropic's rule with thinking on: when the conversation ends in a tool loop, the last
    assistant turn must start with a (signed) thinking block. True when the rule is met or does
    not apply."""
    if len(turns) < 2 or turns[-1].role != "user" or turns[-2].role != "model":
        return True
    last_model = turns[-2]
    if not any("functionCall" in p for p in last_model.parts):
        return True
    if not any("functionResponse" in p for p in turns[-1].parts):
        return True
    first = last_model.parts[0]
    return bool(first.get("thought") and first.get("thoughtSignature"))


@dataclass
class _Thinking:
    mode: str  # "on" (thoughts shown) | "quiet" (budget, no thoughts) | "off" | "default" (send nothing)
    budget: int = 0
    max_tokens: int = 0


def _plan_thinking(body: JSON, upstream_model: str, max_tokens: int) -> _Thinking:
    cap = _output_cap(upstream_model)
    max_out = min(max_tokens, cap)
    claude = upstream_model.lower().startswith("claude")
    capable = claude or is_thinking_model(upstream_model)
    thinking = body.get("thinking")
    if thinking is not None and not isinstance(thinking, dict):
        raise RequestError("`thinking` must be an object.", field="thinking")
    ttype = thinking.get("type") if thinking is not None else None
    if ttype not in (None, "enabled", "adaptive", "disabled"):
        raise RequestError(f"Unknown thinking type {ttype!r}.", field="thinking.type")
    oc = body.get("output_config")
    effort = oc.get("effort") if isinstance(oc, dict) else None
    if effort is not None and effort not in EFFORT_BUDGETS:
        raise RequestError(f"Unknown effort {effort!r}.", field="output_config.effort")

    if ttype == "disabled" or not capable:
        return _Thinking("off", 0, max_out)
    if ttype == "enabled" and thinking is not None:
        budget = thinking.get("budget_tokens", thinking.get("budgetTokens"))
        if not _is_int(budget) or budget <= 0:
            raise RequestError(
                "thinking.budget_tokens must be a positive integer.", field="thinking.budget_tokens"
            )
        # The client chose the budget: keep it and make room for an answer above it.
        if max_out - budget < MIN_BUDGET:
            max_out = min(cap, budget + _RAISED_ROOM)
            budget = min(budget, max_out - MIN_BUDGET)
        return _Thinking("on", budget, max_out)
    mode = "on"
    if ttype == "adaptive":
        wanted = EFFORT_BUDGETS[effort or "high"]
    elif claude and is_thinking_model(upstream_model):
        # Claude `-thinking` upstreams think by default; show the thoughts so their
        # signatures reach the client and can be replayed in the next tool-loop turn.
        wanted = EFFORT_BUDGETS[effort] if effort else DEFAULT_CLAUDE_BUDGET
    elif effort is not None and not claude:
        # No thinking requested, but an effort: bound Gemini's own thinking, show none.
        wanted, mode = EFFORT_BUDGETS[effort], "quiet"
    else:
        return _Thinking("default", 0, max_out)
    # The proxy chose the budget: fit it under the client's max_tokens.
    budget = min(wanted, max_out - _ANSWER_ROOM)
    if budget < MIN_BUDGET:
        return _Thinking("off", 0, max_out)
    return _Thinking(mode, budget, max_out)


def _thinking_config(plan: _Thinking, upstream_model: str) -> JSON | None:
    if plan.mode in ("on", "quiet"):
        return {"includeThoughts": plan.mode == "on", "thinkingBudget": plan.budget}
    if plan.mode == "off" and not upstream_model.lower().startswith("claude"):
        if not is_thinking_model(upstream_model):
            return None
        cfg: JSON = {"includeThoughts": False}
        if upstream_model.lower().startswith("gemini-2.5-flash"):
            cfg["thinkingBudget"] = 0
        return cfg
    return None


def _is_web_search_tool(tool: JSON) -> bool:
    t = tool.get("type")
    return isinstance(t, str) and t.startswith("web_search")


def _tools(body: JSON) -> tuple[list[JSON], bool]:
    """(functionDeclarations, wants web search)."""
    tools = body.get("tools")
    if tools is None:
        return [], False
    if not isinstance(tools, list):
        raise RequestError("`tools` must be a list.", field="tools")
    decls: list[JSON] = []
    web = False
    seen: set[str] = set()
    for i, tool in enumerate(tools):
        where = f"tools[{i}]"
        if not isinstance(tool, dict):
            raise RequestError("Each tool must be an object.", field=where)
        ttype = tool.get("type")
        if ttype not in (None, "custom"):
            # Server tools (web_search_*, web_fetch_*, code_execution_*, ...) and Anthropic-
            # schema'd client tools have no Gemini declaration; web search maps to googleSearch.
            web = web or _is_web_search_tool(tool)
            continue
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            raise RequestError("A tool needs a `name`.", field=f"{where}.name")
        if name in seen:
            raise RequestError(f"Tool name {name!r} is declared twice.", field=f"{where}.name")
        seen.add(name)
        schema = tool.get("input_schema")
        if schema is None:
            schema = {"type": "object", "properties": {}}
        if not isinstance(schema, dict):
            raise RequestError("`input_schema` must be a JSON Schema object.", field=f"{where}.input_schema")
        decl: JSON = {"name": name}
        desc = tool.get("description")
        if isinstance(desc, str) and desc:
            decl["description"] = desc
        decl["parameters"] = clean_schema(schema)
        decls.append(decl)
    return decls, web


def _tool_config(body: JSON, names: list[str]) -> JSON | None:
    choice = body.get("tool_choice")
    if choice is None or not names:
        return None
    if not isinstance(choice, dict):
        raise RequestError("`tool_choice` must be an object.", field="tool_choice")
    ctype = choice.get("type")
    if ctype == "auto":
        return {"functionCallingConfig": {"mode": "AUTO"}}
    if ctype == "any":
        return {"functionCallingConfig": {"mode": "ANY"}}
    if ctype == "none":
        return {"functionCallingConfig": {"mode": "NONE"}}
    if ctype == "tool":
        name = choice.get("name")
        if not isinstance(name, str) or name not in names:
            raise RequestError(
                f"tool_choice names {name!r}, which is not among the tools.", field="tool_choice.name"
            )
        return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}
    raise RequestError(f"Unknown tool_choice type {ctype!r}.", field="tool_choice.type")


def _output_format(body: JSON) -> JSON | None:
    """The JSON schema of `output_config.format` (or the older beta `output_format`), if any."""
    oc = body.get("output_config")
    fmt = oc.get("format") if isinstance(oc, dict) else None
    where = "output_config.format"
    if fmt is None:
        fmt, where = body.get("output_format"), "output_format"
    if fmt is None:
        return None
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        raise RequestError("Only the `json_schema` output format is supported.", field=f"{where}.type")
    schema = fmt.get("schema")
    if not isinstance(schema, dict):
        raise RequestError("A json_schema output format needs its `schema` object.", field=f"{where}.schema")
    return schema


def _generation_config(body: JSON, plan: _Thinking, upstream_model: str, with_max: bool) -> JSON:
    gc: JSON = {}
    if with_max:
        gc["maxOutputTokens"] = plan.max_tokens
    for src, dst, check in (
        ("temperature", "temperature", _is_num),
        ("top_p", "topP", _is_num),
        ("top_k", "topK", _is_int),
    ):
        v = body.get(src)
        if v is None:
            continue
        if not check(v):
            raise RequestError(f"`{src}` must be a number.", field=src)
        gc[dst] = v
    stops = body.get("stop_sequences")
    if stops is not None:
        if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
            raise RequestError("`stop_sequences` must be a list of strings.", field="stop_sequences")
        stops = [s for s in stops if s][:5]  # Gemini takes at most five
        if stops:
            gc["stopSequences"] = stops
    fmt = _output_format(body)
    if fmt is not None and not upstream_model.lower().startswith("claude"):
        # Structured outputs (Claude Code's session-title call asks for {"title": ...}).
        gc["responseMimeType"] = "application/json"
        gc["responseSchema"] = clean_schema(fmt, require_object=False)
    tc = _thinking_config(plan, upstream_model)
    if tc is not None:
        gc["thinkingConfig"] = tc
    return gc


def _build(body: Any, upstream_model: str, signatures: Mapping[str, str], *, for_count: bool) -> JSON:
    if not isinstance(body, dict):
        raise RequestError("The request body must be a JSON object.")
    _req_str(body, "model")
    max_tokens = _output_cap(upstream_model)
    if not for_count:
        given = body.get("max_tokens")
        if not _is_int(given) or given < 1:
            raise RequestError("`max_tokens` is required and must be a positive integer.", field="max_tokens")
        max_tokens = given
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError("`messages` is required and must be a non-empty list.", field="messages")

    plan = _plan_thinking(body, upstream_model, max_tokens)
    ctx = _Ctx(
        upstream_model=upstream_model,
        family=signature_family(upstream_model),
        signatures=signatures,
        thinking_upstream=is_thinking_model(upstream_model) or plan.mode == "on",
    )
    system = _system_parts(body.get("system"))
    # Claude Code puts some instructions in messages with role "system"; the Messages API
    # itself has no such role, so they join the system instruction in order.
    for m in messages:
        if isinstance(m, dict) and m.get("role") == "system":
            system.extend(_system_parts(m.get("content")))
    turns = _merge(
        _convert_message(m, i, ctx)
        for i, m in enumerate(messages)
        if not (isinstance(m, dict) and m.get("role") == "system")
    )
    _fix_tool_turns(turns)
    if not turns:
        raise RequestError("The messages have no content to send (every block is empty).", field="messages")

    if ctx.family == "claude":
        if plan.mode == "on" and not _loop_turn_starts_with_thought(turns):
            # The client did not keep (or we cannot replay) the thinking that started this tool
            # loop; Claude would reject the request with thinking on, so answer without it.
            plan = _Thinking("off", 0, min(max_tokens, _output_cap(upstream_model)))
        if plan.mode != "on":
            turns = _strip_thoughts(turns)

    decls, web = _tools(body)
    req: JSON = {"contents": [{"role": t.role, "parts": t.parts} for t in turns]}
    if system:
        req["systemInstruction"] = {"role": "user", "parts": system}
    if decls:
        req["tools"] = [{"functionDeclarations": decls}]
    elif web:
        req["tools"] = [{"googleSearch": {}}]
    if for_count:
        return req
    tc = _tool_config(body, [d["name"] for d in decls])
    if tc is not None:
        req["toolConfig"] = tc
    req["generationConfig"] = _generation_config(body, plan, upstream_model, True)
    req["safetySettings"] = [dict(s) for s in SAFETY_OFF]
    return req


def to_gemini(body: JSON, *, upstream_model: str, signatures: Mapping[str, str]) -> JSON:
    """Anthropic Messages request -> Gemini `GenerateContentRequest` (the inner request).

    Raises RequestError(field=...) for input the Messages API would reject."""
    return _build(body, upstream_model, signatures, for_count=False)


def count_tokens_request(body: JSON, *, upstream_model: str) -> JSON:
    """`/v1/messages/count_tokens` body -> upstream countTokens body `{"request": {...}}`.

    Same contents, systemInstruction and tools as `to_gemini` would send (max_tokens is not
    required here)."""
    return {"request": _build(body, upstream_model, {}, for_count=True)}


# -- background requests ------------------------------------------------------------------------

#: Openings of the system prompts Claude Code uses for its small side calls.
_BACKGROUND_SYSTEM = (
    "Generate a concise, sentence-case title",
    "You are coming up with a succinct title",
    "Analyze if this message indicates a new conversation topic",
    "Please write a 5-10 word title",
    "Your task is to process Bash commands that an AI coding agent wants to run",
    "Extract any file paths that this command reads or modifies",
    "Summarize this coding conversation in under 50 characters",
)
#: Openings of the last user message of Claude Code's side calls that reuse the conversation.
_BACKGROUND_USER = (
    "Please write a 5-10 word title",
    "Summarize this coding conversation in under 50 characters",
    "[SUGGESTION MODE]",
    "Describe your most recent action in 3-5 words",
    "Analyze if this message indicates a new conversation topic",
)
_REMINDER = re.compile(r"<system-reminder>.*?</system-reminder>", re.S)


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [
            b["text"]
            for b in content
            if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
        ]
    return []


def is_background_request(body: JSON) -> bool:
    """Claude Code's small side calls (session titles, topic detection, bash prefix / file path
    extraction, prompt suggestions, progress summaries, `Warmup`, the `quota` probe) that the
    handler routes to a fast model. Conversation compaction is *not* one of them: it needs the
    main model's context and quality."""
    if not isinstance(body, dict):
        return False
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return False
    system = body.get("system")
    sys_text = "\n".join(_texts(system)).lstrip()
    if any(sys_text.startswith(m) or f"\n{m}" in sys_text for m in _BACKGROUND_SYSTEM):
        return True
    last = messages[-1]
    if not isinstance(last, dict) or last.get("role") != "user":
        return False
    texts = [t.strip() for t in (_REMINDER.sub("", x) for x in _texts(last.get("content"))) if t.strip()]
    if not texts:
        return False
    if texts == ["Warmup"]:  # Claude Code's cache warm-up call (main agent and subagents)
        return True
    if (
        len(messages) == 1
        and texts == ["quota"]
        and _is_int(body.get("max_tokens"))
        and body["max_tokens"] <= 16
    ):
        return True
    return any(texts[-1].startswith(m) for m in _BACKGROUND_USER)


# -- response conversion ------------------------------------------------------------------------

_REFUSAL = frozenset(
    {
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
        "LANGUAGE",
    }
)
_NORMAL = frozenset({"STOP", "FINISH_REASON_UNSPECIFIED"})


class MessagesStream:
    """Gemini responses in, Anthropic Messages SSE frames (or a collected Message) out.

    `feed` one unwrapped GenerateContentResponse at a time; `finish` when the upstream ended;
    `fail` when it broke off after output began; `result()` for the non-streaming body.
    Nothing is emitted before there is real content (a block), so a handler can retry an
    empty answer: `produced_output` says whether the client has been given anything.
    """

    def __init__(
        self,
        *,
        model: str,
        message_id: str,
        stream: bool,
        new_id: IdFactory,
        upstream_model: str | None = None,
    ) -> None:
        self.model = model
        self.message_id = message_id
        self.stream = stream
        self.new_id = new_id
        self.upstream_model = upstream_model or model
        self.usage: Usage | None = None
        self.signatures: dict[str, str] = {}
        self.produced_output = False
        self.upstream_finish: str | None = None
        self.content: list[JSON] = []
        self._open: JSON | None = None  # the block being streamed (also in self.content)
        self._unclaimed: str | None = None  # tagged signature of the last thinking block
        self._shown: set[str] = set()  # signatures already given to the client in this message
        self._has_tool = False
        self._has_visible = False
        self._closed = False
        self._failed: str | None = None

    # -- helpers -------------------------------------------------------------------------------

    def _emit(self, out: list[bytes], name: str, obj: JSON) -> None:
        if self.stream:
            out.append(encode_event(name, obj))

    def _usage_json(self) -> JSON:
        """Anthropic usage: input excludes cached tokens; output includes thinking tokens."""
        u = self.usage or Usage()
        cached = min(u.cached, u.prompt)
        return {
            "input_tokens": u.prompt - cached,
            "output_tokens": u.output + u.reasoning,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": cached,
        }

    def _start(self, out: list[bytes]) -> None:
        if self.produced_output:
            return
        self.produced_output = True
        u = self._usage_json()
        self._emit(
            out,
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": self.message_id,
                    "type": "message",
                    "role": "assistant",
                    "model": self.model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": u,
                },
            },
        )

    def _open_block(self, out: list[bytes], block: JSON) -> JSON:
        self._close_block(out)
        self._start(out)
        index = len(self.content)
        self.content.append(block)
        self._open = block
        if block["type"] == "tool_use":
            start: JSON = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
        elif block["type"] == "thinking":
            start = {"type": "thinking", "thinking": "", "signature": ""}
        else:
            start = {"type": "text", "text": ""}
        self._emit(
            out,
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": start},
        )
        return block

    def _close_block(self, out: list[bytes]) -> None:
        block = self._open
        if block is None:
            return
        index = len(self.content) - 1
        if block["type"] == "thinking":
            if block["signature"]:
                self._emit(
                    out,
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "signature_delta", "signature": block["signature"]},
                    },
                )
                self._unclaimed = block["signature"]
                self._shown.add(block["signature"])
        self._emit(out, "content_block_stop", {"type": "content_block_stop", "index": index})
        self._open = None

    def _delta(self, out: list[bytes], delta: JSON) -> None:
        self._emit(
            out,
            "content_block_delta",
            {"type": "content_block_delta", "index": len(self.content) - 1, "delta": delta},
        )

    def _tag(self, raw: str) -> str:
        return encode_signature(raw, model=self.upstream_model)

    def _thinking_open(self) -> JSON | None:
        if self._open is not None and self._open["type"] == "thinking":
            return self._open
        return None

    def _sign_open_thinking(self, tagged: str) -> bool:
        """Give a signature to the open thinking block if it has none yet."""
        block = self._thinking_open()
        if block is not None and not block["signature"]:
            block["signature"] = tagged
            return True
        return False

    def _text(self, out: list[bytes], text: str) -> None:
        if not text:
            return
        if self._open is None or self._open["type"] != "text":
            self._open_block(out, {"type": "text", "text": ""})
            if signature_family(self.upstream_model) != "claude":
                self._unclaimed = None  # Gemini: the signature before a text part is the text's
        assert self._open is not None
        self._open["text"] += text
        self._has_visible = True
        self._delta(out, {"type": "text_delta", "text": text})

    # -- parts ---------------------------------------------------------------------------------

    def _thought(self, out: list[bytes], part: JSON) -> None:
        text = part.get("text") if isinstance(part.get("text"), str) else ""
        raw = part.get("thoughtSignature") or part.get("thought_signature")
        block = self._thinking_open()
        if text:
            if block is None or block["signature"]:
                block = self._open_block(out, {"type": "thinking", "thinking": "", "signature": ""})
            block["thinking"] += text
            self._delta(out, {"type": "thinking_delta", "thinking": text})
        if isinstance(raw, str) and raw:
            if block is None or block["signature"]:
                block = self._open_block(out, {"type": "thinking", "thinking": "", "signature": ""})
            block["signature"] = self._tag(raw)

    def _function_call(self, out: list[bytes], part: JSON) -> None:
        fc = part["functionCall"]
        raw = part.get("thoughtSignature") or part.get("thought_signature")
        tagged = self._tag(raw) if isinstance(raw, str) and raw else None
        if tagged is not None and not self._sign_open_thinking(tagged):
            self._close_block(out)
            if tagged not in self._shown:
                # Gemini signs the call itself: carry the signature in an (empty) thinking block
                # just before the tool_use, where the request side will look for it. (A call
                # repeating a signature already shown is remembered in `signatures` only.)
                self._open_block(out, {"type": "thinking", "thinking": "", "signature": tagged})
        self._close_block(out)
        tid = fc.get("id") if isinstance(fc.get("id"), str) and fc.get("id") else self.new_id("toolu_")
        name = fc.get("name") if isinstance(fc.get("name"), str) else ""
        args = fc.get("args")
        if args is None:
            args = {}
        if not isinstance(args, dict):
            args = {"value": args}
        sig = tagged or self._unclaimed
        self._unclaimed = None
        if sig:
            self.signatures[tid] = sig
        self._open_block(out, {"type": "tool_use", "id": tid, "name": name, "input": args})
        self._delta(out, {"type": "input_json_delta", "partial_json": orjson.dumps(args).decode()})
        self._close_block(out)
        self._has_tool = True
        self._has_visible = True

    def _plain(self, out: list[bytes], part: JSON) -> None:
        raw = part.get("thoughtSignature") or part.get("thought_signature")
        if isinstance(raw, str) and raw:
            # A signature on a text part belongs to the thinking before it, if any is open.
            self._sign_open_thinking(self._tag(raw))
        if isinstance(part.get("text"), str):
            self._text(out, part["text"])
        else:
            rendered = part_as_text(part)
            if rendered:
                self._text(out, rendered)

    # -- public --------------------------------------------------------------------------------

    def feed(self, resp: JSON) -> list[bytes]:
        out: list[bytes] = []
        if self._closed:
            return out
        resp = unwrap(resp)
        u = Usage.from_response(resp)
        if u is not None:
            self.usage = u
        mv = resp.get("modelVersion")
        if isinstance(mv, str) and mv:
            self.upstream_model = mv
        for part in iter_parts(resp):
            if part.get("thought") is True:
                self._thought(out, part)
            elif isinstance(part.get("functionCall"), dict):
                self._function_call(out, part)
            else:
                self._plain(out, part)
        fr = finish_reason(resp)
        if fr is not None:
            self.upstream_finish = fr
        return out

    @property
    def stop_reason(self) -> str:
        fr = self.upstream_finish
        if fr == "MAX_TOKENS":
            return "max_tokens"
        if fr in _REFUSAL:
            return "refusal"
        return "tool_use" if self._has_tool else "end_turn"

    @property
    def failure(self) -> str | None:
        """Why this answer must not be passed off as a success, or None.

        Set when the upstream finished badly (MALFORMED_FUNCTION_CALL, OTHER, ...), finished
        with nothing visible (no text, no tool call), ended without a finish reason and
        without output, or when `fail` was called."""
        if self._failed is not None:
            return self._failed
        fr = self.upstream_finish
        if fr == "MAX_TOKENS" or fr in _REFUSAL:
            return None
        if fr is not None and fr not in _NORMAL:
            return f"The model's answer failed upstream (finish reason {fr}). Please retry."
        if not self._has_visible:
            if fr is None:
                return "The upstream stream ended without an answer. Please retry."
            return "The model returned an empty answer. Please retry."
        return None

    def finish(self) -> list[bytes]:
        if self._closed:
            return []
        failure = self.failure
        if failure is not None:
            return self.fail(failure)
        out: list[bytes] = []
        self._close_block(out)
        self._start(out)
        self._closed = True
        self._emit(
            out,
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": self.stop_reason, "stop_sequence": None},
                "usage": self._usage_json(),
            },
        )
        self._emit(out, "message_stop", {"type": "message_stop"})
        return out

    def fail(self, message: str, *, error_type: str = "api_error") -> list[bytes]:
        if self._closed:
            return []
        self._closed = True
        self._failed = message
        self._open = None
        out: list[bytes] = []
        self._emit(out, "error", {"type": "error", "error": {"type": error_type, "message": message}})
        return out

    def ping(self) -> bytes:
        return encode_event("ping", {"type": "ping"})

    def result(self) -> JSON:
        content: list[JSON] = []
        for b in self.content:
            if b["type"] == "text" and not b["text"]:
                continue
            content.append(dict(b))
        return {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": content,
            "stop_reason": self.stop_reason,
            "stop_sequence": None,
            "usage": self._usage_json(),
        }
