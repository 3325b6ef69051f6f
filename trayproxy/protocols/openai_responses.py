"""OpenAI Responses API (`/v1/responses`): the request side.

Pure code. `to_chat` maps a Responses request (plus the stored history of a
`previous_response_id` chain) onto the OpenAI chat shapes both OpenAI protocols share, and
`to_gemini` builds the Gemini request from those (`openai_shapes`):

- `instructions` -> a leading system message; `input` string -> one user message;
- `message` items (input_text / output_text / input_image / input_file / refusal parts);
- `function_call` / `custom_tool_call` / `local_shell_call` -> assistant `tool_calls` (consecutive
  calls, and the assistant message right before them, become one assistant message);
- `function_call_output` / `custom_tool_call_output` / `local_shell_call_output` -> `tool`
  messages (an output whose call is not in the conversation becomes a user note instead, so the
  upstream never sees a response to a call it did not make);
- `reasoning` items become the `reasoning_content` of the assistant turn they precede, replayed as
  a thought part only when a signature for exactly that text is remembered
  (`core.turns.reasoning_key`), so unsigned or foreign reasoning is safe;
- tools: top-level `tools` and Codex's `additional_tools` items (`responses_tools`: function,
  freeform `custom`, `local_shell`, `tool_search`, `namespace` members) -> chat function tools;
  a replayed call names its tool (and namespace) and goes upstream under the offered name;
- `web_search_call` / `image_generation_call` items (hosted calls of earlier turns) -> a note in
  the assistant turn; `agent_message` (another agent's message) -> a user message;
  `configuration_update` -> its reasoning effort; `tool_search_call` / `tool_search_output` ->
  a `tool_search` call and its result; `item_reference` items are resolved against the
  conversation's items by id. Any other item type is a 400 naming it (never dropped);
- `tool_choice`, `reasoning.effort`, `max_output_tokens`, `text.format`, sampling parameters.

The response side is `ResponsesStream` (in `openai_responses_stream`, re-exported here).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from trayproxy.json_types import JSON, MAX_DEPTH, deeper_than
from trayproxy.protocols import openai_shapes
from trayproxy.protocols.errors import RequestError
from trayproxy.protocols.openai_responses_stream import ResponsesStream
from trayproxy.protocols.responses_tools import LOCAL_SHELL_TOOL, TOOL_SEARCH_TOOL, ToolSet, collect

__all__ = [
    "to_gemini",
    "to_chat",
    "input_items",
    "request_echo",
    "ResponsesStream",
    "LOCAL_SHELL_TOOL",
    "tool_set",
]


_CALL_TYPES = ("function_call", "custom_tool_call", "local_shell_call", "tool_search_call")
_OUTPUT_TYPES = ("function_call_output", "custom_tool_call_output", "local_shell_call_output", "tool_search_output")
# items that are not turns of the conversation: declarations and controls, read elsewhere
_CONTROL_TYPES = ("additional_tools", "configuration_update", "compaction_trigger")
_ROLES = ("user", "assistant", "system", "developer")
_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")


# -- request side ---------------------------------------------------------------------------------


def _obj(value: Any) -> JSON:
    return value if isinstance(value, dict) else {}


def _num(body: JSON, key: str, *, lo: float, hi: float) -> float | None:
    v = body.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
        raise RequestError(f"{key} must be a number between {lo:g} and {hi:g}", field=key)
    return v


def input_items(body: JSON) -> list[JSON]:
    """The request's `input` as a list of items (a string becomes one user message)."""
    if "input" not in body or body["input"] is None:
        raise RequestError("input is required: a string or a list of input items", field="input")
    raw = body["input"]
    if isinstance(raw, str):
        return [{"type": "message", "role": "user", "content": raw}]
    if not isinstance(raw, list):
        raise RequestError("input must be a string or a list of input items", field="input")
    out: list[JSON] = []
    for i, item in enumerate(raw):
        if isinstance(item, str):  # tolerated: a bare string is a user message
            out.append({"type": "message", "role": "user", "content": item})
        elif isinstance(item, dict):
            out.append(item)
        else:
            raise RequestError("each input item must be an object", field=f"input[{i}]")
    return out


def _image_url(part: JSON, where: str) -> JSON:
    url = part.get("image_url")
    if isinstance(url, dict):  # chat-style {"url": ...} tolerated
        url = url.get("url")
    if not isinstance(url, str) or not url:
        if part.get("file_id"):
            raise RequestError(
                "input_image by file_id is not supported; send image_url as a data: or https: URL",
                field=f"{where}.file_id",
            )
        raise RequestError("input_image needs an image_url", field=f"{where}.image_url")
    img: JSON = {"url": url}
    if isinstance(part.get("detail"), str):
        img["detail"] = part["detail"]
    return {"type": "image_url", "image_url": img}


