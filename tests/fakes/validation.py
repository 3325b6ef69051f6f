"""Google-style validation of Cloud Code requests, with Google's error wording.

Two stages, like Google's front end: JSON-to-proto parsing (unknown field names, wrong JSON
types, bad base64 -> `Invalid JSON payload received. ...`, all reported together), then
semantic checks (`* GenerateContentRequest.<path>: <problem>` lines). Field names are accepted
in lowerCamelCase and in snake_case, as proto3 JSON parsing does.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterable
from typing import Any

__all__ = [
    "GoogleError", "Issues", "validate_generate", "validate_count_tokens", "validate_load_code_assist",
    "check_signatures", "check_claude_thinking", "check_claude_tools", "check_claude_identity", "model_family",
    "BYPASS_SIGNATURE", "SCHEMA_KEYS", "first", "AGENT_SDK_IDENTITY", "check_image_request",
]

BYPASS_SIGNATURE = "skip_thought_signature_validator"
FUNCTION_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_.\-:]{0,63}$")

ENVELOPE_KEYS = {"project", "model", "request", "requestId", "userAgent", "requestType", "enabledCreditTypes"}
REQUEST_KEYS = {"contents", "systemInstruction", "tools", "toolConfig", "generationConfig", "safetySettings",
                "sessionId", "cachedContent", "labels"}
CONTENT_KEYS = {"role", "parts"}
DATA_FIELDS = ("text", "inlineData", "fileData", "functionCall", "functionResponse", "executableCode",
               "codeExecutionResult")
PART_KEYS = set(DATA_FIELDS) | {"thought", "thoughtSignature", "videoMetadata", "partMetadata"}
BLOB_KEYS = {"mimeType", "data", "displayName"}
FILE_KEYS = {"mimeType", "fileUri", "displayName"}
FUNCTION_CALL_KEYS = {"name", "args", "id"}
FUNCTION_RESPONSE_KEYS = {"name", "response", "id", "willContinue", "scheduling", "parts"}
TOOL_KEYS = {"functionDeclarations", "googleSearch", "googleSearchRetrieval", "codeExecution", "urlContext",
             "retrieval", "computerUse", "enterpriseWebSearch", "googleMaps"}
DECLARATION_KEYS = {"name", "description", "parameters", "parametersJsonSchema", "response",
                    "responseJsonSchema", "behavior"}
SCHEMA_KEYS = {"type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems",
               "properties", "required", "minProperties", "maxProperties", "minLength", "maxLength",
               "pattern", "example", "anyOf", "propertyOrdering", "default", "items", "minimum", "maximum"}
SCHEMA_TYPES = {"TYPE_UNSPECIFIED", "STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL"}
TOOL_CONFIG_KEYS = {"functionCallingConfig", "retrievalConfig", "includeServerSideToolInvocations"}
FUNCTION_CALLING_KEYS = {"mode", "allowedFunctionNames"}
CALLING_MODES = {"MODE_UNSPECIFIED", "AUTO", "ANY", "NONE", "VALIDATED"}
GENERATION_KEYS = {"temperature", "topP", "topK", "candidateCount", "maxOutputTokens", "stopSequences",
                   "presencePenalty", "frequencyPenalty", "seed", "responseMimeType", "responseSchema",
                   "responseJsonSchema", "thinkingConfig", "responseModalities", "imageConfig",
                   "mediaResolution", "responseLogprobs", "logprobs"}
THINKING_KEYS = {"includeThoughts", "thinkingBudget", "thinkingLevel"}
SAFETY_KEYS = {"category", "threshold", "method"}
LOAD_CODE_ASSIST_KEYS = {"cloudaicompanionProject", "metadata", "mode"}
METADATA_KEYS = {"ideType", "ideVersion", "pluginVersion", "platform", "updateChannel", "duetProject",
                 "pluginType", "ideName"}


class GoogleError(Exception):
    """An error answer in Google's shape: `{"error": {"code", "message", "status", "details"?}}`."""

    def __init__(self, status: int, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def first(obj: dict[str, Any], name: str, default: Any = None) -> Any:
    """obj[name] under its camelCase or snake_case spelling."""
    if name in obj:
        return obj[name]
    return obj.get(snake(name), default)


def model_family(model: str) -> str:
    m = model.lower()
    if "claude" in m:
        return "claude"
    if m.startswith("gpt"):
        return "gpt"
    return "gemini"


def _json_type(v: Any) -> str:
    return repr(v) if not isinstance(v, str) else f'"{v}"'


class Issues:
    """Collects parse-stage and semantic problems; `raise_if_any()` turns them into a 400."""

    def __init__(self, root: str = "request", message_root: str = "GenerateContentRequest") -> None:
        self.root = root
        self.message_root = message_root
        self.parse: list[tuple[str, str]] = []  # (field, message)
        self.semantic: list[tuple[str, str]] = []

    def _at(self, path: str) -> str:
        return ".".join(p for p in (self.root, path) if p)

    def unknown(self, name: str, path: str, why: str = "Cannot find field.") -> None:
        at = self._at(path)
        where = f" at '{at}'" if at else ""
        self.parse.append((at, f'Invalid JSON payload received. Unknown name "{name}"{where}: {why}'))

    def bad_value(self, path: str, proto_type: str, value: Any, extra: str = "") -> None:
        at = self._at(path)
        shown = value if isinstance(value, str) else _json_type(value)
        text = f"Invalid value at '{at}' ({proto_type}), {extra or shown}"
        self.parse.append((at, text))

    def bad(self, path: str, message: str) -> None:
        self.semantic.append((path, message))

    def raise_if_any(self) -> None:
        if self.parse:
            msg = "\n".join(m for _, m in self.parse)
            violations = [{"field": f, "description": m} for f, m in self.parse]
        elif self.semantic:
            lines = [f"* {self.message_root}.{p}: {m}" if p else m for p, m in self.semantic]
            msg = lines[0] if len(lines) == 1 and not self.semantic[0][0] else "\n".join(lines) + "\n"
            violations = [{"field": p, "description": m} for p, m in self.semantic]
        else:
            return
        raise GoogleError(400, msg, [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                                      "fieldViolations": violations}])


