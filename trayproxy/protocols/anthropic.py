"""Anthropic Messages API <-> Gemini, on the Gemini core (`trayproxy.protocols.core`).

Pure code: dicts in, dicts and SSE bytes out. Ids come from an injected `IdFactory`.

Request side (`to_gemini`, `count_tokens_request`): validates the Messages body and maps system,
content blocks, tools, tool_choice, thinking / effort and sampling to neutral turns and config;
the core merges and repairs the turns and assembles the request.

Response side: `MessagesStream` (in `anthropic_stream`, re-exported here).

Thought signatures: every signature the upstream issues reaches the client as a thinking block's
`signature`, tagged `tp1.<family>.<raw>` (`gemini.signature_family`). Clients send signatures back
verbatim, so the tag needs no server memory; a signature of another family, an untagged or an empty
one is not replayed (its thinking block is dropped, never a 400), and function calls then fall back
to the `signatures` memory, else to `BYPASS_SIGNATURE` on thinking upstreams. Claude signs its
thought parts; Gemini signs the first function call of a step (or a text part): a signature
arriving on a call is attached to the open thinking block, or carried by an empty thinking block
right before the tool_use, and the request side puts it back on the next call (for Gemini also on
the next text part). `MessagesStream.signatures` maps tool_use id -> tagged signature.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from trayproxy.json_types import JSON
from trayproxy.protocols import anthropic_tools
from trayproxy.protocols.anthropic_stream import MessagesStream
from trayproxy.protocols.claude_code import is_background_request, system_text
from trayproxy.protocols.core import config as cfg
from trayproxy.protocols.core import prefix_memo
from trayproxy.protocols.core.media import file_part, inline_part
from trayproxy.protocols.core.prefix_memo import IDLE, History
from trayproxy.protocols.core.turns import (
    Turn,
    contents,
    loop_turn_starts_with_thought,
    replayable,
    strip_thoughts,
)
from trayproxy.protocols.errors import RequestError
from trayproxy.protocols.gemini import (
    BYPASS_SIGNATURE,
    SIGNATURE_PREFIX,
    decode_signature,
    encode_signature,
    is_thinking_model,
    signature_family,
)
from trayproxy.protocols.schema import clean_schema

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


#: Thinking budget for an Anthropic `effort` (adaptive thinking, `output_config.effort`).
EFFORT_BUDGETS = {"low": 2048, "medium": 8192, "high": 24576, "max": 32768}
DEFAULT_CLAUDE_BUDGET = cfg.DEFAULT_CLAUDE_BUDGET
MIN_BUDGET = cfg.MIN_BUDGET
#: Room for the visible answer kept above a budget the proxy chose itself.
_ANSWER_ROOM = 4096
#: maxOutputTokens = budget + this when the client's max_tokens leaves no room for an answer.
_RAISED_ROOM = 8192

_EMPTY_TOOL_RESULT = "(the tool returned no output)"
_EMPTY_TOOL_ERROR = "(the tool failed without output)"

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


def _nonblank(text: str) -> bool:
    return bool(text) and not text.isspace()


# -- request conversion -------------------------------------------------------------------------


@dataclass
class _Ctx:
    family: str
    signatures: Mapping[str, str]
    thinking_upstream: bool = False  # function calls need a signature (else BYPASS_SIGNATURE)
    tool_names: dict[str, str] = field(default_factory=dict)
    history: History = IDLE  # what the conversion read, message by message (set as it begins)

    def trusted(self, value: Any) -> str | None:
        return replayable(value, self.family, remembered=False)

    def remembered(self, tool_id: str) -> str | None:
        try:
            value = self.history.lookup(self.signatures, tool_id)
        except Exception:  # a Mapping may raise on odd keys; memory is best effort
            return None
        return replayable(value, self.family, remembered=True)


def _system_parts(system: Any) -> list[JSON]:
    if system is None:
        return []
    if isinstance(system, str):
        system = system_text(system)
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
        text = system_text(text)
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
    if stype == "base64":
        data = source.get("data")
        mime = source.get("media_type")
        if not isinstance(data, str) or not data:
            raise RequestError("A base64 source needs its `data`.", field=f"{where}.data")
        if not isinstance(mime, str) or not mime:
            raise RequestError("A base64 source needs its `media_type`.", field=f"{where}.media_type")
        return inline_part(mime, data)
    if stype == "url":
        url = source.get("url")
        if not isinstance(url, str) or not url:
            raise RequestError("A url source needs its `url`.", field=f"{where}.url")
        return file_part(url, "image/jpeg" if kind == "image" else "application/pdf")
    if stype == "file":
        raise RequestError(
            "Files API references (source type `file`) are not supported; send the data as base64.",
            field=f"{where}.type",
        )
    raise RequestError(f"Unsupported {kind} source type {stype!r}.", field=f"{where}.type")


def _text_blocks(content: list[Any], where: str, parts: list[JSON]) -> None:
    """Text and image blocks of a document's `content` source."""
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