def _file(part: JSON, where: str) -> JSON:
    data = part.get("file_data")
    if not isinstance(data, str) or not data:
        raise RequestError(
            "input_file needs file_data (a base64 data: URL); file_id and file_url are not supported",
            field=f"{where}.file_data",
        )
    f: JSON = {"file_data": data}
    if isinstance(part.get("filename"), str):
        f["filename"] = part["filename"]
    return {"type": "file", "file": f}


def _parts(content: Any, where: str) -> list[JSON]:
    """Responses content parts -> chat content parts."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if content is None:
        return []
    if not isinstance(content, list):
        raise RequestError("content must be a string or a list of content parts", field=where)
    out: list[JSON] = []
    for j, part in enumerate(content):
        pw = f"{where}[{j}]"
        if isinstance(part, str):
            out.append({"type": "text", "text": part})
            continue
        if not isinstance(part, dict):
            raise RequestError("each content part must be an object", field=pw)
        ptype = part.get("type")
        if ptype in ("input_text", "output_text", "text", "summary_text", "reasoning_text"):
            text = part.get("text")
            if not isinstance(text, str):
                raise RequestError(f"a {ptype} part needs a string text", field=f"{pw}.text")
            out.append({"type": "text", "text": text})
        elif ptype == "refusal":
            out.append({"type": "text", "text": str(part.get("refusal") or "")})
        elif ptype in ("input_image", "image_url"):
            out.append(_image_url(part, pw))
        elif ptype in ("input_file", "file"):
            out.append(_file(_obj(part.get("file")) or part, pw))
        elif ptype == "input_audio":
            audio = part.get("input_audio")
            if isinstance(audio, dict):
                out.append({"type": "input_audio", "input_audio": audio})
        else:
            raise RequestError(f"unsupported content part type {ptype!r}", field=f"{pw}.type")
    return out


def _text_of(parts: list[JSON]) -> str:
    return "".join(p["text"] for p in parts if p.get("type") == "text")


def _arguments(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return "{}"
    return orjson.dumps(value).decode()


def _call(item: JSON, kind: str, where: str, tools: ToolSet) -> JSON:
    """A function / custom / local_shell / tool_search call item -> a chat tool call."""
    call_id = item.get("call_id") or item.get("id")
    if not isinstance(call_id, str) or not call_id:
        raise RequestError(f"a {kind} item needs a call_id", field=f"{where}.call_id")
    if kind == "local_shell_call":
        action = _obj(item.get("action"))
        args: JSON = {"command": action.get("command") or []}
        if action.get("working_directory"):
            args["workdir"] = action["working_directory"]
        if action.get("timeout_ms"):
            args["timeout_ms"] = action["timeout_ms"]
        name: Any = LOCAL_SHELL_TOOL
        arguments = orjson.dumps(args).decode()
    elif kind == "tool_search_call":
        name = TOOL_SEARCH_TOOL
        raw_args = item.get("arguments")
        arguments = raw_args if isinstance(raw_args, str) else orjson.dumps(_obj(raw_args)).decode()
    else:
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise RequestError(f"a {kind} item needs a name", field=f"{where}.name")
        name = tools.offered(item.get("namespace"), name)
        if kind == "custom_tool_call":
            raw = item.get("input")
            arguments = orjson.dumps({"input": raw if isinstance(raw, str) else _arguments(raw)}).decode()
        else:
            arguments = _arguments(item.get("arguments"))
            try:
                parsed = orjson.loads(arguments) if arguments.strip() else {}
            except orjson.JSONDecodeError:
                raise RequestError("arguments is not valid JSON", field=f"{where}.arguments") from None
            if not isinstance(parsed, dict):
                raise RequestError("arguments must encode a JSON object", field=f"{where}.arguments")
            if deeper_than(parsed):
                raise RequestError(f"arguments is nested more than {MAX_DEPTH} levels deep", field=f"{where}.arguments")
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def _search_output(item: JSON) -> str:
    """A tool_search_output as the function's result: the tools it loaded."""
    found = []
    for t in item.get("tools") or []:
        if isinstance(t, dict):
            subs = t.get("tools") if t.get("type") == "namespace" else [t]
            for sub in subs or []:
                if isinstance(sub, dict) and isinstance(sub.get("name"), str):
                    found.append({"name": sub["name"], "description": str(sub.get("description") or "")[:300]})
    return orjson.dumps({"tools": found}).decode()


