"""OpenAI Chat Completions (`/v1/chat/completions`) <-> Gemini.

Pure code: dicts in, dicts and SSE bytes out. Ids come from an injected `IdFactory`; the
completion id and creation time are passed in.

Request side (`to_gemini`): validates the chat body and builds the inner Gemini
`GenerateContentRequest`:

- system / developer messages -> `systemInstruction` (texts joined in order);
- user -> user, assistant -> model, tool (and legacy `function`) -> user `functionResponse`
  whose name comes from the assistant `tool_calls` with that id. Consecutive same-role turns
  are merged, and every model turn that calls tools is followed by exactly one response per
  call in call order (a missing result becomes an error response, a result for an unknown call
  becomes a text note), because Gemini rejects histories where calls and responses disagree.
- content parts: `text`, `image_url` (data: URL -> inlineData, http(s) -> fileData with the
  mime type guessed from the extension, default image/jpeg), `input_audio`, `file` (file_data).
- assistant `tool_calls` -> `functionCall{name, args, id}`; the thought signature is the one
  remembered for that call id (`signatures`), else `BYPASS_SIGNATURE` on thinking upstreams,
  never anything else. Tagged values (`tp1.<family>.<raw>`, the form the Anthropic converter
  stores) are replayed only to the family that issued them.
- `reasoning_content` of an assistant message becomes a thought part only when a signature
  for exactly that text is remembered (key `reasoning_key(text)`); unsigned thoughts are
  dropped, the upstream rejects or ignores them.
- tools / tool_choice (incl. `allowed_tools`) / legacy `functions` -> functionDeclarations
  (schemas through `clean_schema`) and `toolConfig.functionCallingConfig`.
- generation parameters, `response_format` (json_schema -> `responseSchema` built with
  `clean_schema(require_object=False)`: the OpenAPI-subset field every Gemini backend accepts;
  `responseJsonSchema` is newer and not known to pass through v1internal), `reasoning_effort`
  -> `thinkingConfig` with `THINKING_BUDGETS` (thinking upstreams show their thoughts by
  default, so `reasoning_content` flows). `max_completion_tokens` includes reasoning and is
  sent as maxOutputTokens; the legacy `max_tokens` counts visible tokens, so the thinking
  budget is added on top of it. Claude upstreams get the JSON instruction as a system note
  instead of `responseSchema`.

Response side (`ChatStream`): a state machine fed one unwrapped Gemini response at a time. It
yields `chat.completion.chunk` frames exactly as OpenAI frames them (role on each choice's
first delta; one complete `tool_calls` delta per call with its own `index`; finish chunks, then
the `choices: []` usage chunk when `include_usage`, every other chunk carrying `usage: null`
in that mode; then `[DONE]`), and collects the same content into a `chat.completion`.
`ChatStream.signatures` maps call id (and `reasoning_key(text)`) -> thought signature, tagged
with the model family when `upstream_model` is given. An answer that ends badly
(MALFORMED_FUNCTION_CALL, OTHER, ..., or nothing visible) is never passed off as a clean
stop: `finish()` emits the error frame instead, and `failure` says why (non-streaming
callers should check it before answering 200).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
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
    is_thinking_model,
    signature_family,
    unwrap,
)
from trayproxy.protocols.schema import clean_schema
from trayproxy.protocols.sse import DONE, encode_data

__all__ = [
    "to_gemini",
    "ChatStream",
    "THINKING_BUDGETS",
    "reasoning_key",
    "finish_reason_for",
]

JSON = dict[str, Any]

#: thinkingBudget per `reasoning_effort`.
THINKING_BUDGETS = {"low": 1024, "medium": 8192, "high": 24576, "xhigh": 32768}
#: Budget a Claude thinking upstream gets when the client named no effort.
DEFAULT_CLAUDE_BUDGET = 16000
_MIN_CLAUDE_BUDGET = 1024
_MIN_PRO_BUDGET = 128  # the least Gemini pro models accept
_CLAUDE_CAP = 64000
_GEMINI_CAP = 65536
_MAX_STOPS = 5
_REFUSAL = frozenset({"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"})
_NORMAL = frozenset({"STOP", "MAX_TOKENS"}) | _REFUSAL
_MISSING_TOOL_RESULT = "No result was provided for this tool call (it was interrupted or skipped)."

_MIME_BY_EXT = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "heic": "image/heic",
    "heif": "image/heif",
    "bmp": "image/bmp",
    "pdf": "application/pdf",
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "ogg": "audio/ogg",
    "flac": "audio/flac",
    "m4a": "audio/mp4",
    "mp4": "video/mp4",
    "txt": "text/plain",
}
_AUDIO_MIME = {"wav": "audio/wav", "mp3": "audio/mpeg", "flac": "audio/flac", "ogg": "audio/ogg"}


# -- shared helpers ------------------------------------------------------------------------------


def reasoning_key(text: str) -> str:
    """The `signatures` key under which the signature of a reasoning text is remembered."""
    return "reasoning:" + hashlib.sha256(text.encode()).hexdigest()[:32]


def _replayable(value: Any, upstream_model: str) -> str | None:
    """A remembered signature usable with `upstream_model`, or None."""
    if not isinstance(value, str) or not value:
        return None
    fam, raw = decode_signature(value)
    if fam is None:
        return value
    return raw if fam == signature_family(upstream_model) else None


def _is_int(v: Any) -> TypeGuard[int]:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _guess_mime(url: str, default: str) -> str:
    path = url.split("#", 1)[0].split("?", 1)[0]
    last = path.rsplit("/", 1)[-1]
    if "." in last:
        return _MIME_BY_EXT.get(last.rsplit(".", 1)[-1].lower(), default)
    return default


def _data_url(url: str, where: str) -> JSON:
    head, sep, data = url.partition(",")
    if not sep or not head.startswith("data:") or not head.endswith(";base64"):
        raise RequestError("A data: URL must look like data:<mime type>;base64,<data>.", field=where)
    mime = head[5:-7].split(";", 1)[0] or "application/octet-stream"
    data = data.strip()
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise RequestError("The data: URL does not contain valid base64 data.", field=where) from None
    return {"inlineData": {"mimeType": mime, "data": data}}


# -- request: content ------------------------------------------------------------------------------


def _image_part(part: JSON, where: str) -> JSON:
    img = part.get("image_url")
    url = img.get("url") if isinstance(img, dict) else img
    where = f"{where}.image_url"
    if not isinstance(url, str) or not url.strip():
        raise RequestError("image_url needs a url.", field=where)
    url = url.strip()
    if url.startswith("data:"):
        return _data_url(url, where)
    if url.startswith(("http://", "https://", "gs://")):
        return {"fileData": {"fileUri": url, "mimeType": _guess_mime(url, "image/jpeg")}}
    raise RequestError("image_url must be a data: URL or an http(s) URL.", field=where)


def _audio_part(part: JSON, where: str) -> JSON:
    audio = part.get("input_audio")
    where = f"{where}.input_audio"
    if not isinstance(audio, dict) or not isinstance(audio.get("data"), str) or not audio["data"]:
        raise RequestError("input_audio needs base64 `data` and a `format`.", field=where)
    fmt = audio.get("format")
    mime = _AUDIO_MIME.get(fmt if isinstance(fmt, str) else "", "audio/wav")
    data: str = audio["data"]
    if data.startswith("data:"):
        return _data_url(data, f"{where}.data")
    return {"inlineData": {"mimeType": mime, "data": data}}


def _file_part(part: JSON, where: str) -> JSON:
    f = part.get("file")
    where = f"{where}.file"
    if not isinstance(f, dict):
        raise RequestError("A file part needs a `file` object.", field=where)
    data = f.get("file_data")
    if not isinstance(data, str) or not data:
        raise RequestError("Only files sent inline as file_data are supported (not file_id).", field=where)
    if data.startswith("data:"):
        return _data_url(data, f"{where}.file_data")
    fname = f.get("filename")
    name = fname if isinstance(fname, str) else ""
    return {"inlineData": {"mimeType": _guess_mime(name, "application/pdf"), "data": data}}


def _content_parts(content: Any, where: str, *, media: bool = True) -> list[JSON]:
    """OpenAI message content -> Gemini parts (empty text dropped)."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"text": content}] if content else []
    if not isinstance(content, list):
        raise RequestError("content must be a string or a list of content parts.", field=where)
    out: list[JSON] = []
    for j, part in enumerate(content):
        pw = f"{where}[{j}]"
        if isinstance(part, str):
            if part:
                out.append({"text": part})
            continue
        if not isinstance(part, dict):
            raise RequestError("Each content part must be an object.", field=pw)
        ptype = part.get("type")
        if ptype in ("text", "input_text", "output_text"):
            text = part.get("text")
            if not isinstance(text, str):
                raise RequestError("A text part needs a `text` string.", field=f"{pw}.text")
            if text:
                out.append({"text": text})
        elif ptype == "refusal":
            text = part.get("refusal")
            if isinstance(text, str) and text:
                out.append({"text": text})
        elif ptype == "image_url" and media:
            out.append(_image_part(part, pw))
        elif ptype == "input_audio" and media:
            out.append(_audio_part(part, pw))
        elif ptype == "file" and media:
            out.append(_file_part(part, pw))
        else:
            raise RequestError(f"Unsupported content part type {ptype!r} here.", field=f"{pw}.type")
    return out


