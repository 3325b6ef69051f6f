"""Reading and merging a client's JSON settings file, comments included (Gemini CLI allows `//` and
`/* */` comments in settings.json; Claude Code's is plain JSON).

A file without comments is rewritten with the user's key order and the file's own indent. A file
with comments is edited in place: only the values we own change, every other byte stays."""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["JsonFileError", "strip_comments", "load", "set_path"]


class JsonFileError(Exception):
    pass


def strip_comments(text: str) -> str:
    """`text` with JSONC comments and trailing commas blanked out (same length, so offsets hold)."""
    out = list(text)
    i, n = 0, len(text)
    in_str = False
    while i < n:
        c = text[i]
        if in_str:
            if c == "\\":
                i += 2
                continue
            if c == '"':
                in_str = False
        elif c == '"':
            in_str = True
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            for k in range(i, j):
                out[k] = " "
            i = j
            continue
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            for k in range(i, j):
                if out[k] != "\n":
                    out[k] = " "
            i = j
            continue
        i += 1
    s = "".join(out)
    return re.sub(r",(\s*[}\]])", lambda m: " " + m.group(1), s)


def has_comments(text: str) -> bool:
    return strip_comments(text) != re.sub(r",(\s*[}\]])", lambda m: " " + m.group(1), text)


def load(text: str, where: str) -> dict[str, Any]:
    if not text.strip():
        return {}
    try:
        data = json.loads(strip_comments(text))
    except ValueError as e:
        raise JsonFileError(f"{where} is not valid JSON ({e}); fix it or move it away, then connect again") from e
    if not isinstance(data, dict):
        raise JsonFileError(f"{where} does not hold a JSON object; fix it or move it away, then connect again")
    return data


def _indent(text: str) -> int:
    m = re.search(r"\n( +)\"", text)
    return len(m.group(1)) if m else 2


def set_path(text: str, where: str, path: tuple[str, ...], value: Any) -> str:
    """`text` with the value at `path` (objects created as needed) set to `value`."""
    data = load(text, where)
    node: Any = data
    for key in path[:-1]:
        nxt = node.get(key)
        if nxt is None:
            nxt = node[key] = {}
        if not isinstance(nxt, dict):
            raise JsonFileError(f"{where}: {'.'.join(path[:-1])} is not an object; fix it, then connect again")
        node = nxt
    if node.get(path[-1]) == value:
        return text
    node[path[-1]] = value
    if not has_comments(text):
        return json.dumps(data, indent=_indent(text), ensure_ascii=False) + "\n"
    edited = _edit_in_place(text, path, value)
    if edited is None:
        raise JsonFileError(f"{where} has comments and no place to put {'.'.join(path)} without losing them; "
                            f"add \"{path[-1]}\" there yourself or remove the comments, then connect again")
    return edited


def _edit_in_place(text: str, path: tuple[str, ...], value: Any) -> str | None:
    """Replace an existing string/number/bool value at `path`, or add the missing tail of `path`
    as the first member of the deepest object that exists. None when neither is possible."""
    plain = strip_comments(text)
    start = plain.find("{")
    if start < 0:
        return None
    obj_start = start
    for depth, key in enumerate(path):
        span = _member(plain, obj_start, key)
        if span is None:
            rest = path[depth:]
            member: Any = value
            for k in reversed(rest[1:]):
                member = {k: member}
            insert = f"\n{' ' * _indent(text) * (depth + 1)}{json.dumps(rest[0])}: {json.dumps(member)}"
            close = _close_of(plain, obj_start)
            empty = plain[obj_start + 1:close].strip() == ""
            return text[:obj_start + 1] + insert + ("" if empty else ",") + text[obj_start + 1:]
        vstart, vend = span
        if depth == len(path) - 1:
            if plain[vstart] in "{[":
                return None
            return text[:vstart] + json.dumps(value) + text[vend:]
        if plain[vstart] != "{":
            return None
        obj_start = vstart
    return None


def _skip_ws(s: str, i: int) -> int:
    while i < len(s) and s[i] in " \t\r\n":
        i += 1
    return i


def _value_end(s: str, i: int) -> int:
    if s[i] == '"':
        j = i + 1
        while s[j] != '"':
            j += 2 if s[j] == "\\" else 1
        return j + 1
    if s[i] in "{[":
        return _close_of(s, i) + 1
    m = re.compile(r"[^,}\]\s]+").match(s, i)
    return m.end() if m else i


def _close_of(s: str, i: int) -> int:
    depth, j, in_str = 0, i, False
    while j < len(s):
        c = s[j]
        if in_str:
            if c == "\\":
                j += 1
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
        elif c in "{[":
            depth += 1
        elif c in "}]":
            depth -= 1
            if depth == 0:
                return j
        j += 1
    return len(s) - 1


def _member(s: str, obj: int, key: str) -> tuple[int, int] | None:
    """Span of the value of `key` among the direct members of the object opening at `obj`."""
    i = _skip_ws(s, obj + 1)
    while i < len(s) and s[i] != "}":
        kend = _value_end(s, i)
        k = json.loads(s[i:kend])
        i = _skip_ws(s, kend)
        i = _skip_ws(s, i + 1)  # past ':'
        vend = _value_end(s, i)
        if k == key:
            return i, vend
        i = _skip_ws(s, vend)
        if i < len(s) and s[i] == ",":
            i = _skip_ws(s, i + 1)
    return None
