"""JSON Schema -> the schema subset Gemini function declarations accept.

Pure code, never raises. Clients send whatever their toolkit generates (pydantic `$defs`,
zod `anyOf`/nullable, `$schema`, `additionalProperties:false`, `const`, type arrays, ...);
Gemini's `Schema` message rejects every keyword it does not know with a 400. Instead of a
deny-list that keeps needing entries, `clean_schema` rebuilds each node from an allow-list:

- `$ref` (local JSON pointers: `#/$defs/X`, `#/definitions/X`, `#/properties/...`, `#`) is
  inlined; a reference back into itself becomes `{"type": "OBJECT"}` with a description hint,
  and an expansion budget keeps pathological schemas small.
- `allOf` is merged (properties united, `required` united); `oneOf` is treated as `anyOf`;
  an `anyOf` that only adds `null` is flattened into `nullable: true`; an `anyOf` of string
  constants becomes one `enum`; type arrays (`["string", "null"]`) become `type` + `nullable`.
- `const` -> `enum: [value]`; `exclusiveMinimum` / `exclusiveMaximum` (both drafts) are folded
  into `minimum` / `maximum`.
- `enum` is only valid on strings upstream: string enums keep their values (coerced to str);
  enums of numbers / booleans keep their type and move the values into the description.
- String `format` is kept only for `enum` and `date-time` (numbers keep int32/int64/float/
  double); other formats, `pattern`, `default`, `additionalProperties`, `uniqueItems`,
  `patternProperties` become description hints so the model still learns the constraint.
  `pattern` goes to the description rather than the schema because upstream regex engines
  reject constructs clients use freely (look-arounds, back-references).
- Types are emitted upper-case (`OBJECT`, `STRING`, ...), the Gemini enum spelling the
  reference sends. Every node has a `type` except `anyOf` nodes; arrays always get `items`;
  untyped nodes are inferred (properties -> OBJECT, items -> ARRAY) or fall back to STRING.
- `required` is pruned to names present in `properties`.
- The root of a function declaration's parameters must be an OBJECT: a root union of objects
  is merged into one object (required = names required by every variant); any other root
  becomes an empty object. Pass `require_object=False` for response schemas.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import orjson

from trayproxy.json_types import JSON

__all__ = ["clean_schema", "GEMINI_SCHEMA_KEYS"]


#: Every keyword `clean_schema` may emit.
GEMINI_SCHEMA_KEYS = frozenset(
    {
        "type",
        "format",
        "title",
        "description",
        "nullable",
        "enum",
        "maxItems",
        "minItems",
        "properties",
        "required",
        "minProperties",
        "maxProperties",
        "minLength",
        "maxLength",
        "anyOf",
        "items",
        "minimum",
        "maximum",
    }
)

_TYPES = {
    "string": "STRING",
    "number": "NUMBER",
    "integer": "INTEGER",
    "boolean": "BOOLEAN",
    "array": "ARRAY",
    "object": "OBJECT",
    "null": "NULL",
}
_FORMATS = {
    "STRING": ("enum", "date-time"),
    "NUMBER": ("float", "double"),
    "INTEGER": ("int32", "int64"),
}
_COUNT_KEYS = ("maxItems", "minItems", "minProperties", "maxProperties", "minLength", "maxLength")
_SHAPE_KEYS = ("type", "anyOf", "oneOf", "allOf", "$ref", "enum", "const")
_MAX_DEPTH = 48
_BUDGET = 4000  # schema nodes one clean_schema call may produce before refs stop expanding


@dataclass(slots=True)
class _Ctx:
    root: JSON
    budget: int = _BUDGET


_CACHE: OrderedDict[tuple[bytes, bool], dict[str, Any]] = OrderedDict()
_CACHE_SIZE = 512


def clean_schema(schema: Any, *, require_object: bool = True) -> dict[str, Any]:
    """A Gemini-acceptable copy of `schema` (see the module doc). Never raises.

    Agents send the same tool schemas with every request, so results are memoised by the
    schema's canonical JSON (a small LRU). The returned dict is shared: treat it as read-only."""
    if isinstance(schema, dict):
        try:
            key = (orjson.dumps(schema, option=orjson.OPT_SORT_KEYS), require_object)
        except TypeError:
            return _clean_schema(schema, require_object=require_object)
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            return hit
        out = _clean_schema(schema, require_object=require_object)
        _CACHE[key] = out
        if len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
        return out
    return _clean_schema(schema, require_object=require_object)