def _text_of(content: Any, where: str) -> str:
    return "\n".join(p["text"] for p in _content_parts(content, where, media=False))


# -- request: messages ------------------------------------------------------------------------------


@dataclass
class _Turn:
    role: str
    parts: list[JSON] = field(default_factory=list)


@dataclass
class _Req:
    upstream_model: str
    signatures: Mapping[str, str]
    thinking_upstream: bool
    call_names: dict[str, str] = field(default_factory=dict)


def _call_signature(call_id: str, ctx: _Req) -> str | None:
    sig = _replayable(ctx.signatures.get(call_id), ctx.upstream_model) if call_id else None
    if sig:
        return sig
    return BYPASS_SIGNATURE if ctx.thinking_upstream else None


def _assistant(msg: JSON, where: str, ctx: _Req) -> list[JSON]:
    parts: list[JSON] = []
    reasoning = msg.get("reasoning_content")
    if isinstance(reasoning, str) and reasoning.strip():
        sig = _replayable(ctx.signatures.get(reasoning_key(reasoning)), ctx.upstream_model)
        if sig:
            parts.append({"text": reasoning, "thought": True, "thoughtSignature": sig})
    parts += _content_parts(msg.get("content"), f"{where}.content")
    calls = msg.get("tool_calls")
    if calls is not None and not isinstance(calls, list):
        raise RequestError("tool_calls must be a list.", field=f"{where}.tool_calls")
    legacy = msg.get("function_call")
    items: list[tuple[str, Any, str]] = []
    for k, call in enumerate(calls or []):
        cw = f"{where}.tool_calls[{k}]"
        if not isinstance(call, dict):
            raise RequestError("Each tool call must be an object.", field=cw)
        fn = call.get("function")
        if not isinstance(fn, dict):
            raise RequestError("A tool call needs a `function` object.", field=f"{cw}.function")
        cid = call.get("id")
        if not isinstance(cid, str) or not cid:
            raise RequestError("A tool call needs an `id`.", field=f"{cw}.id")
        items.append((cid, fn, cw))
    if isinstance(legacy, dict):
        items.append(("", legacy, f"{where}.function_call"))
    for cid, fn, cw in items:
        name = fn.get("name")
        if not isinstance(name, str) or not name:
            raise RequestError("A tool call needs a function name.", field=f"{cw}.function.name")
        args = _parse_args(fn.get("arguments"), f"{cw}.function.arguments")
        call_part: JSON = {"name": name, "args": args}
        if cid:
            call_part["id"] = cid
            ctx.call_names[cid] = name
        else:
            ctx.call_names[f"legacy:{name}"] = name
        part: JSON = {"functionCall": call_part}
        sig = _call_signature(cid, ctx)
        if sig:
            part["thoughtSignature"] = sig
        parts.append(part)
    return parts


