"""OpenAI chat shapes -> Gemini, for both OpenAI protocols (pure code).

`/v1/chat/completions` bodies, and `/v1/responses` bodies after `openai_responses.to_chat`, are
chat bodies; `to_gemini` validates one and builds the inner Gemini GenerateContentRequest on the
core (`trayproxy.protocols.core`):

- system / developer messages -> `systemInstruction` (texts joined in order);
- user -> user, assistant -> model, tool (and legacy `function`) -> user `functionResponse` whose
  name comes from the assistant `tool_calls` with that id; the core merges same-role turns and
  answers every call exactly once, in call order;
- content parts: `text`, `image_url` (data: URL -> inlineData, http(s) -> fileData with the mime
  type guessed from the extension, default image/jpeg), `input_audio`, `file` (file_data);
- assistant `tool_calls` -> `functionCall{name, args, id}`; the thought signature is the one
  remembered for that call id (`signatures`), else `BYPASS_SIGNATURE` on thinking upstreams.
  Tagged values (`tp1.<family>.<raw>`) are replayed only to the family that issued them;
- `reasoning_content` becomes a thought part only when a signature for exactly that text is
  remembered (key `core.turns.reasoning_key(text)`); unsigned thoughts are dropped;
- tools / tool_choice (incl. `allowed_tools`) / legacy `functions` -> functionDeclarations and
  `toolConfig.functionCallingConfig`;
- sampling, `response_format` (json_schema -> `responseSchema`; Claude upstreams get the JSON
  instruction as a system note instead), `reasoning_effort` -> `thinkingConfig` with
  `THINKING_BUDGETS`. `max_completion_tokens` includes reasoning and is sent as maxOutputTokens;
  the legacy `max_tokens` counts visible tokens, so the thinking budget is added on top of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from trayproxy.json_types import JSON, MAX_DEPTH, deeper_than
from trayproxy.protocols.core import config as cfg
from trayproxy.protocols.core import prefix_memo
from trayproxy.protocols.core.media import data_url_part, file_part, guess_mime, inline_part
from trayproxy.protocols.core.prefix_memo import IDLE, History
from trayproxy.protocols.core.turns import (
    Turn,
    contents,
    loop_turn_starts_with_thought,
    reasoning_key,
    replayable,
    strip_thoughts,
)
from trayproxy.protocols.errors import RequestError
from trayproxy.protocols.gemini import BYPASS_SIGNATURE, is_thinking_model, signature_family
from trayproxy.protocols.schema import clean_schema

__all__ = ["to_gemini", "THINKING_BUDGETS", "reasoning_key"]


#: thinkingBudget per `reasoning_effort`.
THINKING_BUDGETS = {"low": 1024, "medium": 8192, "high": 24576, "xhigh": 32768}
_MIN_PRO_BUDGET = 128  # the least Gemini pro models accept
_AUDIO_MIME = {"wav": "audio/wav", "mp3": "audio/mpeg", "flac": "audio/flac", "ogg": "audio/ogg"}


# -- content ----------------------------------------------------------------------------------------


def _image_part(part: JSON, where: str) -> JSON:
    img = part.get("image_url")
    url = img.get("url") if isinstance(img, dict) else img
    where = f"{where}.image_url"
    if not isinstance(url, str) or not url.strip():
        raise RequestError("image_url needs a url.", field=where)
    url = url.strip()
    if url.startswith("data:"):
        return data_url_part(url, where)
    if url.startswith(("http://", "https://", "gs://")):
        return file_part(url, "image/jpeg")
    raise RequestError("image_url must be a data: URL or an http(s) URL.", field=where)


def _audio_part(part: JSON, where: str) -> JSON:
    audio = part.get("input_audio")
    where = f"{where}.input_audio"
    if not isinstance(audio, dict) or not isinstance(audio.get("data"), str) or not audio["data"]:
        raise RequestError("input_audio needs base64 `data` and a `format`.", field=where)
    fmt = audio.get("format")
    data: str = audio["data"]
    if data.startswith("data:"):
        return data_url_part(data, f"{where}.data")
    return inline_part(_AUDIO_MIME.get(fmt if isinstance(fmt, str) else "", "audio/wav"), data)


def _file_part(part: JSON, where: str) -> JSON:
    f = part.get("file")
    where = f"{where}.file"
    if not isinstance(f, dict):
        raise RequestError("A file part needs a `file` object.", field=where)
    data = f.get("file_data")
    if not isinstance(data, str) or not data:
        raise RequestError("Only files sent inline as file_data are supported (not file_id).", field=where)
    if data.startswith("data:"):
        return data_url_part(data, f"{where}.file_data")
    name: str = f["filename"] if isinstance(f.get("filename"), str) else ""
    return inline_part(guess_mime(name, "application/pdf"), data)


_MEDIA = {"image_url": _image_part, "input_audio": _audio_part, "file": _file_part}


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
        elif media and isinstance(ptype, str) and ptype in _MEDIA:
            out.append(_MEDIA[ptype](part, pw))
        else:
            raise RequestError(f"Unsupported content part type {ptype!r} here.", field=f"{pw}.type")
    return out


# -- messages ---------------------------------------------------------------------------------------


@dataclass
class _Req:
    family: str
    signatures: Mapping[str, str]
    thinking_upstream: bool
    call_names: dict[str, str] = field(default_factory=dict)
    history: History = IDLE  # what the conversion read, message by message (set as it begins)

    def remembered(self, key: str) -> str | None:
        return replayable(self.history.lookup(self.signatures, key), self.family, remembered=True) if key else None


def _parse_args(raw: Any, where: str, k: int) -> JSON:
    if raw is None or raw == "":
        return {}
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str):
        try:
            val = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise RequestError("arguments is not valid JSON.", field=_args_field(where, k)) from None
        if not isinstance(val, dict):
            raise RequestError("arguments must encode a JSON object.", field=_args_field(where, k))
        if deeper_than(val):
            raise RequestError(f"arguments is nested more than {MAX_DEPTH} levels deep.", field=_args_field(where, k))
        return val
    raise RequestError("arguments must be a JSON string.", field=_args_field(where, k))


def _args_field(where: str, k: int) -> str:
    return f"{_call_field(where, k)}.function.arguments"


def _calls(msg: JSON, where: str) -> list[tuple[str, JSON, int]]:
    """(id, function, index) per tool call; the index names the call in an error (-1: the legacy
    `function_call`). Field names are only built for an error: this runs for every message."""
    calls = msg.get("tool_calls")
    items: list[tuple[str, JSON, int]] = []
    if calls:
        if not isinstance(calls, list):
            raise RequestError("tool_calls must be a list.", field=f"{where}.tool_calls")
        for k, call in enumerate(calls):
            if not isinstance(call, dict):
                raise RequestError("Each tool call must be an object.", field=_call_field(where, k))
            fn = call.get("function")
            if not isinstance(fn, dict):
                raise RequestError("A tool call needs a `function` object.", field=f"{_call_field(where, k)}.function")
            cid = call.get("id")
            if not isinstance(cid, str) or not cid:
                raise RequestError("A tool call needs an `id`.", field=f"{_call_field(where, k)}.id")
            items.append((cid, fn, k))
    elif calls is not None and not isinstance(calls, list):
        raise RequestError("tool_calls must be a list.", field=f"{where}.tool_calls")
    legacy = msg.get("function_call")
    if isinstance(legacy, dict):
        items.append(("", legacy, -1))
    return items


def _call_field(where: str, k: int) -> str:
    return f"{where}.function_call" if k < 0 else f"{where}.tool_calls[{k}]"


def _assistant(msg: JSON, where: str, ctx: _Req) -> list[JSON]:
    parts: list[JSON] = []
    reasoning = msg.get("reasoning_content")
    if isinstance(reasoning, str) and reasoning.strip():
        sig = ctx.remembered(reasoning_key(reasoning))
        if sig:
            parts.append({"text": reasoning, "thought": True, "thoughtSignature": sig})
    content = msg.get("content")
    if content:
        parts += _content_parts(content, f"{where}.content")
    elif content is not None and content != "":
        parts += _content_parts(content, f"{where}.content")  # the wrong type: its error
    for cid, fn, k in _calls(msg, where):
        name = fn.get("name")
        if not isinstance(name, str) or not name:
            raise RequestError("A tool call needs a function name.", field=f"{_call_field(where, k)}.function.name")
        call: JSON = {"name": name, "args": _parse_args(fn.get("arguments"), where, k)}
        if cid:
            call["id"] = cid
            ctx.history.name(cid, name, ctx.call_names)
        part: JSON = {"functionCall": call}
        sig = ctx.remembered(cid) or (BYPASS_SIGNATURE if ctx.thinking_upstream else None)
        if sig:
            part["thoughtSignature"] = sig
        parts.append(part)
    return parts


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


def _convert(messages: list[Any], ctx: _Req, raw: bytes | None) -> tuple[list[str], list[Turn]]:
    """(system texts, paired turns). Messages a remembered conversation began with the same way
    are not converted again (core.prefix_memo; `raw`: the request body, when known)."""
    kind = ("openai", ctx.family, ctx.thinking_upstream)
    h = ctx.history = prefix_memo.resume(kind, raw, messages, ctx.signatures)
    ctx.call_names = h.known_names()
    system = h.system
    pairing = h.pairing
    recording = h.recording
    for i in range(h.start, len(messages)):
        msg = messages[i]
        if not isinstance(msg, dict):
            raise RequestError("Each message must be an object.", field=f"messages[{i}]")
        role = msg.get("role")
        content = msg.get("content")
        if role == "user":
            if type(content) is str:  # the common case, without building field names
                pairing.add(Turn("user", [{"text": content}] if content else []))
            else:
                pairing.add(Turn("user", _content_parts(content, f"messages[{i}].content")))
        elif role == "assistant":
            pairing.add(Turn("model", _assistant(msg, f"messages[{i}]", ctx)))
        elif role in ("tool", "function"):
            if type(content) is str and role == "tool" and isinstance(cid := msg.get("tool_call_id"), str) and cid:
                fr = {"name": ctx.call_names.get(cid, ""), "response": {"result": content}, "id": cid}
                pairing.add(Turn("user", [{"functionResponse": fr, "_media": []}]))
            else:
                pairing.add(Turn("user", _tool_result(msg, f"messages[{i}]", ctx, role == "function")))
        elif role in ("system", "developer"):
            where = f"messages[{i}].content"
            text = "\n".join(p["text"] for p in _content_parts(content, where, media=False))
            if text:
                system.append(text)
        else:
            raise RequestError(
                f"Unknown role {role!r}; use system, developer, user, assistant or tool.",
                field=f"messages[{i}].role",
            )
        if recording:
            h.mark()
    prefix_memo.remember(kind, raw, h, messages)
    return list(system), pairing.finish()


# -- tools, config ----------------------------------------------------------------------------------


def _tools(body: JSON, model: str) -> list[JSON]:
    tools, functions = body.get("tools"), body.get("functions")
    if tools is None and functions is None:
        return []
    return list(cfg.remembered_tools("openai", model, (tools, functions), lambda: _declarations(body, model)))


def _declarations(body: JSON, model: str) -> list[JSON]:
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
    decls = cfg.Declarations(model)
    for fn, where in specs:
        if not isinstance(fn, dict):
            raise RequestError("A function tool needs a `function` object.", field=where)
        decls.add(fn.get("name"), fn.get("description"), fn.get("parameters"), where, schema_field="parameters")
    return decls.decls


def _named(choice: Any, where: str, names: set[str]) -> str:
    fn = choice.get("function") if isinstance(choice, dict) else None
    name = fn.get("name") if isinstance(fn, dict) else None
    if not isinstance(name, str) or name not in names:
        raise RequestError(f"tool_choice names {name!r}, which is not among the tools.", field=where)
    return name


_CHOICE_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY"}


def _tool_config(body: JSON, decls: list[JSON]) -> tuple[JSON | None, list[JSON]]:
    choice = body.get("tool_choice", body.get("function_call"))
    if choice is None or not decls:
        return None, decls
    names = {d["name"] for d in decls}
    if isinstance(choice, str) and choice in _CHOICE_MODES:
        return cfg.calling_config(_CHOICE_MODES[choice]), decls
    if isinstance(choice, dict):
        ctype = choice.get("type")
        if ctype == "function":
            return cfg.calling_config("ANY", [_named(choice, "tool_choice.function.name", names)]), decls
        if ctype is None and isinstance(choice.get("name"), str):  # legacy function_call {"name"}
            return cfg.calling_config("ANY", [_named({"function": choice}, "function_call.name", names)]), decls
        if ctype == "allowed_tools":
            spec = choice.get("allowed_tools")
            if not isinstance(spec, dict) or not isinstance(spec.get("tools"), list):
                raise RequestError("allowed_tools needs a tools list.", field="tool_choice.allowed_tools")
            allowed = [
                _named(t, f"tool_choice.allowed_tools.tools[{i}]", names) for i, t in enumerate(spec["tools"])
            ]
            kept = [d for d in decls if d["name"] in allowed]
            if spec.get("mode") == "required":
                return cfg.calling_config("ANY", allowed), kept
            # mode auto: Gemini only restricts names in ANY mode, so offer only those tools
            return cfg.calling_config("AUTO"), kept
    raise RequestError(
        "tool_choice must be auto, none, required or {type: function, function: {name}}.",
        field="tool_choice",
    )


def _number(body: JSON, key: str, lo: float, hi: float) -> float | None:
    v = body.get(key)
    if v is None:
        return None
    if not cfg.is_num(v) or not lo <= v <= hi:
        raise RequestError(f"{key} must be a number between {lo:g} and {hi:g}.", field=key)
    return float(v) if isinstance(v, float) else v


def _positive(body: JSON, key: str) -> int | None:
    v = body.get(key)
    if v is None:
        return None
    if not cfg.is_int(v) or v < 1:
        raise RequestError(f"{key} must be a positive integer.", field=key)
    return int(v)


def _thinking(
    body: JSON, upstream_model: str, max_out: int | None, cap: int, *, visible_only: bool
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
    if not is_thinking_model(upstream_model):
        return None, max_out
    if cfg.is_claude(upstream_model):
        if effort in ("none", "minimal"):
            return None, max_out
        budget = THINKING_BUDGETS[effort] if isinstance(effort, str) else cfg.DEFAULT_CLAUDE_BUDGET
        if max_out is None:
            max_out = cap
        elif visible_only:
            max_out = min(max_out + budget, cap)
        budget = min(budget, max_out - cfg.MIN_BUDGET)
        if budget < cfg.MIN_BUDGET:
            return None, max_out  # no room to think under the client's max_tokens
        return {"includeThoughts": True, "thinkingBudget": budget}, max_out
    if effort in ("none", "minimal"):
        if "flash" in upstream_model.lower():
            return {"includeThoughts": False, "thinkingBudget": 0}, max_out
        # pro models cannot stop thinking: think as little as they allow, show nothing
        budget = _MIN_PRO_BUDGET
        tc: JSON = {"includeThoughts": False, "thinkingBudget": budget}
    else:
        budget = THINKING_BUDGETS[effort] if isinstance(effort, str) else THINKING_BUDGETS["medium"]
        tc = {"includeThoughts": True}
        if isinstance(effort, str) or (visible_only and max_out is not None):
            tc["thinkingBudget"] = budget
    if visible_only and max_out is not None:
        max_out = min(max_out + budget, cap)
    return tc, max_out


def _response_format(body: JSON, gc: JSON, claude: bool) -> str | None:
    """Sets JSON output on `gc`; returns the system note used instead on Claude upstreams."""
    rf = body.get("response_format")
    if rf is None:
        return None
    if not isinstance(rf, dict):
        raise RequestError("response_format must be an object.", field="response_format")
    rtype = rf.get("type")
    if rtype == "json_object":
        if claude:
            return "Respond with a single valid JSON object and nothing else."
        gc["responseMimeType"] = "application/json"
    elif rtype == "json_schema":
        js = rf.get("json_schema")
        schema = js.get("schema") if isinstance(js, dict) else None
        if not isinstance(schema, dict):
            raise RequestError(
                "response_format json_schema needs json_schema.schema.", field="response_format.json_schema"
            )
        if claude:
            return (
                "Respond with a single JSON value that validates against this JSON Schema, "
                "and nothing else:\n" + orjson.dumps(schema).decode()
            )
        gc["responseMimeType"] = "application/json"
        gc["responseSchema"] = clean_schema(schema, require_object=False)
    elif rtype not in ("text", None):
        raise RequestError(f"Unsupported response_format type {rtype!r}.", field="response_format.type")
    return None


def _generation_config(body: JSON, upstream_model: str, cap: int) -> tuple[JSON, str | None]:
    """(generationConfig, system note for JSON output on upstreams without responseSchema)."""
    gc: JSON = {}
    for key, dst, lo, hi in (("temperature", "temperature", 0, 2), ("top_p", "topP", 0, 1)):
        v = _number(body, key, lo, hi)
        if v is not None:
            gc[dst] = v
    seed = body.get("seed")
    if seed is not None:
        if not cfg.is_int(seed):
            raise RequestError("seed must be an integer.", field="seed")
        gc["seed"] = seed
    n = _positive(body, "n")
    if n is not None and n > 1:
        if n > 8:
            raise RequestError("n must be at most 8.", field="n")
        gc["candidateCount"] = n
    stops = cfg.stop_sequences(body.get("stop"), "stop", one_string=True)
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
    note = _response_format(body, gc, cfg.is_claude(upstream_model))
    tc, max_out = _thinking(body, upstream_model, max_out, cap, visible_only=visible_only)
    if max_out is not None:
        gc["maxOutputTokens"] = min(max_out, cap)
    if tc is not None:
        gc["thinkingConfig"] = tc
    return gc, note


def to_gemini(
    body: JSON, *, upstream_model: str, signatures: Mapping[str, str], cap: int | None = None,
    raw: bytes | None = None,
) -> JSON:
    """A chat body -> the inner Gemini GenerateContentRequest (`cap`: the catalog's output limit;
    `raw`: the body's bytes when it was parsed from them, so a conversation's known beginning is
    not converted again, core.prefix_memo)."""
    if not isinstance(body, dict):
        raise RequestError("The request body must be a JSON object.")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError("messages is required and must be a non-empty list.", field="messages")
    limit = cfg.output_cap(upstream_model, cap)
    ctx = _Req(signature_family(upstream_model), signatures, is_thinking_model(upstream_model))
    system, turns = _convert(messages, ctx, raw)
    if not turns:
        raise RequestError("The messages have no content to send.", field="messages")
    decls = _tools(body, upstream_model)
    tool_config, decls = _tool_config(body, decls)
    gc, note = _generation_config(body, upstream_model, limit)
    if cfg.is_claude(upstream_model):
        if "thinkingConfig" in gc and not loop_turn_starts_with_thought(turns):
            # Claude with thinking on demands that a tool loop's assistant turn start with its
            # signed thinking, which OpenAI clients do not keep: answer this turn without it.
            del gc["thinkingConfig"]
            asked = _positive(body, "max_completion_tokens") or _positive(body, "max_tokens")
            if asked is not None:  # the room added for thinking is no longer needed
                gc["maxOutputTokens"] = min(asked, limit)
        if "thinkingConfig" not in gc:
            turns = strip_thoughts(turns)  # and with thinking off it rejects thinking in the history
    if note:
        system.append(note)
    return cfg.build_request(
        contents(turns),
        system=[{"text": "\n\n".join(system)}] if system else None,
        decls=decls,
        tool_config=tool_config,
        generation=gc or None,
    )