def known(obj: Any, allowed: Iterable[str], path: str, issues: Issues, proto: str = "message") -> dict[str, Any]:
    """Check an object's keys against proto field names; returns it with camelCase keys."""
    if not isinstance(obj, dict):
        issues.bad_value(path, proto, obj)
        return {}
    allowed = set(allowed)
    by_snake = {snake(a): a for a in allowed}
    out: dict[str, Any] = {}
    for k, v in obj.items():
        name = k if k in allowed else by_snake.get(k)
        if name is None:
            issues.unknown(k, path)
        elif name not in out:
            out[name] = v
    return out


def _join(path: str, name: str) -> str:
    return f"{path}.{snake(name)}" if path else snake(name)


def _b64_ok(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    s = value.strip().rstrip("=")
    if len(s) % 4 == 1:
        return False
    try:
        base64.b64decode(s.replace("-", "+").replace("_", "/") + "=" * (-len(s) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


# -- schema ----------------------------------------------------------------------------------
def check_schema(schema: Any, path: str, issues: Issues, depth: int = 0) -> None:
    s = known(schema, SCHEMA_KEYS, path, issues, "type.googleapis.com/google.protobuf.Schema")
    if depth > 32:
        return
    t = s.get("type")
    if isinstance(t, list):
        issues.unknown("type", path, "Proto field is not repeating, cannot start list.")
    elif t is not None and (not isinstance(t, str) or t.upper() not in SCHEMA_TYPES):
        issues.bad_value(_join(path, "type"), "type.googleapis.com/google.internal.cloud.code.v1internal.Type", t)
    enum = s.get("enum")
    if enum is not None:
        if not isinstance(enum, list):
            issues.unknown("enum", path, "Proto field is repeating, cannot start object.")
        else:
            for i, e in enumerate(enum):
                if not isinstance(e, str):
                    issues.bad_value(f"{_join(path, 'enum')}[{i}]", "TYPE_STRING", e)
    props = s.get("properties")
    names: list[str] = []
    if props is not None:
        if not isinstance(props, dict):
            issues.bad_value(_join(path, "properties"), "message", props)
        else:
            for i, (name, sub) in enumerate(props.items()):
                names.append(name)
                check_schema(sub, f"{_join(path, 'properties')}[{i}].value", issues, depth + 1)
    if "items" in s:
        check_schema(s["items"], _join(path, "items"), issues, depth + 1)
    any_of = s.get("anyOf")
    if any_of is not None:
        if not isinstance(any_of, list):
            issues.unknown("anyOf", path, "Proto field is repeating, cannot start object.")
        else:
            for i, sub in enumerate(any_of):
                check_schema(sub, f"{_join(path, 'anyOf')}[{i}]", issues, depth + 1)
    required = s.get("required")
    if required is not None:
        if not isinstance(required, list):
            issues.unknown("required", path, "Proto field is repeating, cannot start object.")
        else:
            for i, r in enumerate(required):
                if not isinstance(r, str):
                    issues.bad_value(f"{_join(path, 'required')}[{i}]", "TYPE_STRING", r)
                elif r not in names:
                    issues.bad(f"{_join(path, 'required')}[{i}]", "property is not defined")


# -- request ---------------------------------------------------------------------------------
def check_part(part: Any, path: str, issues: Issues, *, allow_empty_text: bool = False) -> None:
    p = known(part, PART_KEYS, path, issues)
    data = [f for f in DATA_FIELDS if f in p]
    if not data:
        if isinstance(part, dict):
            issues.bad(_join(path, "data"), "required oneof field 'data' must have one initialized field")
        return
    for extra in data[1:]:
        issues.parse.append((issues._at(path), f"Invalid JSON payload received. Oneof field 'data' is already set. "
                                                f"Cannot set '{extra}'"))
    if "text" in p:
        if not isinstance(p["text"], str):
            issues.bad_value(_join(path, "text"), "TYPE_STRING", p["text"])
        elif not p["text"] and not allow_empty_text and "thoughtSignature" not in p:
            issues.bad("", "Unable to submit request because it has an empty text parameter. Add a value to the "
                           "parameter and try again.")
    if "thought" in p and not isinstance(p["thought"], bool):
        issues.bad_value(_join(path, "thought"), "TYPE_BOOL", p["thought"])
    if "thoughtSignature" in p and not _b64_ok(p["thoughtSignature"]):
        issues.bad_value(_join(path, "thoughtSignature"), "TYPE_BYTES", p["thoughtSignature"],
                         f'Base64 decoding failed for "{p["thoughtSignature"]}"')
    if "inlineData" in p:
        bp = _join(path, "inlineData")
        blob = known(p["inlineData"], BLOB_KEYS, bp, issues)
        if blob and not blob.get("mimeType"):
            issues.bad(_join(bp, "mimeType"), "Required field is not set.")
        if "data" in blob and not _b64_ok(blob["data"]):
            issues.bad_value(_join(bp, "data"), "TYPE_BYTES", blob["data"],
                             f'Base64 decoding failed for "{str(blob["data"])[:40]}"')
        elif blob and not blob.get("data"):
            issues.bad(_join(bp, "data"), "Required field is not set.")
    if "fileData" in p:
        fp = _join(path, "fileData")
        fd = known(p["fileData"], FILE_KEYS, fp, issues)
        if fd and not fd.get("fileUri"):
            issues.bad(_join(fp, "fileUri"), "Required field is not set.")
    if "functionCall" in p:
        cp = _join(path, "functionCall")
        fc = known(p["functionCall"], FUNCTION_CALL_KEYS, cp, issues)
        if isinstance(p["functionCall"], dict) and not fc.get("name"):
            issues.bad(_join(cp, "name"), "Name cannot be empty.")
        if "args" in fc and not isinstance(fc["args"], dict):
            issues.bad_value(_join(cp, "args"), "type.googleapis.com/google.protobuf.Struct", fc["args"])
    if "functionResponse" in p:
        rp = _join(path, "functionResponse")
        fr = known(p["functionResponse"], FUNCTION_RESPONSE_KEYS, rp, issues)
        if isinstance(p["functionResponse"], dict):
            if not fr.get("name"):
                issues.bad(_join(rp, "name"), "Name cannot be empty.")
            if "response" not in fr:
                issues.bad(_join(rp, "response"), "Required field is not set.")
            elif not isinstance(fr["response"], dict):
                issues.bad_value(_join(rp, "response"), "type.googleapis.com/google.protobuf.Struct", fr["response"])
    for name, keys in (("executableCode", {"language", "code", "id"}),
                       ("codeExecutionResult", {"outcome", "output", "id"})):
        if name in p:
            known(p[name], keys, _join(path, name), issues)


def check_content(content: Any, path: str, issues: Issues, *, system: bool = False) -> dict[str, Any]:
    c = known(content, CONTENT_KEYS, path, issues)
    role = c.get("role")
    valid_roles = ("user", "system", "") if system else ("user", "model")
    if role is not None and role not in valid_roles:
        issues.bad("", "Please use a valid role: user, model.")
    parts = c.get("parts")
    if not isinstance(parts, list) or not parts:
        if parts is not None and not isinstance(parts, list):
            issues.unknown("parts", path, "Proto field is repeating, cannot start object.")
        else:
            issues.bad(_join(path, "parts"), "contents.parts must not be empty.")
        return c
    for i, part in enumerate(parts):
        check_part(part, f"{_join(path, 'parts')}[{i}]", issues, allow_empty_text=system)
    return c


def check_tools(tools: Any, issues: Issues) -> None:
    if not isinstance(tools, list):
        issues.unknown("tools", "", "Proto field is repeating, cannot start object.")
        return
    for ti, tool in enumerate(tools):
        tp = f"tools[{ti}]"
        t = known(tool, TOOL_KEYS, tp, issues)
        decls = t.get("functionDeclarations")
        if decls is None:
            continue
        if not isinstance(decls, list):
            issues.unknown("functionDeclarations", tp, "Proto field is repeating, cannot start object.")
            continue
        for di, decl in enumerate(decls):
            dp = f"{tp}.function_declarations[{di}]"
            d = known(decl, DECLARATION_KEYS, dp, issues)
            name = d.get("name")
            if not isinstance(name, str) or not FUNCTION_NAME_RE.match(name):
                issues.bad(f"{dp}.name", "Invalid function name. Must start with a letter or an underscore. Must be "
                                         "a-z, A-Z, 0-9, or contain underscores, dots, colons and dashes, with a "
                                         "maximum length of 64.")
            if "parameters" in d:
                if "parametersJsonSchema" in d:
                    issues.bad(dp, "parameters and parameters_json_schema cannot both be set.")
                check_schema(d["parameters"], f"{dp}.parameters", issues)
            if "response" in d:
                check_schema(d["response"], f"{dp}.response", issues)


def check_generation_config(gen: Any, issues: Issues) -> None:
    g = known(gen, GENERATION_KEYS, "generation_config", issues)
    if "thinkingConfig" in g:
        t = known(g["thinkingConfig"], THINKING_KEYS, "generation_config.thinking_config", issues)
        if "includeThoughts" in t and not isinstance(t["includeThoughts"], bool):
            issues.bad_value("generation_config.thinking_config.include_thoughts", "TYPE_BOOL", t["includeThoughts"])
    if "responseSchema" in g:
        check_schema(g["responseSchema"], "generation_config.response_schema", issues)
    for k in ("temperature", "topP", "presencePenalty", "frequencyPenalty"):
        if k in g and (isinstance(g[k], bool) or not isinstance(g[k], (int, float))):
            issues.bad_value(_join("generation_config", k), "TYPE_FLOAT", g[k])
    for k in ("topK", "candidateCount", "maxOutputTokens", "seed"):
        if k in g and (isinstance(g[k], bool) or not isinstance(g[k], int)):
            issues.bad_value(_join("generation_config", k), "TYPE_INT32", g[k])
    if "stopSequences" in g and not isinstance(g["stopSequences"], list):
        issues.unknown("stop_sequences", "generation_config", "Proto field is repeating, cannot start object.")


def check_turns(contents: list[Any], issues: Issues) -> None:
    """Function calls and responses must pair up turn by turn."""
    for i, c in enumerate(contents):
        if not isinstance(c, dict) or not isinstance(c.get("parts"), list):
            continue
        responses = [first(p, "functionResponse") for p in c["parts"] if isinstance(p, dict)
                     and first(p, "functionResponse") is not None]
        prev = contents[i - 1] if i > 0 and isinstance(contents[i - 1], dict) else {}
        calls = [first(p, "functionCall") for p in prev.get("parts") or [] if isinstance(p, dict)
                 and first(p, "functionCall") is not None]
        if responses and (not calls or prev.get("role") != "model"):
            issues.bad("", "Please ensure that function response turn comes immediately after a function call turn.")
            return
        if calls and c.get("role", "user") == "user":
            if len(responses) != len(calls):
                issues.bad("", "Please ensure that the number of function response parts is equal to the number "
                               "of function call parts of the function call turn.")
                return
            want = sorted(str(x.get("name")) for x in calls if isinstance(x, dict))
            got = sorted(str(x.get("name")) for x in responses if isinstance(x, dict))
            if want != got:
                issues.bad("", f"Please ensure that the function response names match the function call names of "
                               f"the function call turn (calls: {', '.join(want)}; responses: {', '.join(got)}).")
                return


def validate_request(req: Any, issues: Issues, *, extra_keys: Iterable[str] = ()) -> dict[str, Any]:
    r = known(req, REQUEST_KEYS | set(extra_keys), "", issues)
    contents = r.get("contents")
    if contents is None or contents == []:
        issues.bad("contents", "contents is not specified")
    elif not isinstance(contents, list):
        issues.unknown("contents", "", "Proto field is repeating, cannot start object.")
    else:
        for i, c in enumerate(contents):
            check_content(c, f"contents[{i}]", issues)
    if "systemInstruction" in r:
        check_content(r["systemInstruction"], "system_instruction", issues, system=True)
    if "tools" in r:
        check_tools(r["tools"], issues)
    if "toolConfig" in r:
        tc = known(r["toolConfig"], TOOL_CONFIG_KEYS, "tool_config", issues)
        if "functionCallingConfig" in tc:
            fcc = known(tc["functionCallingConfig"], FUNCTION_CALLING_KEYS, "tool_config.function_calling_config", issues)
            mode = fcc.get("mode")
            if mode is not None and mode not in CALLING_MODES:
                issues.bad_value("tool_config.function_calling_config.mode",
                                 "type.googleapis.com/google.internal.cloud.code.v1internal.FunctionCallingConfig.Mode",
                                 mode)
    if "generationConfig" in r:
        check_generation_config(r["generationConfig"], issues)
    if "safetySettings" in r:
        if not isinstance(r["safetySettings"], list):
            issues.unknown("safety_settings", "", "Proto field is repeating, cannot start object.")
        else:
            for i, s in enumerate(r["safetySettings"]):
                known(s, SAFETY_KEYS, f"safety_settings[{i}]", issues)
    issues.raise_if_any()
    if isinstance(contents, list):
        check_turns(contents, issues)
        issues.raise_if_any()
    return r


def validate_generate(body: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(envelope, request) of a generateContent / streamGenerateContent body, or GoogleError."""
    top = Issues(root="")
    env = known(body, ENVELOPE_KEYS, "", top)
    top.raise_if_any()
    if not env.get("model") or not isinstance(env.get("model"), str):
        raise GoogleError(400, "Request contains an invalid argument.",
                          [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                            "fieldViolations": [{"field": "model", "description": "model is required"}]}])
    if not env.get("project") or not isinstance(env.get("project"), str):
        raise GoogleError(400, "Request contains an invalid argument.",
                          [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                            "fieldViolations": [{"field": "project", "description": "project is required"}]}])
    if "request" not in env:
        raise GoogleError(400, "* GenerateContentRequest.contents: contents is not specified\n")
    req = validate_request(env["request"], Issues())
    return env, req


def validate_count_tokens(body: Any) -> dict[str, Any]:
    top = Issues(root="", message_root="CountTokensRequest")
    env = known(body, {"request"}, "", top)
    top.raise_if_any()
    return validate_request(env.get("request", {}), Issues(message_root="CountTokensRequest"), extra_keys={"model"})


def validate_load_code_assist(body: Any) -> dict[str, Any]:
    issues = Issues(root="", message_root="LoadCodeAssistRequest")
    b = known(body, LOAD_CODE_ASSIST_KEYS, "", issues)
    if "metadata" in b:
        known(b["metadata"], METADATA_KEYS, "metadata", issues)
    issues.raise_if_any()
    return b


def missing_signature(name: str, position: int) -> GoogleError:
    return GoogleError(
        400,
        "Function call is missing a thought_signature in functionCall parts. This is required for tools to work "
        "correctly, and missing thought_signature may lead to degraded model performance. Additional data, "
        f"function call `default_api:{name}`, position {position}. Please refer to "
        "https://ai.google.dev/gemini-api/docs/thought-signatures for more details.",
    )


def invalid_signature(family: str, turn: int, part: int) -> GoogleError:
    """Claude answers in Anthropic's words (its own message numbering); Gemini in Google's."""
    if family == "claude":
        return GoogleError(400, f"messages.{turn}.content.{part}: Invalid `signature` in `thinking` block")
    return GoogleError(400, "Corrupted thought signature.")


def check_signatures(contents: list[dict[str, Any]], family: str, issued: Callable[[str], str | None]) -> None:
    """For thinking models: every functionCall in a model turn carries a signature this upstream
    issued for the same model family (or the documented bypass value); any other signature
    present must be valid too. `issued(sig)` gives the family a signature was issued for.
    Claude accepts the bypass value on functionCall parts only (upstream-as-it-is §4)."""
    for ci, content in enumerate(contents):
        if content.get("role") != "model":
            continue
        for pi, part in enumerate(content.get("parts", [])):
            sig = first(part, "thoughtSignature")
            fc = first(part, "functionCall")
            if fc is not None and not sig:
                raise missing_signature(str(fc.get("name")), ci + 1)
            if sig == BYPASS_SIGNATURE and (fc is not None or family != "claude"):
                continue
            if sig and issued(sig) != family:
                raise invalid_signature(family, ci, pi)


def check_claude_thinking(contents: list[dict[str, Any]], thinking_enabled: bool) -> None:
    """Claude (behind Cloud Code) also insists on Anthropic's thinking rules: thinking blocks
    sent back carry their signature, and with thinking on, the assistant turn inside an open
    tool loop starts with a thinking block."""
    for ci, content in enumerate(contents):
        if content.get("role") != "model":
            continue
        for pi, part in enumerate(content.get("parts", [])):
            if part.get("thought") is True and not first(part, "thoughtSignature"):
                raise GoogleError(400, f"messages.{ci}.content.{pi}.thinking.signature: Field required")
    if not thinking_enabled or len(contents) < 2:
        return
    last, prev = contents[-1], contents[-2]
    in_tool_loop = prev.get("role") == "model" and any(
        first(p, "functionResponse") is not None for p in last.get("parts", []))
    if in_tool_loop:
        lead = (prev.get("parts") or [{}])[0]
        if lead.get("thought") is not True:
            found = "tool_use" if first(lead, "functionCall") is not None else "text"
            raise GoogleError(
                400,
                f"messages.{len(contents) - 2}.content.0.type: Expected `thinking` or `redacted_thinking`, but found "
                f"`{found}`. When `thinking` is enabled, a final `assistant` message must start with a thinking block "
                "(preceeding the lastmost set of `tool_use` and `tool_result` blocks). We recommend you include "
                "thinking blocks from previous turns. To avoid this requirement, disable `thinking`. Please consult "
                "our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking",
            )


def _unions(schema: Any) -> bool:
    """Whether a Gemini Schema holds anything Claude's input_schema validation refuses: unions, and
    `nullable` (Google hands Claude a nullable field as a type list, which Claude refuses)."""
    if not isinstance(schema, dict):
        return False
    if any(first(schema, k) is not None for k in ("anyOf", "oneOf", "allOf")) or first(schema, "nullable") is True:
        return True
    if isinstance(schema.get("type"), list):
        return True
    props = schema.get("properties")
    subs = list(props.values()) if isinstance(props, dict) else []
    return any(_unions(s) for s in [*subs, schema.get("items")])


def check_claude_tools(tools: Any) -> None:
    """Claude validates every tool's input_schema strictly (upstream-as-it-is §4, Aether PR #832):
    unions and type lists are refused with Anthropic's field path."""
    decls = [d for t in tools or [] if isinstance(t, dict) for d in first(t, "functionDeclarations") or []]
    for i, decl in enumerate(decls):
        if isinstance(decl, dict) and (_unions(decl.get("parameters")) or _unions(first(decl, "parametersJsonSchema"))):
            raise GoogleError(400, f"tools.{i}.custom.input_schema: JSON schema is invalid. It must match JSON Schema "
                                   "draft 2020-12 (https://json-schema.org/draft/2020-12). Learn more about tool use "
                                   "at https://docs.claude.com/en/docs/tool-use.")


#: The line the Claude Agent SDK starts its system prompt with.
AGENT_SDK_IDENTITY = "You are a Claude agent, built on Anthropic's Claude Agent SDK"


def check_claude_identity(req: dict[str, Any]) -> None:
    """Claude Code's billing header and the Agent SDK identity line in the system prompt draw the
    bare 429 from Cloud Code for healthy accounts (upstream-as-it-is §2, §4)."""
    system = first(req, "systemInstruction") or {}
    text = " ".join(p.get("text", "") for p in system.get("parts") or [] if isinstance(p, dict))
    if "x-anthropic-billing-header:" in text or AGENT_SDK_IDENTITY in text:
        raise GoogleError(429, "Resource has been exhausted (e.g. check quota).")


_IMAGE_REQUEST_ID = re.compile(r"^image_gen/\d{13}/[0-9a-f-]{36}/12$")


def check_image_request(env: dict[str, Any], req: dict[str, Any]) -> None:
    """Image models take `image_gen` requests only (upstream-as-it-is §5): that requestType, a
    requestId `image_gen/<ms>/<uuid>/12`, and neither tools nor a systemInstruction."""
    problems = []
    if env.get("requestType") != "image_gen":
        problems.append(f"requestType must be image_gen for this model, not {env.get('requestType')!r}")
    if not isinstance(env.get("requestId"), str) or not _IMAGE_REQUEST_ID.match(env["requestId"]):
        problems.append("requestId must look like image_gen/<ms>/<uuid>/12")
    for key in ("tools", "systemInstruction"):
        if first(req, key) is not None:
            problems.append(f"{key} is not supported for image generation")
    if problems:
        raise GoogleError(400, "Request contains an invalid argument.",
                          [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                            "fieldViolations": [{"field": "request", "description": p} for p in problems]}])