def _parse_args(raw: Any, where: str) -> JSON:
    if raw is None or raw == "":
        return {}
    if isinstance(raw, dict):
        return raw
    if not isinstance(raw, str):
        raise RequestError("arguments must be a JSON string.", field=where)
    try:
        val = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise RequestError("arguments is not valid JSON.", field=where) from None
    if not isinstance(val, dict):
        raise RequestError("arguments must encode a JSON object.", field=where)
    return val


def _tool_result(msg: JSON, where: str, ctx: _Req, legacy: bool) -> list[JSON]:
    content = msg.get("content")
    media: list[JSON] = []
    if isinstance(content, list):
        parts = _content_parts(content, f"{where}.content")
        text = "\n".join(p["text"] for p in parts if "text" in p)
        media = [p for p in parts if "text" not in p]
    elif isinstance(content, str) or content is None:
        text = content or ""
    else:
        raise RequestError("content must be a string or a list of content parts.", field=f"{where}.content")
    if legacy:
        name = msg.get("name")
        if not isinstance(name, str) or not name:
            raise RequestError("A function message needs a `name`.", field=f"{where}.name")
        fr: JSON = {"name": name, "response": {"result": text}, "id": None}
    else:
        cid = msg.get("tool_call_id")
        if not isinstance(cid, str) or not cid:
            raise RequestError("A tool message needs a `tool_call_id`.", field=f"{where}.tool_call_id")
        fr = {"name": ctx.call_names.get(cid, ""), "response": {"result": text}, "id": cid}
    return [{"functionResponse": fr, "_media": media}]


def _convert(messages: list[Any], ctx: _Req) -> tuple[list[str], list[_Turn]]:
    system: list[str] = []
    turns: list[_Turn] = []
    for i, msg in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(msg, dict):
            raise RequestError("Each message must be an object.", field=where)
        role = msg.get("role")
        if role in ("system", "developer"):
            text = _text_of(msg.get("content"), f"{where}.content")
            if text:
                system.append(text)
        elif role == "user":
            turns.append(_Turn("user", _content_parts(msg.get("content"), f"{where}.content")))
        elif role == "assistant":
            turns.append(_Turn("model", _assistant(msg, where, ctx)))
        elif role in ("tool", "function"):
            turns.append(_Turn("user", _tool_result(msg, where, ctx, role == "function")))
        else:
            raise RequestError(
                f"Unknown role {role!r}; use system, developer, user, assistant or tool.",
                field=f"{where}.role",
            )
    return system, turns