def _document_parts(block: JSON, where: str) -> list[JSON]:
    source: Any = block.get("source")
    title = block.get("title")
    parts: list[JSON] = []
    if isinstance(title, str) and _nonblank(title):
        parts.append({"text": f"Document: {title}"})
    stype = source.get("type") if isinstance(source, dict) else None
    if stype == "text":
        data = source.get("data")
        if not isinstance(data, str):
            raise RequestError("A text document source needs string `data`.", field=f"{where}.source.data")
        if _nonblank(data):
            parts.append({"text": data})
    elif stype == "content":
        content = source.get("content")
        if isinstance(content, str):
            if _nonblank(content):
                parts.append({"text": content})
        elif isinstance(content, list):
            _text_blocks(content, where, parts)
        else:
            raise RequestError("A content document source needs `content`.", field=f"{where}.source.content")
    else:
        parts.append(_media_part(source, f"{where}.source", kind="document"))
    return parts


def _search_result_text(block: JSON) -> str:
    lines = [block[k] for k in ("title", "source") if isinstance(block.get(k), str)]
    for sub in block.get("content") or []:
        if isinstance(sub, dict) and isinstance(sub.get("text"), str):
            lines.append(sub["text"])
    return "\n".join(lines)


def _tool_result_parts(block: JSON, where: str) -> tuple[str, list[JSON]]:
    """tool_result content -> (text for the functionResponse, extra media parts)."""
    content = block.get("content")
    texts: list[str] = []
    extra: list[JSON] = []
    if isinstance(content, str):
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
                if isinstance(sub.get("tool_name"), str):
                    texts.append(f"(tool reference: {sub['tool_name']})")
            else:
                raise RequestError(f"Unsupported block type {t!r} in a tool_result.", field=sw)
    elif content is not None:
        raise RequestError(
            "tool_result `content` must be a string or a list of blocks.", field=f"{where}.content"
        )
    text = "\n".join(t for t in texts if t)
    if not text.strip():
        text = _EMPTY_TOOL_ERROR if block.get("is_error") else _EMPTY_TOOL_RESULT
        if extra:
            text = "(see the attached content)"
    return text, extra


def _tool_use(block: JSON, bw: str, ctx: _Ctx, carried: str | None) -> JSON:
    tid, name, args = block.get("id"), block.get("name"), block.get("input")
    if not isinstance(tid, str) or not tid:
        raise RequestError("A tool_use block needs its `id`.", field=f"{bw}.id")
    if not isinstance(name, str) or not name:
        raise RequestError("A tool_use block needs its `name`.", field=f"{bw}.name")
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise RequestError("tool_use `input` must be an object.", field=f"{bw}.input")
    ctx.history.name(tid, name, ctx.tool_names)
    sig = ctx.trusted(block.get("signature")) or carried or ctx.remembered(tid)
    if sig is None and ctx.thinking_upstream:
        sig = BYPASS_SIGNATURE
    part: JSON = {"functionCall": {"name": name, "args": args, "id": tid}}
    if sig:
        part["thoughtSignature"] = sig
    return part


def _tool_result(block: JSON, bw: str, ctx: _Ctx) -> JSON:
    tid = block.get("tool_use_id")
    if not isinstance(tid, str) or not tid:
        raise RequestError("A tool_result block needs its `tool_use_id`.", field=f"{bw}.tool_use_id")
    text, extra = _tool_result_parts(block, bw)
    key = "error" if block.get("is_error") else "result"
    fr = {"name": ctx.tool_names.get(tid, ""), "response": {key: text}, "id": tid}
    return {"functionResponse": fr, "_media": extra}