def _clean_schema(schema: Any, *, require_object: bool) -> dict[str, Any]:
    if not isinstance(schema, dict):
        return {"type": "OBJECT", "properties": {}} if require_object else {"type": "STRING"}
    ctx = _Ctx(root=schema)
    if require_object and not any(k in schema for k in _SHAPE_KEYS):
        schema = {**schema, "type": "object"}  # a bare {} / {"properties": ...} root is an object
    try:
        out = _clean(schema, ctx, ("#",), 0)
    except RecursionError:  # pragma: no cover - depth is bounded; belt and braces
        out = {"type": "OBJECT"}
    if require_object:
        out = _objectify_root(out)
    return out


# -- helpers --------------------------------------------------------------------------------------


def _hint(text: Any) -> str:
    if isinstance(text, str):
        return text
    try:
        return orjson.dumps(text).decode()
    except TypeError:
        return str(text)


def _with_hints(desc: str | None, hints: list[str]) -> str | None:
    hints = [h for h in hints if h]
    if not hints:
        return desc
    joined = "; ".join(hints)
    if desc:
        return f"{desc} ({joined})"
    return joined[0].upper() + joined[1:]


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _count(v: Any) -> int | None:
    if _is_num(v) and v >= 0 and float(v).is_integer():
        return int(v)
    return None


def _gemini_type(t: Any) -> str | None:
    if isinstance(t, str):
        return _TYPES.get(t.lower())
    return None


def _pointer(root: JSON, ref: str) -> Any:
    """Resolve a local `#/...` JSON pointer; None when it does not resolve."""
    if ref == "#":
        return root
    if not ref.startswith("#/"):
        return None
    node: Any = root
    for raw in ref[2:].split("/"):
        key = unquote(raw).replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return None
    return node


def _ref_name(ref: str) -> str:
    if ref == "#":
        return "root"
    tail = ref.rstrip("/").rsplit("/", 1)[-1]
    return unquote(tail) or "root"


def _deref(node: JSON, ctx: _Ctx, stack: tuple[str, ...]) -> tuple[JSON, tuple[str, ...]] | JSON:
    """Follow `$ref` chains. Returns (resolved node, new stack) or a finished placeholder."""
    seen = stack
    while isinstance(node.get("$ref"), str):
        ref: str = node["$ref"]
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        name = _ref_name(ref)
        if ref in seen:
            desc = siblings.get("description") if isinstance(siblings.get("description"), str) else None
            return _placeholder(desc, f"recursive reference to {name}: an object of the same shape")
        target = _pointer(ctx.root, ref)
        if not isinstance(target, dict):
            desc = siblings.get("description") if isinstance(siblings.get("description"), str) else None
            if isinstance(target, bool) or target is None and ref.startswith("#"):
                return _placeholder(desc, f"see {name}")
            return _placeholder(desc, f"see {ref}")
        if ctx.budget <= 0:
            desc = siblings.get("description") if isinstance(siblings.get("description"), str) else None
            return _placeholder(desc, f"see {name}")
        seen = (*seen, ref)
        merged = dict(target)
        merged.update(siblings)  # siblings of $ref (description, ...) refine the target
        node = merged
    return node, seen


def _placeholder(desc: str | None, hint: str) -> JSON:
    out: JSON = {"type": "OBJECT"}
    d = _with_hints(desc, [hint])
    if d:
        out["description"] = d
    return out


def _merge_all_of(node: JSON, ctx: _Ctx, stack: tuple[str, ...]) -> tuple[JSON, tuple[str, ...]]:
    """Fold `allOf` members into the node itself (raw JSON Schema, before cleaning)."""
    parts = node.get("allOf")
    base = {k: v for k, v in node.items() if k != "allOf"}
    if not isinstance(parts, list):
        return base, stack
    for part in parts:
        if not isinstance(part, dict):
            continue
        got = _deref(part, ctx, stack)
        if isinstance(got, tuple):
            part, stack = got
        else:
            continue  # recursive/unresolvable member: contributes nothing mergeable
        if "allOf" in part:
            part, stack = _merge_all_of(part, ctx, stack)
        for key, value in part.items():
            if key == "properties" and isinstance(value, dict):
                props = dict(base.get("properties") or {}) if isinstance(base.get("properties"), dict) else {}
                for pname, pschema in value.items():
                    if pname in props and isinstance(props[pname], dict) and isinstance(pschema, dict):
                        props[pname] = {"allOf": [props[pname], pschema]}
                    else:
                        props.setdefault(pname, pschema)
                base["properties"] = props
            elif key == "required" and isinstance(value, list):
                req = list(base.get("required") or []) if isinstance(base.get("required"), list) else []
                req += [r for r in value if r not in req]
                base["required"] = req
            elif key == "description" and isinstance(value, str) and isinstance(base.get("description"), str):
                if value not in base["description"]:
                    base["description"] = f"{base['description']} {value}"
            else:
                base.setdefault(key, value)
    return base, stack