def _merge(turns: list[_Turn]) -> list[_Turn]:
    out: list[_Turn] = []
    for t in turns:
        if not t.parts:
            continue
        if out and out[-1].role == t.role:
            out[-1].parts.extend(t.parts)
        else:
            out.append(_Turn(t.role, list(t.parts)))
    return out


def _fix_tool_turns(turns: list[_Turn]) -> list[_Turn]:
    """Every model turn with calls is answered by one response per call, in call order."""
    out: list[_Turn] = []
    for turn in turns:
        if turn.role == "model":
            out.append(turn)
            continue
        prev = out[-1] if out and out[-1].role == "model" else None
        calls = [p["functionCall"] for p in prev.parts if "functionCall" in p] if prev else []
        answered: dict[str, JSON] = {}
        media: list[JSON] = []
        others: list[JSON] = []
        for p in turn.parts:
            if "functionResponse" not in p:
                others.append(p)
                continue
            fr = p["functionResponse"]
            key = fr["id"] if fr["id"] is not None else f"legacy:{fr['name']}"
            match = None
            for c in calls:
                ckey = c.get("id") or f"legacy:{c['name']}"
                if ckey == key and ckey not in answered:
                    match = c
                    break
            if match is not None:
                answered[key] = {"functionResponse": {**fr, "name": match["name"]}}
                media.extend(p["_media"])
            else:
                label = fr["name"] or fr["id"] or "unknown"
                others.append({"text": f"[Result of tool call {label}]\n{fr['response']['result']}"})
                others.extend(p["_media"])
        responses: list[JSON] = []
        for c in calls:
            ckey = c.get("id") or f"legacy:{c['name']}"
            if ckey in answered:
                responses.append(answered[ckey])
            else:
                fr2: JSON = {"name": c["name"], "response": {"error": _MISSING_TOOL_RESULT}}
                if c.get("id"):
                    fr2["id"] = c["id"]
                responses.append({"functionResponse": fr2})
        for r in responses:
            if r["functionResponse"].get("id") is None:
                r["functionResponse"].pop("id", None)
        out.append(_Turn("user", responses + media + others))
    return out


def _loop_turn_starts_with_thought(turns: list[_Turn]) -> bool:
    """True unless the conversation ends in a tool loop whose model turn lacks a leading signed
    thought."""
    if len(turns) < 2 or turns[-1].role != "user" or turns[-2].role != "model":
        return True
    last = turns[-2]
    if not any("functionCall" in p for p in last.parts):
        return True
    first = last.parts[0]
    return bool(first.get("thought") and first.get("thoughtSignature"))


# -- request: tools, config ------------------------------------------------------------------------------


def _tools(body: JSON) -> list[JSON]:
    decls: list[JSON] = []
    seen: set[str] = set()
    specs: list[tuple[Any, str]] = []
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise RequestError("tools must be a list.", field="tools")
        for i, tool in enumerate(tools):
            where = f"tools[{i}]"
            if not isinstance(tool, dict):
                raise RequestError("Each tool must be an object.", field=where)
            if tool.get("type", "function") != "function":
                raise RequestError(
                    f"Tool type {tool.get('type')!r} is not supported; use function tools.",
                    field=f"{where}.type",
                )
            specs.append((tool.get("function"), f"{where}.function"))
    functions = body.get("functions")
    if isinstance(functions, list):
        specs += [(f, f"functions[{i}]") for i, f in enumerate(functions)]
    for fn, where in specs:
        if not isinstance(fn, dict):
            raise RequestError("A function tool needs a `function` object.", field=where)
        name = fn.get("name")
        if not isinstance(name, str) or not name:
            raise RequestError("A function needs a `name`.", field=f"{where}.name")
        if name in seen:
            raise RequestError(f"Function {name!r} is declared twice.", field=f"{where}.name")
        seen.add(name)
        decl: JSON = {"name": name}
        desc = fn.get("description")
        if isinstance(desc, str) and desc:
            decl["description"] = desc
        params = fn.get("parameters")
        if params is not None:
            if not isinstance(params, dict):
                raise RequestError("parameters must be a JSON Schema object.", field=f"{where}.parameters")
            decl["parameters"] = clean_schema(params)
        decls.append(decl)
    return decls


def _named(choice: Any, where: str, names: set[str]) -> str:
    fn = choice.get("function") if isinstance(choice, dict) else None
    name = fn.get("name") if isinstance(fn, dict) else None
    if not isinstance(name, str) or name not in names:
        raise RequestError(f"tool_choice names {name!r}, which is not among the tools.", field=where)
    return name