def _convert_message(msg: Any, i: int, ctx: _Ctx) -> Turn:
    where = f"messages[{i}]"
    if not isinstance(msg, dict):
        raise RequestError("Each message must be an object.", field=where)
    role = msg.get("role")
    if role not in ("user", "assistant"):
        raise RequestError(
            f"Message role must be 'user' or 'assistant', not {role!r} (put system text in `system`).",
            field=f"{where}.role",
        )
    gemini_role = "user" if role == "user" else "model"
    content = msg.get("content")
    if isinstance(content, str):
        return Turn(gemini_role, [{"text": content}] if _nonblank(content) else [])
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
        if t in ("tool_use", "thinking") and role != "assistant":
            raise RequestError(f"{t} blocks belong in assistant messages.", field=bw)
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
            parts.append(_tool_use(block, bw, ctx, carried))
            carried = None
        elif t == "tool_result":
            if role != "user":
                raise RequestError("tool_result blocks belong in user messages.", field=bw)
            parts.append(_tool_result(block, bw, ctx))
        elif t == "thinking":
            sig = ctx.trusted(block.get("signature"))
            if sig is None:
                continue  # another family's, or unsigned: never replayed, never a 400
            carried = sig
            thinking = block.get("thinking")
            if ctx.family == "claude" and isinstance(thinking, str) and thinking:
                parts.append({"text": thinking, "thought": True, "thoughtSignature": sig})
        elif t != "redacted_thinking" and t not in _SERVER_BLOCKS:
            raise RequestError(f"Unsupported content block type {t!r}.", field=f"{bw}.type")
    return Turn(gemini_role, parts)


def _turns(messages: list[Any], ctx: _Ctx, raw: bytes | None) -> list[Turn]:
    """The paired turns of the messages (their "system" ones aside). Messages a remembered
    conversation began with the same way are not converted again (core.prefix_memo; `raw`: the
    request body, when known)."""
    kind = ("anthropic", ctx.family, ctx.thinking_upstream)
    h = ctx.history = prefix_memo.resume(kind, raw, messages, ctx.signatures)
    ctx.tool_names = h.known_names()
    recording = h.recording
    for i in range(h.start, len(messages)):
        m = messages[i]
        if not (isinstance(m, dict) and m.get("role") == "system"):
            h.pairing.add(_convert_message(m, i, ctx))
        if recording:
            h.mark()
    prefix_memo.remember(kind, raw, h, messages)
    return h.pairing.finish()


@dataclass
class _Thinking:
    mode: str  # "on" (thoughts shown) | "quiet" (budget, no thoughts) | "off" | "default" (send nothing)
    budget: int = 0
    max_tokens: int = 0


def _plan_thinking(body: JSON, upstream_model: str, max_tokens: int, cap: int) -> _Thinking:
    max_out = min(max_tokens, cap)
    claude = cfg.is_claude(upstream_model)
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

    if ttype == "disabled" or not (claude or is_thinking_model(upstream_model)):
        return _Thinking("off", 0, max_out)
    if ttype == "enabled" and thinking is not None:
        budget = thinking.get("budget_tokens", thinking.get("budgetTokens"))
        if not cfg.is_int(budget) or budget <= 0:
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


def _tools(body: JSON, model: str) -> tuple[list[JSON], bool]:
    """(functionDeclarations, wants web search)."""
    tools = body.get("tools")
    if tools is None:
        return [], False
    decls, web = cfg.remembered_tools("anthropic", model, tools, lambda: _declarations(tools, model))
    return list(decls), web


def _declarations(tools: Any, model: str) -> tuple[list[JSON], bool]:
    if not isinstance(tools, list):
        raise RequestError("`tools` must be a list.", field="tools")
    decls = cfg.Declarations(model)
    web = False
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise RequestError("Each tool must be an object.", field=f"tools[{i}]")
        ttype = tool.get("type")
        if anthropic_tools.is_search(ttype):
            web = True  # googleSearch (protocols/search.py runs a search of its own)
            continue
        if ttype not in (None, "custom"):
            # Anthropic's typed tools: bash / text editor as functions, the rest a 400 naming it
            defined = anthropic_tools.classify(tool, f"tools[{i}]")
            decls.add(defined.name, defined.description, defined.schema, f"tools[{i}]", schema_field="input_schema")
            continue
        schema = tool.get("input_schema")
        decls.add(tool.get("name"), tool.get("description"),
                  {"type": "object", "properties": {}} if schema is None else schema, f"tools[{i}]",
                  schema_field="input_schema")
    return decls.decls, web


_CHOICE_MODES = {"auto": "AUTO", "any": "ANY", "none": "NONE"}