# -- the cleaner ----------------------------------------------------------------------------------


def _clean(node: Any, ctx: _Ctx, stack: tuple[str, ...], depth: int) -> JSON:
    ctx.budget -= 1
    if isinstance(node, bool) or not isinstance(node, dict):
        return {"type": "STRING", "description": "Any value"}
    if depth > _MAX_DEPTH:
        return _placeholder(None, "structure nested too deeply to describe")

    got = _deref(node, ctx, stack)
    if not isinstance(got, tuple):
        return got
    node, stack = got
    if "allOf" in node:
        node, stack = _merge_all_of(node, ctx, stack)

    hints: list[str] = []
    desc = node.get("description") if isinstance(node.get("description"), str) else None
    out: JSON = {}
    nullable = node.get("nullable") is True

    # type, possibly an array of types
    raw_type = node.get("type")
    types: list[str] = []
    if isinstance(raw_type, list):
        for t in raw_type:
            g = _gemini_type(t)
            if g and g not in types:
                types.append(g)
    else:
        g = _gemini_type(raw_type)
        if g:
            types.append(g)
    if "NULL" in types:
        types.remove("NULL")
        nullable = True
        if not types and "enum" not in node and "const" not in node:
            # {"type": "null"} alone: only null is allowed
            types = ["STRING"]
            hints.append("always null")

    # const / enum
    enum_vals: list[Any] | None = None
    if "const" in node:
        enum_vals = [node["const"]]
    elif isinstance(node.get("enum"), list):
        enum_vals = list(node["enum"])
    if enum_vals is not None:
        if any(v is None for v in enum_vals):
            nullable = True
            enum_vals = [v for v in enum_vals if v is not None]
        if not types:
            if enum_vals and all(isinstance(v, bool) for v in enum_vals):
                types = ["BOOLEAN"]
            elif enum_vals and all(isinstance(v, int) and not isinstance(v, bool) for v in enum_vals):
                types = ["INTEGER"]
            elif enum_vals and all(_is_num(v) for v in enum_vals):
                types = ["NUMBER"]
            else:
                types = ["STRING"]

    # anyOf / oneOf
    alts_raw: list[Any] = []
    for key in ("anyOf", "oneOf"):
        if isinstance(node.get(key), list):
            alts_raw += node[key]
    if alts_raw:
        alts: list[JSON] = []
        for a in alts_raw:
            if isinstance(a, dict) and (a.get("type") == "null" or a.get("type") == ["null"]) and len(a) <= 2:
                nullable = True
                continue
            c = _clean(a, ctx, stack, depth + 1)
            if c.get("type") == "NULL":
                nullable = True
                continue
            alts.append(c)
        outer = {k: v for k, v in node.items() if k not in ("anyOf", "oneOf")}
        if not alts:
            pass  # only null: fall through as a plain node
        elif len(alts) == 1 and not types:
            merged = dict(alts[0])
            if isinstance(outer.get("title"), str) and outer["title"]:
                merged.setdefault("title", outer["title"])
            if _useful_default(outer):
                hints.append(f"default: {_hint(outer['default'])}")
            inner = merged.get("description")
            top = _with_hints(desc, hints)
            if top and isinstance(inner, str) and inner and inner != top:
                merged["description"] = f"{top} ({inner})"
            elif top:
                merged["description"] = top
            if nullable:
                merged["nullable"] = True
            return merged
        else:
            if not types:
                enum_union = _union_of_string_enums(alts)
                if enum_union is not None:
                    res: JSON = {"type": "STRING", "enum": enum_union}
                    d = _with_hints(desc, [])
                    if d:
                        res["description"] = d
                    if nullable:
                        res["nullable"] = True
                    return res
            res = {}
            title = node.get("title")
            if isinstance(title, str):
                res["title"] = title
            d = _with_hints(desc, hints)
            if d:
                res["description"] = d
            if nullable:
                res["nullable"] = True
            res["anyOf"] = alts
            return res

    if len(types) > 1:
        # ["string", "number"]: a union of plain types
        alts2: list[JSON] = []
        for t in types:
            sub = {k: v for k, v in node.items() if k not in ("type", "description", "title", "nullable")}
            alts2.append(_clean_plain(sub, [t], ctx, stack, depth, hints=[]))
        res = {}
        d = _with_hints(desc, hints)
        if d:
            res["description"] = d
        if nullable:
            res["nullable"] = True
        res["anyOf"] = alts2
        return res

    out = _clean_plain(node, types, ctx, stack, depth, hints=hints, enum_vals=enum_vals)
    if nullable:
        out["nullable"] = True
    return out