def _tool_config(body: JSON, decls: list[JSON]) -> tuple[JSON | None, list[JSON]]:
    choice = body.get("tool_choice", body.get("function_call"))
    if choice is None or not decls:
        return None, decls
    names = {d["name"] for d in decls}
    if choice == "auto":
        return {"functionCallingConfig": {"mode": "AUTO"}}, decls
    if choice == "none":
        return {"functionCallingConfig": {"mode": "NONE"}}, decls
    if choice == "required":
        return {"functionCallingConfig": {"mode": "ANY"}}, decls
    if isinstance(choice, dict):
        ctype = choice.get("type")
        if ctype == "function":
            name = _named(choice, "tool_choice.function.name", names)
            return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}, decls
        if ctype is None and isinstance(choice.get("name"), str):  # legacy function_call {"name"}
            name = _named({"function": choice}, "function_call.name", names)
            return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}, decls
        if ctype == "allowed_tools":
            spec = choice.get("allowed_tools")
            if not isinstance(spec, dict) or not isinstance(spec.get("tools"), list):
                raise RequestError("allowed_tools needs a tools list.", field="tool_choice.allowed_tools")
            allowed = [
                _named(t, f"tool_choice.allowed_tools.tools[{i}]", names) for i, t in enumerate(spec["tools"])
            ]
            kept = [d for d in decls if d["name"] in allowed]
            if spec.get("mode") == "required":
                return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": allowed}}, kept
            # mode auto: Gemini only restricts names in ANY mode, so offer only those tools
            return {"functionCallingConfig": {"mode": "AUTO"}}, kept
    raise RequestError(
        "tool_choice must be auto, none, required or {type: function, function: {name}}.",
        field="tool_choice",
    )


def _number(body: JSON, key: str, lo: float, hi: float) -> float | None:
    v = body.get(key)
    if v is None:
        return None
    if not _is_num(v) or not lo <= v <= hi:
        raise RequestError(f"{key} must be a number between {lo:g} and {hi:g}.", field=key)
    return float(v) if isinstance(v, float) else v


def _positive(body: JSON, key: str) -> int | None:
    v = body.get(key)
    if v is None:
        return None
    if not _is_int(v) or v < 1:
        raise RequestError(f"{key} must be a positive integer.", field=key)
    return int(v)


def _thinking(
    body: JSON, upstream_model: str, max_out: int | None, *, visible_only: bool
) -> tuple[JSON | None, int | None]:
    """(thinkingConfig, adjusted maxOutputTokens).

    `max_completion_tokens` counts reasoning, like the upstream's maxOutputTokens, and is passed
    as is. The older `max_tokens` meant visible tokens only: with a thinking upstream the
    thinking budget is added on top of it (and bounded), so thoughts cannot eat the answer."""
    effort = body.get("reasoning_effort")
    if effort is not None and effort not in ("none", "minimal", *THINKING_BUDGETS):
        raise RequestError(
            "reasoning_effort must be none, minimal, low, medium, high or xhigh.", field="reasoning_effort"
        )
    m = upstream_model.lower()
    if not is_thinking_model(upstream_model):
        return None, max_out
    if m.startswith("claude"):
        if effort in ("none", "minimal"):
            return None, max_out
        budget = THINKING_BUDGETS[effort] if isinstance(effort, str) else DEFAULT_CLAUDE_BUDGET
        if max_out is None:
            max_out = _CLAUDE_CAP
        elif visible_only:
            max_out = min(max_out + budget, _CLAUDE_CAP)
        budget = min(budget, max_out - _MIN_CLAUDE_BUDGET)
        if budget < _MIN_CLAUDE_BUDGET:
            return None, max_out  # no room to think under the client's max_tokens
        return {"includeThoughts": True, "thinkingBudget": budget}, max_out
    if effort in ("none", "minimal"):
        if "flash" in m:
            return {"includeThoughts": False, "thinkingBudget": 0}, max_out
        # pro models cannot stop thinking: think as little as they allow, show nothing
        budget = _MIN_PRO_BUDGET
        cfg: JSON = {"includeThoughts": False, "thinkingBudget": budget}
    else:
        budget = THINKING_BUDGETS[effort] if isinstance(effort, str) else THINKING_BUDGETS["medium"]
        cfg = {"includeThoughts": True}
        if isinstance(effort, str) or (visible_only and max_out is not None):
            cfg["thinkingBudget"] = budget
    if visible_only and max_out is not None:
        max_out = min(max_out + budget, _GEMINI_CAP)
    return cfg, max_out


