"""Tool parameter schemas per upstream family.

Gemini models get `clean_schema` as it is: the Gemini `Schema` subset, unions (`anyOf`) and
`nullable` included, which Gemini accepts.

Claude models behind Cloud Code validate `input_schema` strictly and refuse unions and type lists
(`nullable` reaches Claude as a type list). `claude_schema` rewrites a cleaned schema so that:

- every `anyOf` becomes its richest branch (the one describing the most structure; objects, then
  arrays, win ties); the other branches are named in the description ("also accepts ...");
- `nullable` disappears, and a nullable property is no longer `required` (null -> optional);
- `minimum` / `maximum`, the length and count limits, `format` (and the `pattern` and `default`
  hints `clean_schema` already wrote there) live in the description only;
- what is left is `type`, `description`, `properties`, `required`, `items`, `enum` and `title`.
"""

from __future__ import annotations

from typing import Any

from trayproxy.json_types import JSON
from trayproxy.protocols.gemini import is_claude
from trayproxy.protocols.schema import clean_schema

__all__ = ["tool_schema", "claude_schema", "CLAUDE_SCHEMA_KEYS"]


#: Every keyword `claude_schema` may emit.
CLAUDE_SCHEMA_KEYS = frozenset({"type", "description", "properties", "required", "items", "enum", "title"})

_LIMITS = (
    ("minimum", "at least {}"),
    ("maximum", "at most {}"),
    ("minLength", "at least {} characters"),
    ("maxLength", "at most {} characters"),
    ("minItems", "at least {} items"),
    ("maxItems", "at most {} items"),
    ("minProperties", "at least {} properties"),
    ("maxProperties", "at most {} properties"),
    ("format", "format: {}"),
)
_TIE_ORDER = {"OBJECT": 3, "ARRAY": 2}


def tool_schema(schema: Any, model: str) -> JSON:
    """The `parameters` of a function declaration for `model`'s family (whole tool lists are
    remembered across requests by `core.config.remembered_tools`)."""
    cleaned = clean_schema(schema)
    return claude_schema(cleaned) if is_claude(model) else cleaned


def _size(node: Any) -> int:
    """How much structure a cleaned schema node describes (nodes, properties and enum values)."""
    if not isinstance(node, dict):
        return 0
    n = 1 + len(node.get("enum") or [])
    for sub in (node.get("properties") or {}).values():
        n += _size(sub)
    n += _size(node.get("items"))
    for alt in node.get("anyOf") or []:
        n += _size(alt)
    return n


def _describe(node: JSON) -> str:
    if "anyOf" in node:
        return " or ".join(_describe(a) for a in node["anyOf"] if isinstance(a, dict))
    t = str(node.get("type", "value")).lower()
    if t == "array" and isinstance(node.get("items"), dict):
        return f"an array of {_describe(node['items'])}"
    if t == "object" and node.get("properties"):
        return "an object with " + ", ".join(node["properties"])
    if node.get("enum"):
        return "one of " + ", ".join(str(v) for v in node["enum"])
    return f"a {t}" if t not in ("array", "object", "integer") else f"an {t}"


def _with(desc: str | None, hints: list[str]) -> str | None:
    hints = [h for h in hints if h]
    if not hints:
        return desc
    joined = "; ".join(hints)
    if desc and desc.endswith(")") and " (" in desc:  # clean_schema's hints: one parenthesis
        return f"{desc[:-1]}; {joined})"
    return f"{desc} ({joined})" if desc else joined[0].upper() + joined[1:]


def _richest(alts: list[JSON]) -> tuple[JSON, list[JSON]]:
    ranked = sorted(
        range(len(alts)),
        key=lambda i: (_size(alts[i]), _TIE_ORDER.get(str(alts[i].get("type")), 1), -i),
        reverse=True,
    )
    best = ranked[0]
    return alts[best], [a for i, a in enumerate(alts) if i != best]


def _flatten(node: Any) -> tuple[JSON, bool]:
    """(Claude-acceptable node, whether null was allowed)."""
    if not isinstance(node, dict):
        return {"type": "STRING"}, False
    nullable = node.get("nullable") is True
    hints: list[str] = []
    desc = node.get("description") if isinstance(node.get("description"), str) else None
    alts = [a for a in node.get("anyOf") or [] if isinstance(a, dict)]
    if alts:
        best, rest = _richest(alts)
        if rest:
            hints.append("also accepts " + " or ".join(_describe(a) for a in rest))
        inner, inner_null = _flatten(best)
        nullable = nullable or inner_null
        merged = dict(inner)
        if isinstance(node.get("title"), str):
            merged.setdefault("title", node["title"])
        inner_desc = merged.get("description")
        top = _with(desc, hints)
        if top and inner_desc and inner_desc != top:
            merged["description"] = f"{top} ({inner_desc})"
        elif top:
            merged["description"] = top
        return merged, nullable
    out: JSON = {}
    for key in ("type", "title"):
        if key in node:
            out[key] = node[key]
    if "type" not in out:
        out["type"] = "STRING"
    if isinstance(node.get("enum"), list):
        out["enum"] = list(node["enum"])
    for key, text in _LIMITS:
        if key in node and not (key == "format" and node[key] == "enum"):
            hints.append(text.format(node[key]))
    if isinstance(node.get("items"), dict):
        out["items"], _ = _flatten(node["items"])
    elif out["type"] == "ARRAY":
        out["items"] = {"type": "STRING"}
    props = node.get("properties")
    if isinstance(props, dict):
        flat: JSON = {}
        optional: set[str] = set()
        for name, sub in props.items():
            flat[name], was_null = _flatten(sub)
            if was_null:
                optional.add(name)
        out["properties"] = flat
        required = [r for r in node.get("required") or [] if r in flat and r not in optional]
        if required:
            out["required"] = required
    d = _with(desc, hints)
    if d:
        out["description"] = d
    return out, nullable


def claude_schema(cleaned: JSON) -> JSON:
    """A `clean_schema` result rewritten for Claude (see the module doc). The root stays an object."""
    out, _ = _flatten(cleaned)
    if out.get("type") != "OBJECT":
        return {"type": "OBJECT", "properties": {}, **({"description": out["description"]} if "description" in out else {})}
    out.setdefault("properties", {})
    return out