def _union_of_string_enums(alts: list[JSON]) -> list[str] | None:
    vals: list[str] = []
    for a in alts:
        if a.get("type") != "STRING" or not isinstance(a.get("enum"), list) or a.get("nullable"):
            return None
        for v in a["enum"]:
            if v not in vals:
                vals.append(v)
    return vals


def _clean_plain(
    node: JSON,
    types: list[str],
    ctx: _Ctx,
    stack: tuple[str, ...],
    depth: int,
    *,
    hints: list[str],
    enum_vals: list[Any] | None = None,
) -> JSON:
    """A node without unions: one type (or none, to be inferred)."""
    desc = node.get("description") if isinstance(node.get("description"), str) else None
    out: JSON = {}
    t = types[0] if types else None
    if t is None:
        if isinstance(node.get("properties"), dict) or "additionalProperties" in node:
            t = "OBJECT"
        elif "items" in node or "prefixItems" in node:
            t = "ARRAY"
        elif any(k in node for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")):
            t = "NUMBER"
        else:
            t = "STRING"
            if enum_vals is None and not any(
                k in node for k in ("minLength", "maxLength", "pattern", "format")
            ):
                hints.append("any JSON value")
    out["type"] = t

    title = node.get("title")
    if isinstance(title, str) and title:
        out["title"] = title

    # enum
    if enum_vals is not None:
        if t == "STRING":
            vals: list[str] = []
            for v in enum_vals:
                s = v if isinstance(v, str) else _hint(v)
                if s not in vals:
                    vals.append(s)
            if vals:
                out["enum"] = vals
        elif enum_vals:
            if len(enum_vals) == 1:
                hints.append(f"must be {_hint(enum_vals[0])}")
            else:
                hints.append("allowed values: " + ", ".join(_hint(v) for v in enum_vals))

    # format
    fmt = node.get("format")
    if isinstance(fmt, str) and fmt:
        if fmt in _FORMATS.get(t, ()):
            out["format"] = fmt
        elif t == "STRING":
            hints.append(f"format: {fmt}")

    # numbers
    if t in ("NUMBER", "INTEGER"):
        _bounds(node, t, out, hints)

    # strings
    if t == "STRING":
        pat = node.get("pattern")
        if isinstance(pat, str) and pat:
            hints.append(f"pattern: {pat}")

    for key in _COUNT_KEYS:
        n = _count(node.get(key))
        if n is not None and _applies(key, t):
            out[key] = n

    # arrays
    if t == "ARRAY":
        items = node.get("items")
        if isinstance(items, list) or (items is None and isinstance(node.get("prefixItems"), list)):
            seq = items if isinstance(items, list) else node["prefixItems"]
            cleaned = [_clean(i, ctx, stack, depth + 1) for i in seq if isinstance(i, dict)]
            uniq: list[JSON] = []
            for c in cleaned:
                if c not in uniq:
                    uniq.append(c)
            if len(uniq) == 1:
                out["items"] = uniq[0]
            elif uniq:
                out["items"] = {"anyOf": uniq}
                hints.append("tuple: item i follows schema i of items.anyOf")
            else:
                out["items"] = {"type": "STRING", "description": "Any value"}
        elif isinstance(items, dict):
            out["items"] = _clean(items, ctx, stack, depth + 1)
        else:
            out["items"] = {"type": "STRING", "description": "Any value"}
        if node.get("uniqueItems") is True:
            hints.append("items must be unique")

    # objects
    if t == "OBJECT":
        props_raw = node.get("properties")
        props: JSON = {}
        if isinstance(props_raw, dict):
            for name, sub in props_raw.items():
                if isinstance(name, str):
                    props[name] = _clean(sub, ctx, stack, depth + 1)
        if props:
            out["properties"] = props
        req = node.get("required")
        if isinstance(req, list) and props:
            names: list[str] = []
            for r in req:
                if isinstance(r, str) and r in props and r not in names:
                    names.append(r)
            if names:
                out["required"] = names
        extra = node.get("additionalProperties")
        if isinstance(extra, dict) and extra:
            sub = _clean(extra, ctx, stack, depth + 1)
            hints.append("additional properties allowed, each " + _describe(sub))
        elif extra is True or (isinstance(extra, dict) and not props):
            hints.append("additional properties allowed")
        pp = node.get("patternProperties")
        if isinstance(pp, dict) and pp:
            hints.append("property names matching " + ", ".join(str(k) for k in pp))

    if _useful_default(node):
        hints.append(f"default: {_hint(node['default'])}")
    if node.get("deprecated") is True:
        hints.append("deprecated")

    d2 = _with_hints(desc, hints)
    if d2:
        out["description"] = d2
    return out


def _useful_default(node: JSON) -> bool:
    """A default worth telling the model about (not null / empty / huge)."""
    if "default" not in node:
        return False
    d = node["default"]
    if d is None or d == "" or d == [] or d == {}:
        return False
    return len(_hint(d)) <= 80


def _applies(key: str, t: str) -> bool:
    if key.endswith("Items"):
        return t == "ARRAY"
    if key.endswith("Properties"):
        return t == "OBJECT"
    return t == "STRING"


def _bounds(node: JSON, t: str, out: JSON, hints: list[str]) -> None:
    lo = node.get("minimum") if _is_num(node.get("minimum")) else None
    hi = node.get("maximum") if _is_num(node.get("maximum")) else None
    xlo: Any = node.get("exclusiveMinimum")
    xhi: Any = node.get("exclusiveMaximum")
    # draft 4: boolean flags on minimum/maximum; draft 6+: numbers of their own
    if xlo is True and lo is not None:
        xlo, lo = lo, None
    if xhi is True and hi is not None:
        xhi, hi = hi, None
    if _is_num(xlo):
        if t == "INTEGER":
            cand = math.floor(xlo) + 1
        else:
            cand = xlo
            hints.append(f"must be greater than {_hint(xlo)}")
        lo = cand if lo is None else max(lo, cand)
    if _is_num(xhi):
        if t == "INTEGER":
            cand = math.ceil(xhi) - 1
        else:
            cand = xhi
            hints.append(f"must be less than {_hint(xhi)}")
        hi = cand if hi is None else min(hi, cand)
    if lo is not None:
        out["minimum"] = lo
    if hi is not None:
        out["maximum"] = hi


def _describe(s: JSON) -> str:
    if "anyOf" in s:
        return "one of " + " | ".join(_describe(a) for a in s["anyOf"] if isinstance(a, dict))
    t = str(s.get("type", "value")).lower()
    if t == "array" and isinstance(s.get("items"), dict):
        return f"array of {_describe(s['items'])}"
    return t


def _objectify_root(out: JSON) -> JSON:
    """Function parameters must be an OBJECT with properties."""
    if out.get("type") == "OBJECT":
        root = {k: v for k, v in out.items() if k != "nullable"}
        root.setdefault("properties", {})
        return root
    alts = out.get("anyOf")
    if isinstance(alts, list):
        objs = [a for a in alts if isinstance(a, dict) and a.get("type") == "OBJECT"]
        if objs:
            props: JSON = {}
            required: list[str] | None = None
            for o in objs:
                for name, sub in (o.get("properties") or {}).items():
                    props.setdefault(name, sub)
                req = [r for r in o.get("required") or [] if isinstance(r, str)]
                required = req if required is None else [r for r in required if r in req]
            merged: JSON = {"type": "OBJECT", "properties": props}
            if required:
                merged["required"] = required
            descs = [o["description"] for o in objs if isinstance(o.get("description"), str)]
            hint = f"one of {len(objs)} shapes" + (": " + " | ".join(descs) if descs else "")
            d = _with_hints(
                out.get("description") if isinstance(out.get("description"), str) else None, [hint]
            )
            if d:
                merged["description"] = d
            return merged
    root = {"type": "OBJECT", "properties": {}}
    if isinstance(out.get("description"), str):
        root["description"] = out["description"]
    return root