def _hosted_note(item: JSON) -> str:
    """An earlier turn's hosted tool call, as the assistant's note of it."""
    if item.get("type") == "web_search_call":
        action = _obj(item.get("action"))
        what = action.get("query") or action.get("url") or ""
        sources = [str(s["url"]) for s in action.get("sources") or [] if isinstance(s, dict) and s.get("url")]
        note = f"(web search: {what})" if what else "(web search)"
        return note + (f" sources: {', '.join(sources[:8])}" if sources else "")
    return "(generated an image)"


def _agent_message(item: JSON, where: str) -> str:
    parts = [p for p in item.get("content") or [] if isinstance(p, dict) and p.get("type") != "encrypted_content"]
    text = _text_of(_parts(parts, f"{where}.content"))
    author, recipient = item.get("author") or "another agent", item.get("recipient") or "you"
    return f"[Message from {author} to {recipient}]\n{text}"


def _output_content(output: Any, where: str) -> str | list[JSON]:
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        parts = _parts(output, where)
        if all(p["type"] == "text" for p in parts):
            return _text_of(parts)
        return parts
    if output is None:
        return ""
    return orjson.dumps(output).decode()


def _reasoning_text(item: JSON) -> str:
    """The thought text of a reasoning item (its summary, which is what ResponsesStream puts there)."""
    for key in ("summary", "content"):
        parts = item.get(key)
        if isinstance(parts, list):
            text = "".join(p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str))
            if text:
                return text
    return ""


def _messages(items: list[JSON], prefix: str, offset: int, tools: ToolSet) -> list[JSON]:
    """Responses items -> chat messages. `prefix`/`offset` name items in errors."""
    messages: list[JSON] = []
    assistant: JSON | None = None  # the assistant message being built (text + tool calls)
    reasoning: str | None = None  # reasoning text waiting for the assistant turn it precedes
    calls: set[str] = set()

    def flush() -> None:
        nonlocal assistant
        if assistant is not None:
            messages.append(assistant)
            assistant = None

    def open_assistant(content: str | None) -> JSON:
        nonlocal assistant, reasoning
        assistant = {"role": "assistant", "content": content}
        if reasoning:
            assistant["reasoning_content"] = reasoning
        reasoning = None
        return assistant

    by_id = {i["id"]: i for i in items if isinstance(i.get("id"), str) and i.get("type") != "item_reference"}
    for n, item in enumerate(items):
        where = f"{prefix}[{n - offset}]" if n >= offset else f"previous_response_id:item[{n}]"
        if item.get("type") == "item_reference":
            ref = by_id.get(item.get("id"))
            if ref is None:
                raise RequestError(f"item_reference names an unknown item {item.get('id')!r}", field=f"{where}.id")
            item = ref
        itype = item.get("type")
        if itype is None and "role" in item:
            itype = "message"
        if itype == "message":
            role = item.get("role")
            if role not in _ROLES:
                raise RequestError(
                    f"message role must be one of {', '.join(_ROLES)}; got {role!r}", field=f"{where}.role"
                )
            parts = _parts(item.get("content"), f"{where}.content")
            flush()
            if role == "assistant":
                open_assistant(_text_of(parts) or None)
                continue
            reasoning = None
            if role in ("system", "developer"):
                messages.append({"role": role, "content": _text_of(parts)})
            elif parts and all(p["type"] == "text" for p in parts):
                messages.append({"role": "user", "content": _text_of(parts)})
            else:
                messages.append({"role": "user", "content": parts})
        elif itype in _CALL_TYPES:
            if itype == "custom_tool_call" and item.get("status") == "incomplete":
                continue  # never finished: nothing was run, nothing to answer
            tc = _call(item, itype, where, tools)
            turn = assistant if assistant is not None else open_assistant(None)
            turn.setdefault("tool_calls", []).append(tc)
            calls.add(tc["id"])
        elif itype in _OUTPUT_TYPES:
            call_id = item.get("call_id") or item.get("id")
            if not isinstance(call_id, str) or not call_id:
                raise RequestError(f"a {itype} item needs a call_id", field=f"{where}.call_id")
            flush()
            reasoning = None
            if itype == "tool_search_output":
                content: str | list[JSON] = _search_output(item)
            else:
                content = _output_content(item.get("output"), f"{where}.output")
            if call_id in calls:
                messages.append({"role": "tool", "tool_call_id": call_id, "content": content})
            else:
                text = content if isinstance(content, str) else _text_of(content)
                messages.append({"role": "user", "content": f"[Output of tool call {call_id}]\n{text}"})
        elif itype == "reasoning":
            text = _reasoning_text(item)
            if text:
                flush()  # reasoning opens the next assistant turn
                reasoning = (reasoning or "") + text
        elif itype in ("web_search_call", "image_generation_call"):
            note = _hosted_note(item)
            if assistant is not None and not assistant.get("tool_calls"):
                assistant["content"] = f"{assistant['content']}\n{note}" if assistant.get("content") else note
            else:
                flush()
                open_assistant(note)
        elif itype == "agent_message":
            flush()
            reasoning = None
            messages.append({"role": "user", "content": _agent_message(item, where)})
        elif itype in _CONTROL_TYPES:
            continue
        elif itype in ("compaction", "compaction_summary", "context_compaction"):
            raise RequestError(f"a {itype} item that this proxy did not write cannot be read (its content is "
                               "encrypted by another server); start a new conversation", field=f"{where}.type")
        else:
            raise RequestError(f"input item type {itype!r} is not supported", field=f"{where}.type")
    flush()
    return messages