def _generation_config(body: JSON, upstream_model: str) -> tuple[JSON, str | None]:
    """(generationConfig, system note for JSON output on upstreams without responseSchema)."""
    gc: JSON = {}
    t = _number(body, "temperature", 0, 2)
    if t is not None:
        gc["temperature"] = t
    p = _number(body, "top_p", 0, 1)
    if p is not None:
        gc["topP"] = p
    seed = body.get("seed")
    if seed is not None:
        if not _is_int(seed):
            raise RequestError("seed must be an integer.", field="seed")
        gc["seed"] = seed
    n = _positive(body, "n")
    if n is not None and n > 1:
        if n > 8:
            raise RequestError("n must be at most 8.", field="n")
        gc["candidateCount"] = n
    stop = body.get("stop")
    if stop is not None:
        if isinstance(stop, str):
            stop = [stop]
        if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
            raise RequestError("stop must be a string or a list of strings.", field="stop")
        stops = [s for s in stop if s][:_MAX_STOPS]
        if stops:
            gc["stopSequences"] = stops
    max_out = _positive(body, "max_completion_tokens")
    visible_only = max_out is None and body.get("max_tokens") is not None
    if max_out is None:
        max_out = _positive(body, "max_tokens")
    for key, dst in (("presence_penalty", "presencePenalty"), ("frequency_penalty", "frequencyPenalty")):
        v = _number(body, key, -2, 2)
        if v is not None:
            gc[dst] = v
    note = None
    claude = upstream_model.lower().startswith("claude")
    rf = body.get("response_format")
    if rf is not None:
        if not isinstance(rf, dict):
            raise RequestError("response_format must be an object.", field="response_format")
        rtype = rf.get("type")
        if rtype == "json_object":
            if claude:
                note = "Respond with a single valid JSON object and nothing else."
            else:
                gc["responseMimeType"] = "application/json"
        elif rtype == "json_schema":
            js = rf.get("json_schema")
            schema = js.get("schema") if isinstance(js, dict) else None
            if not isinstance(schema, dict):
                raise RequestError(
                    "response_format json_schema needs json_schema.schema.",
                    field="response_format.json_schema",
                )
            if claude:
                note = (
                    "Respond with a single JSON value that validates against this JSON Schema, "
                    "and nothing else:\n" + orjson.dumps(schema).decode()
                )
            else:
                gc["responseMimeType"] = "application/json"
                gc["responseSchema"] = clean_schema(schema, require_object=False)
        elif rtype not in ("text", None):
            raise RequestError(f"Unsupported response_format type {rtype!r}.", field="response_format.type")
    tc, max_out = _thinking(body, upstream_model, max_out, visible_only=visible_only)
    if max_out is not None:
        gc["maxOutputTokens"] = min(max_out, _CLAUDE_CAP if claude else _GEMINI_CAP)
    if tc is not None:
        gc["thinkingConfig"] = tc
    return gc, note


def to_gemini(body: JSON, *, upstream_model: str, signatures: Mapping[str, str]) -> JSON:
    """An OpenAI chat request body -> the inner Gemini GenerateContentRequest."""
    if not isinstance(body, dict):
        raise RequestError("The request body must be a JSON object.")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError("messages is required and must be a non-empty list.", field="messages")
    ctx = _Req(
        upstream_model=upstream_model,
        signatures=signatures,
        thinking_upstream=is_thinking_model(upstream_model),
    )
    system, turns = _convert(messages, ctx)
    contents = _fix_tool_turns(_merge(turns))
    if not contents:
        raise RequestError("The messages have no content to send.", field="messages")
    decls = _tools(body)
    tool_config, decls = _tool_config(body, decls)
    gc, note = _generation_config(body, upstream_model)
    if upstream_model.lower().startswith("claude"):
        if "thinkingConfig" in gc and not _loop_turn_starts_with_thought(contents):
            # Claude with thinking on demands that a tool loop's assistant turn start with its
            # signed thinking, which OpenAI clients do not keep: answer this turn without it.
            del gc["thinkingConfig"]
            asked = _positive(body, "max_completion_tokens") or _positive(body, "max_tokens")
            if asked is not None:  # the room added for thinking is no longer needed
                gc["maxOutputTokens"] = min(asked, _CLAUDE_CAP)
        if "thinkingConfig" not in gc:
            # and with thinking off it rejects thinking blocks in the history
            for t in contents:
                t.parts = [p for p in t.parts if not p.get("thought")]
            contents = [t for t in contents if t.parts]
    if note:
        system.append(note)

    req: JSON = {"contents": [{"role": t.role, "parts": t.parts} for t in contents]}
    if system:
        req["systemInstruction"] = {"role": "user", "parts": [{"text": "\n\n".join(system)}]}
    if decls:
        req["tools"] = [{"functionDeclarations": decls}]
        if tool_config is not None:
            req["toolConfig"] = tool_config
    if gc:
        req["generationConfig"] = gc
    req["safetySettings"] = [dict(s) for s in SAFETY_OFF]
    return req


# -- response ----------------------------------------------------------------------------------


def finish_reason_for(raw: str | None, *, tool_calls: bool) -> str:
    """OpenAI finish_reason for a Gemini finishReason."""
    if tool_calls:
        return "tool_calls"
    if raw == "MAX_TOKENS":
        return "length"
    if raw in _REFUSAL:
        return "content_filter"
    return "stop"