def _tool_config(body: JSON, names: list[str]) -> JSON | None:
    choice = body.get("tool_choice")
    if choice is None or not names:
        return None
    if not isinstance(choice, dict):
        raise RequestError("`tool_choice` must be an object.", field="tool_choice")
    ctype = choice.get("type")
    if ctype in _CHOICE_MODES:
        return cfg.calling_config(_CHOICE_MODES[ctype])
    if ctype == "tool":
        name = choice.get("name")
        if not isinstance(name, str) or name not in names:
            raise RequestError(
                f"tool_choice names {name!r}, which is not among the tools.", field="tool_choice.name"
            )
        return cfg.calling_config("ANY", [name])
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


def _generation_config(body: JSON, plan: _Thinking, upstream_model: str) -> JSON:
    gc: JSON = {"maxOutputTokens": plan.max_tokens}
    for src, dst, check in (
        ("temperature", "temperature", cfg.is_num),
        ("top_p", "topP", cfg.is_num),
        ("top_k", "topK", cfg.is_int),
    ):
        v = body.get(src)
        if v is None:
            continue
        if not check(v):
            raise RequestError(f"`{src}` must be a number.", field=src)
        gc[dst] = v
    stops = cfg.stop_sequences(body.get("stop_sequences"), "stop_sequences")
    if stops:
        gc["stopSequences"] = stops
    fmt = _output_format(body)
    if fmt is not None and not cfg.is_claude(upstream_model):
        # Structured outputs (Claude Code's session-title call asks for {"title": ...}).
        gc["responseMimeType"] = "application/json"
        gc["responseSchema"] = clean_schema(fmt, require_object=False)
    if plan.mode in ("on", "quiet"):
        gc["thinkingConfig"] = {"includeThoughts": plan.mode == "on", "thinkingBudget": plan.budget}
    elif plan.mode == "off" and (quiet := cfg.quiet_thinking(upstream_model)) is not None:
        gc["thinkingConfig"] = quiet
    return gc


def _build(
    body: Any, upstream_model: str, signatures: Mapping[str, str], *, for_count: bool, cap: int | None,
    raw: bytes | None = None,
) -> JSON:
    if not isinstance(body, dict):
        raise RequestError("The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise RequestError("`model` is required and must be a non-empty string.", field="model")
    limit = cfg.output_cap(upstream_model, cap)
    max_tokens = limit
    if not for_count:
        given = body.get("max_tokens")
        if not cfg.is_int(given) or given < 1:
            raise RequestError("`max_tokens` is required and must be a positive integer.", field="max_tokens")
        max_tokens = given
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError("`messages` is required and must be a non-empty list.", field="messages")

    plan = _plan_thinking(body, upstream_model, max_tokens, limit)
    ctx = _Ctx(
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
    turns = _turns(messages, ctx, None if for_count else raw)
    if not turns:
        raise RequestError("The messages have no content to send (every block is empty).", field="messages")

    if ctx.family == "claude":
        if plan.mode == "on" and not loop_turn_starts_with_thought(turns):
            # The client did not keep (or we cannot replay) the thinking that started this tool
            # loop; Claude would reject the request with thinking on, so answer without it.
            plan = _Thinking("off", 0, min(max_tokens, limit))
        if plan.mode != "on":
            turns = strip_thoughts(turns)

    decls, web = _tools(body, upstream_model)
    if for_count:
        return cfg.build_request(contents(turns), system=system, decls=decls, web_search=web, safety=False)
    return cfg.build_request(
        contents(turns),
        system=system,
        decls=decls,
        web_search=web,
        tool_config=_tool_config(body, [d["name"] for d in decls]),
        generation=_generation_config(body, plan, upstream_model),
    )


def to_gemini(
    body: JSON, *, upstream_model: str, signatures: Mapping[str, str], cap: int | None = None,
    raw: bytes | None = None,
) -> JSON:
    """Anthropic Messages request -> Gemini `GenerateContentRequest` (the inner request).

    `cap`: the upstream model's output limit from the catalog, when known. `raw`: the body's
    bytes when it was parsed from them, so a conversation's known beginning is not converted
    again (core.prefix_memo).
    Raises RequestError(field=...) for input the Messages API would reject."""
    return _build(body, upstream_model, signatures, for_count=False, cap=cap, raw=raw)


def count_tokens_request(body: JSON, *, upstream_model: str) -> JSON:
    """`/v1/messages/count_tokens` body -> upstream countTokens body `{"request": {...}}`.

    Same contents, systemInstruction and tools as `to_gemini` would send (max_tokens is not
    required here)."""
    return {"request": _build(body, upstream_model, {}, for_count=True, cap=None)}