def _tool_choice(raw: Any, tools: ToolSet) -> Any:
    if raw is None:
        return None
    if isinstance(raw, str):
        if raw in ("none", "auto", "required"):
            return raw
        raise RequestError("tool_choice must be none, auto, required or an object", field="tool_choice")
    if not isinstance(raw, dict):
        raise RequestError("tool_choice must be a string or an object", field="tool_choice")
    names = tools.names
    ctype = raw.get("type")
    if ctype in ("function", "custom"):
        name = raw.get("name")
        if not isinstance(name, str) and isinstance(raw.get("function"), dict):
            name = raw["function"].get("name")
        if not isinstance(name, str) or not name:
            raise RequestError("tool_choice needs the name of the tool", field="tool_choice.name")
        return {"type": "function", "function": {"name": tools.offered(raw.get("namespace"), name)}}
    if ctype == "local_shell" and LOCAL_SHELL_TOOL in names:
        return {"type": "function", "function": {"name": LOCAL_SHELL_TOOL}}
    if ctype == "allowed_tools":
        mode = raw.get("mode") if raw.get("mode") in ("auto", "required") else "auto"
        allowed: list[JSON] = []
        for t in raw.get("tools") or []:
            if not isinstance(t, dict):
                continue
            name = LOCAL_SHELL_TOOL if t.get("type") == "local_shell" else t.get("name")
            if isinstance(name, str) and t.get("type") in ("function", "custom"):
                name = tools.offered(t.get("namespace"), name)
            if t.get("type") in ("function", "custom", "local_shell") and name in names:
                allowed.append({"type": "function", "function": {"name": name}})
        if not allowed:
            return mode  # only hosted tools were allowed; they are not offered upstream
        return {"type": "allowed_tools", "allowed_tools": {"mode": mode, "tools": allowed}}
    return "auto"  # a hosted tool was forced; it is not offered upstream


def _response_format(text: Any) -> JSON | None:
    if text is None:
        return None
    if not isinstance(text, dict):
        raise RequestError("text must be an object", field="text")
    fmt = text.get("format")
    if fmt is None:
        return None
    if not isinstance(fmt, dict):
        raise RequestError("text.format must be an object", field="text.format")
    ftype = fmt.get("type")
    if ftype == "json_schema":
        schema = fmt.get("schema")
        if not isinstance(schema, dict):
            raise RequestError("a json_schema format needs a schema object", field="text.format.schema")
        js: JSON = {"name": fmt.get("name") or "response", "schema": schema}
        if isinstance(fmt.get("strict"), bool):
            js["strict"] = fmt["strict"]
        if isinstance(fmt.get("description"), str):
            js["description"] = fmt["description"]
        return {"type": "json_schema", "json_schema": js}
    if ftype == "json_object":
        return {"type": "json_object"}
    if ftype in ("text", None):
        return None
    raise RequestError(f"unsupported text.format type {ftype!r}", field="text.format.type")


def _instructions(raw: Any) -> list[JSON]:
    if raw is None or raw == "":
        return []
    if isinstance(raw, str):
        return [{"role": "system", "content": raw}]
    if isinstance(raw, list):  # a list of input items (prompt templates resolve to this)
        return _messages(input_items({"input": raw}), "instructions", 0, ToolSet())
    raise RequestError("instructions must be a string", field="instructions")