@dataclass
class _Choice:
    index: int
    text: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    calls: list[JSON] = field(default_factory=list)
    started: bool = False
    finish: str | None = None
    thought_sig: str | None = None  # signature of a thought part, not yet given to a call
    reasoning_sig: str | None = None  # last signature seen on a thought part
    unsigned_call: str | None = None  # id of the last call still without a signature


class ChatStream:
    """Gemini responses in, chat.completion chunks (or one chat.completion) out."""

    object_name = "chat.completion.chunk"

    def __init__(
        self,
        *,
        model: str,
        completion_id: str,
        created: int,
        stream: bool,
        include_usage: bool,
        new_id: IdFactory,
        upstream_model: str | None = None,
    ) -> None:
        self.model = model
        # With the upstream model known, remembered signatures are tagged with its family so
        # a conversation that switches models never replays them to another family.
        self._tag = f"{SIGNATURE_PREFIX}{signature_family(upstream_model)}." if upstream_model else ""
        self.completion_id = completion_id
        self.created = created
        self.stream = stream
        self.include_usage = include_usage and stream
        self.new_id = new_id
        self.usage: Usage | None = None
        self.signatures: dict[str, str] = {}
        self.produced_output = False
        self.upstream_finish: str | None = None
        self._choices: dict[int, _Choice] = {}
        self._closed = False
        self._failed: str | None = None

    # -- feeding

    def _choice(self, index: int) -> _Choice:
        ch = self._choices.get(index)
        if ch is None:
            ch = self._choices[index] = _Choice(index)
        return ch

    def feed(self, resp: dict[str, Any]) -> list[bytes]:
        out: list[bytes] = []
        if self._closed:
            return out
        resp = unwrap(resp)
        u = Usage.from_response(resp)
        if u is not None:
            self.usage = u
        cands = resp.get("candidates")
        if not isinstance(cands, list) or not cands:
            fb = resp.get("promptFeedback")
            block = fb.get("blockReason") if isinstance(fb, dict) else None
            if isinstance(block, str) and block:
                self._choice(0).finish = "SAFETY" if block == "BLOCK_REASON_UNSPECIFIED" else block
                self.upstream_finish = self._choice(0).finish
            return out
        for pos, cand in enumerate(cands):
            if not isinstance(cand, dict):
                continue
            idx = cand.get("index")
            ch = self._choice(idx if _is_int(idx) and idx >= 0 else pos)
            content = cand.get("content")
            parts = content.get("parts") if isinstance(content, dict) else None
            for part in parts if isinstance(parts, list) else []:
                if isinstance(part, dict):
                    self._part(ch, part, out)
            fr = cand.get("finishReason")
            if isinstance(fr, str) and fr:
                ch.finish = fr
                self.upstream_finish = fr
        return out

    def _part(self, ch: _Choice, part: JSON, out: list[bytes]) -> None:
        sig = part.get("thoughtSignature") or part.get("thought_signature")
        sig = sig if isinstance(sig, str) and sig else None
        text = part.get("text")
        if part.get("thought") is True:
            if sig:
                ch.thought_sig = ch.reasoning_sig = sig
            if isinstance(text, str) and text:
                ch.reasoning.append(text)
                self.produced_output = True
                self._on_reasoning(ch, text, out)
            return
        fc = part.get("functionCall")
        if isinstance(fc, dict):
            self._call(ch, fc, sig, out)
            return
        if sig and ch.unsigned_call and not text:
            # a signature-only part right after a call that came without one
            self.signatures[ch.unsigned_call] = self._tag + sig
            ch.unsigned_call = None
        piece = _visible_text(part)
        if piece:
            ch.text.append(piece)
            self.produced_output = True
            self._on_text(ch, piece, out)

    def _call(self, ch: _Choice, fc: JSON, sig: str | None, out: list[bytes]) -> None:
        name = fc.get("name") if isinstance(fc.get("name"), str) else ""
        args = fc.get("args")
        if not isinstance(args, dict):
            args = {}
        raw_id = fc.get("id")
        cid: str = raw_id if isinstance(raw_id, str) and raw_id else self.new_id("call_")
        call = {
            "id": cid,
            "type": "function",
            "function": {"name": name, "arguments": orjson.dumps(args).decode()},
        }
        signature = sig or ch.thought_sig
        ch.thought_sig = None
        if signature:
            self.signatures[cid] = self._tag + signature
            ch.unsigned_call = None
        else:
            ch.unsigned_call = cid
        ch.calls.append(call)
        self.produced_output = True
        self._on_call(ch, len(ch.calls) - 1, call, out)

    # -- rendering hooks (overridden by the legacy completions stream)

    def _chunk(self, choices: list[JSON]) -> bytes:
        obj: JSON = {
            "id": self.completion_id,
            "object": self.object_name,
            "created": self.created,
            "model": self.model,
            "choices": choices,
        }
        if self.include_usage:
            obj["usage"] = None
        return encode_data(obj)

    def _delta(self, ch: _Choice, delta: JSON, out: list[bytes], finish: str | None = None) -> None:
        if not self.stream:
            return
        if not ch.started:
            ch.started = True
            delta = {"role": "assistant", **delta}
        out.append(
            self._chunk([{"index": ch.index, "delta": delta, "logprobs": None, "finish_reason": finish}])
        )

    def _on_text(self, ch: _Choice, text: str, out: list[bytes]) -> None:
        self._delta(ch, {"content": text}, out)

    def _on_reasoning(self, ch: _Choice, text: str, out: list[bytes]) -> None:
        self._delta(ch, {"reasoning_content": text}, out)

    def _on_call(self, ch: _Choice, k: int, call: JSON, out: list[bytes]) -> None:
        self._delta(ch, {"tool_calls": [{"index": k, **call}]}, out)

    def _on_finish(self, ch: _Choice, reason: str, out: list[bytes]) -> None:
        self._delta(ch, {}, out, finish=reason)

    # -- ending

    @property
    def failure(self) -> str | None:
        """Why this answer must not pass for a success (bad finish reason, nothing visible,
        or `fail` was called); None when it is fine."""
        if self._failed is not None:
            return self._failed
        fr = self.upstream_finish
        if fr is not None and fr not in _NORMAL:
            return f"The model's answer failed upstream (finish reason {fr}). Please retry."
        if fr == "MAX_TOKENS" or fr in _REFUSAL:
            return None
        visible = any(ch.text or ch.calls for ch in self._choices.values())
        if not visible:
            if fr is None:
                return "The upstream stream ended without an answer. Please retry."
            return "The model returned an empty answer. Please retry."
        return None

    def _remember_reasoning(self) -> None:
        for ch in self._choices.values():
            if ch.reasoning_sig and ch.reasoning:
                self.signatures[reasoning_key("".join(ch.reasoning))] = self._tag + ch.reasoning_sig

    def finish(self) -> list[bytes]:
        if self._closed:
            return []
        self._remember_reasoning()
        failure = self.failure
        if failure is not None and self.stream:
            return self.fail(failure)
        self._closed = True
        out: list[bytes] = []
        if not self.stream:
            return out
        for ch in self._ordered():
            self._on_finish(ch, finish_reason_for(ch.finish, tool_calls=bool(ch.calls)), out)
        if self.include_usage:
            out.append(
                encode_data(
                    {
                        "id": self.completion_id,
                        "object": self.object_name,
                        "created": self.created,
                        "model": self.model,
                        "choices": [],
                        "usage": self._usage_json(),
                    }
                )
            )
        out.append(DONE)
        return out

    def fail(self, message: str, *, code: str = "upstream_error") -> list[bytes]:
        if self._closed:
            return []
        self._closed = True
        self._failed = message
        if not self.stream:
            return []
        err = {"error": {"message": message, "type": "server_error", "code": code, "param": None}}
        return [encode_data(err), DONE]

    def _ordered(self) -> list[_Choice]:
        if 0 not in self._choices:
            self._choice(0)
        return [self._choices[i] for i in sorted(self._choices)]

    def _usage_json(self) -> JSON:
        u = self.usage or Usage()
        completion = u.output + u.reasoning
        return {
            "prompt_tokens": u.prompt,
            "completion_tokens": completion,
            "total_tokens": max(u.total, u.prompt + completion),
            "prompt_tokens_details": {"cached_tokens": u.cached},
            "completion_tokens_details": {"reasoning_tokens": u.reasoning},
        }

    def result(self) -> dict[str, Any]:
        choices: list[JSON] = []
        for ch in self._ordered():
            text = "".join(ch.text)
            msg: JSON = {"role": "assistant", "content": text if text or not ch.calls else None}
            if ch.reasoning:
                msg["reasoning_content"] = "".join(ch.reasoning)
            if ch.calls:
                msg["tool_calls"] = [dict(c) for c in ch.calls]
            msg["refusal"] = None
            choices.append(
                {
                    "index": ch.index,
                    "message": msg,
                    "logprobs": None,
                    "finish_reason": finish_reason_for(ch.finish, tool_calls=bool(ch.calls)),
                }
            )
        return {
            "id": self.completion_id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": choices,
            "usage": self._usage_json(),
        }


def _visible_text(part: JSON) -> str:
    text = part.get("text")
    if isinstance(text, str) and text:
        return text
    data = part.get("inlineData")
    if isinstance(data, dict) and isinstance(data.get("data"), str):
        mime = data.get("mimeType") if isinstance(data.get("mimeType"), str) else "image/png"
        return f"![image](data:{mime};base64,{data['data']})"
    code = part.get("executableCode")
    if isinstance(code, dict) and isinstance(code.get("code"), str):
        lang = str(code.get("language") or "python").lower()
        return f"\n```{lang}\n{code['code']}\n```\n"
    res = part.get("codeExecutionResult")
    if isinstance(res, dict) and isinstance(res.get("output"), str):
        return f"\n```\n{res['output']}\n```\n"
    return ""