def tool_set(body: JSON, history: list[JSON] | None) -> ToolSet:
    """The tools a request declares (top-level and in its conversation's items)."""
    return collect(body.get("tools"), list(history or []) + input_items(body))


def to_chat(body: JSON, *, history: list[JSON] | None, tools: ToolSet | None = None) -> JSON:
    """A Responses request -> an OpenAI chat-completions body for `openai_shapes.to_gemini`.

    `history` is the stored conversation of `previous_response_id` (earlier input items and
    output items, in order); it goes before this request's `input`. `tools`: `tool_set` of
    the same request, when the caller has it already.
    """
    if not isinstance(body, dict):
        raise RequestError("The request body must be a JSON object", field="body")
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise RequestError("A model name is required", field="model")
    items = input_items(body)
    past = list(history or [])
    if not items and not past:
        raise RequestError("input must not be empty", field="input")

    toolset = tools if tools is not None else collect(body.get("tools"), past + items)
    messages = _instructions(body.get("instructions"))
    messages += _messages(past + items, "input", len(past), toolset)

    chat: JSON = {"model": model, "messages": messages}
    if toolset.chat:
        chat["tools"] = toolset.chat
        choice = _tool_choice(body.get("tool_choice"), toolset)
        if choice is not None:
            chat["tool_choice"] = choice
        if isinstance(body.get("parallel_tool_calls"), bool):
            chat["parallel_tool_calls"] = body["parallel_tool_calls"]
    else:
        _tool_choice(body.get("tool_choice"), ToolSet())  # still validated
    for key in ("temperature", "top_p"):
        v = _num(body, key, lo=0, hi=2 if key == "temperature" else 1)
        if v is not None:
            chat[key] = v
    mot = body.get("max_output_tokens")
    if mot is not None:
        if isinstance(mot, bool) or not isinstance(mot, int) or mot < 1:
            raise RequestError("max_output_tokens must be a positive integer", field="max_output_tokens")
        chat["max_completion_tokens"] = mot
    reasoning = body.get("reasoning")
    if reasoning is not None:
        if not isinstance(reasoning, dict):
            raise RequestError("reasoning must be an object", field="reasoning")
        effort = reasoning.get("effort")
        if effort is not None:
            if effort not in _EFFORTS:
                raise RequestError(f"reasoning.effort must be one of {', '.join(_EFFORTS)}", field="reasoning.effort")
            chat["reasoning_effort"] = effort
    if "reasoning_effort" not in chat:  # a durable reasoning setting in the conversation (Codex)
        for it in reversed(past + items):
            effort = _obj(it.get("reasoning")).get("effort") if it.get("type") == "configuration_update" else None
            if effort in _EFFORTS:
                chat["reasoning_effort"] = effort
                break
    rf = _response_format(body.get("text"))
    if rf is not None:
        chat["response_format"] = rf
    for key in ("user", "prompt_cache_key", "metadata"):
        if body.get(key) is not None:
            chat[key] = body[key]
    return chat


def to_gemini(
    body: JSON,
    *,
    history: list[JSON] | None,
    upstream_model: str,
    signatures: Mapping[str, str],
    cap: int | None = None,
    tools: ToolSet | None = None,
) -> JSON:
    """A Responses request (after its `previous_response_id` history) -> the inner Gemini request."""
    chat = to_chat(body, history=history, tools=tools)
    return openai_shapes.to_gemini(chat, upstream_model=upstream_model, signatures=signatures, cap=cap)


def request_echo(body: JSON) -> JSON:
    """The request fields a Responses object repeats back (with the API's defaults)."""
    reasoning = _obj(body.get("reasoning"))
    text = _obj(body.get("text"))
    text_out: JSON = {"format": text.get("format") or {"type": "text"}}
    if "verbosity" in text:
        text_out["verbosity"] = text["verbosity"]
    return {
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "metadata": body.get("metadata") if isinstance(body.get("metadata"), dict) else {},
        "parallel_tool_calls": body.get("parallel_tool_calls", True) is not False,
        "previous_response_id": body.get("previous_response_id"),
        "prompt_cache_key": body.get("prompt_cache_key"),
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        "store": body.get("store", True) is not False,
        "temperature": body.get("temperature", 1.0),
        "text": text_out,
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") if isinstance(body.get("tools"), list) else [],
        "top_p": body.get("top_p", 1.0),
        "truncation": body.get("truncation") or "disabled",
        "user": body.get("user"),
    }
