"""Reading and editing a client's JSON settings file as the user wrote it: JSONC (`//` and `/* */`
comments, trailing commas; Gemini CLI, OpenCode and Kilo Code allow them) or plain JSON.

1. `scan` walks the text once, as a JSON tokenizer does: strings are read as strings (escapes
   included), so a comma, bracket or slash inside one is the user's text and never touched;
   outside strings, comments and trailing commas are blanked to spaces (newlines kept), so the
   result has the same length and every offset holds.
2. `load` parses that with the standard parser.
3. `set_path` / `delete_path` edit the text in place: only the bytes of the member we own
   change (a value replaced, a member added after the object's last one in the file's own
   indentation, a member removed with its comma); every other byte, comment and key order stays.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["JsonFileError", "MISSING", "scan", "strip_comments", "has_comments", "load", "get_path", "set_path",
           "delete_path"]


class JsonFileError(Exception):
    pass


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()  # "no such member": a path's value before connect added it


@dataclass(frozen=True)
class Scan:
    plain: str  # comments and trailing commas blanked, strings untouched
    comments: bool
    trailing_commas: bool


def scan(text: str) -> Scan:
    out = list(text)
    i, n = 0, len(text)
    comments = trailing = False
    comma: int | None = None  # a comma outside strings, waiting for the next token
    while i < n:
        c = text[i]
        if c == '"':
            comma = None
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            if i >= n:
                break  # unterminated: the parser reports it
            i += 1
            continue
        if c == "/" and text.startswith("//", i):
            comments = True
            j = text.find("\n", i)
            j = n if j < 0 else j
            out[i:j] = " " * (j - i)
            i = j
            continue
        if c == "/" and text.startswith("/*", i):
            comments = True
            j = text.find("*/", i + 2)
            if j < 0:
                raise JsonFileError("a /* comment is never closed")
            j += 2
            for k in range(i, j):
                if out[k] not in "\r\n":
                    out[k] = " "
            i = j
            continue
        if c == ",":
            comma = i
        elif c in "}]":
            if comma is not None:
                out[comma] = " "
                trailing = True
            comma = None
        elif c not in " \t\r\n":
            comma = None
        i += 1
    return Scan("".join(out), comments, trailing)


def strip_comments(text: str) -> str:
    """`text` with JSONC comments and trailing commas blanked out (same length, so offsets hold)."""
    return scan(text).plain


def has_comments(text: str) -> bool:
    return scan(text).comments


def load(text: str, where: str) -> dict[str, Any]:
    if not text.strip():
        return {}
    try:
        data = json.loads(strip_comments(text))
    except (ValueError, JsonFileError) as e:
        raise JsonFileError(f"{where} is not valid JSON ({e}); fix it or move it away, then connect again") from e
    if not isinstance(data, dict):
        raise JsonFileError(f"{where} does not hold a JSON object; fix it or move it away, then connect again")
    return data


def get_path(data: Any, path: tuple[str, ...]) -> Any:
    """The value at `path` in parsed data, or MISSING."""
    node = data
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return MISSING
        node = node[key]
    return node


# -- editing in place ---------------------------------------------------------------------------


def _indent_unit(text: str) -> str:
    m = re.search(r"\n([ \t]+)\S", text)
    if m is None:
        return "  "
    ws = m.group(1)
    return "\t" if ws.startswith("\t") else " " * min(len(ws), 8)


def _render(value: Any, unit: str, lead: str) -> str:
    """`value` as JSON laid out like the file (`unit` per level), its lines after the first
    starting with `lead` (the indentation of the member that holds it)."""
    indent: int | str = len(unit) if unit.strip(" ") == "" else unit
    return json.dumps(value, indent=indent, ensure_ascii=False).replace("\n", "\n" + lead)


def set_path(text: str, where: str, path: tuple[str, ...], value: Any) -> str:
    """`text` with the value at `path` (objects created as needed) set to `value`."""
    data = load(text, where)
    if get_path(data, path) == value and type(get_path(data, path)) is type(value):
        return text
    node: Any = data
    for depth, key in enumerate(path[:-1]):
        node = node.get(key) if isinstance(node, dict) else None
        if node is not None and not isinstance(node, dict):
            raise JsonFileError(f"{where}: {'.'.join(path[:depth + 1])} is not an object; fix it, then connect again")
        if node is None:
            break
    if not text.strip():
        text = "{}\n"
    return _set(text, path, value)


def delete_path(text: str, where: str, path: tuple[str, ...]) -> str:
    """`text` without the member at `path` (unchanged when there is none), with its comma; a
    member on lines of its own takes those lines along, comments around it stay."""
    if get_path(load(text, where), path) is MISSING:
        return text
    plain = scan(text).plain
    obj = _root(plain)
    for key in path[:-1]:
        found = _member(plain, obj, key)
        assert found is not None
        obj = found[1]
    found = _member(plain, obj, path[-1])
    assert found is not None
    kstart, _, end = found
    line_start = plain.rfind("\n", 0, kstart) + 1
    own_line = not plain[line_start:kstart].strip()
    start = line_start if own_line else kstart
    after = end
    while after < len(plain) and plain[after] in " \t\r\n" and text[after] != ",":
        after += 1
    comma_after = text[after:after + 1] == ","  # a trailing comma (blanked in `plain`) counts
    if comma_after:
        end = after + 1
    if own_line:
        nl = text.find("\n", end)
        if nl >= 0 and not text[end:nl].strip():
            end = nl + 1
    close = _close_of(plain, obj)
    if not text[obj + 1:start].strip() and not text[end:close].strip():  # it was the only member
        return text[:obj + 1] + text[close:]
    before = len(plain[:kstart].rstrip())
    if not comma_after and plain[before - 1] == ",":  # the last member: the comma before it goes
        return text[:before - 1] + (text[before:start] if own_line else "") + text[end:]
    return text[:start] + text[end:]


def _set(text: str, path: tuple[str, ...], value: Any) -> str:
    sc = scan(text)
    plain = sc.plain
    unit = _indent_unit(text)
    obj = _root(plain)
    for depth, key in enumerate(path):
        span = _member(plain, obj, key)
        if span is None:
            member: Any = value
            for k in reversed(path[depth + 1:]):
                member = {k: member}
            return _append(text, plain, obj, key, member, unit)
        _, vstart, vend = span
        if depth == len(path) - 1 or plain[vstart] != "{":
            lead = _line_indent(plain, span[0])
            rest: Any = value
            for k in reversed(path[depth + 1:]):
                rest = {k: rest}
            return text[:vstart] + _render(rest, unit, lead) + text[vend:]
        obj = vstart
    raise AssertionError("unreachable")


def _append(text: str, plain: str, obj: int, key: str, value: Any, unit: str) -> str:
    """`"key": value` as the object's last member, laid out like its other members."""
    close = _close_of(plain, obj)
    inner = plain[obj + 1:close]
    last = len(plain[:close].rstrip())  # just past the last token before the closing brace
    first_key = _skip_ws(plain, obj + 1)
    if inner.strip():
        lead = _line_indent(plain, first_key) if "\n" in plain[obj:first_key] else None
    else:
        lead = None
    if lead is None:
        lead = _line_indent(plain, obj) + unit
    one_line = bool(inner.strip()) and "\n" not in plain[obj:close]
    rendered = json.dumps(value, ensure_ascii=False) if one_line else _render(value, unit, lead)
    member = f"{json.dumps(key, ensure_ascii=False)}: {rendered}"
    if not inner.strip():
        if text[obj + 1:close].strip():  # only comments inside: they follow our member
            return text[:obj + 1] + f"\n{lead}{member}" + text[obj + 1:]
        return text[:obj + 1] + f"\n{lead}{member}\n{_line_indent(plain, obj)}" + text[close:]
    # a trailing comma the user wrote stays a trailing comma, after our member
    trailing = next((i for i in range(last, close) if text[i] == "," and plain[i] == " "), None)
    anchor, sep, suffix = (trailing + 1, "", ",") if trailing is not None else (last, ",", "")
    if one_line:
        return text[:anchor] + f"{sep} {member}{suffix}" + text[anchor:]
    nl = plain.find("\n", anchor)
    if 0 <= nl < close:  # after the rest of the last member's line (a comment there stays with it)
        return text[:anchor] + sep + text[anchor:nl] + f"\n{lead}{member}{suffix}" + text[nl:]
    return text[:anchor] + f"{sep}\n{lead}{member}{suffix}" + text[anchor:]


def _line_indent(plain: str, pos: int) -> str:
    start = plain.rfind("\n", 0, pos) + 1
    m = re.match(r"[ \t]*", plain[start:pos])
    return m.group(0) if m else ""


def _root(plain: str) -> int:
    start = _skip_ws(plain, 0)
    if start >= len(plain) or plain[start] != "{":
        raise JsonFileError("the file does not hold a JSON object")
    return start


def _skip_ws(s: str, i: int) -> int:
    while i < len(s) and s[i] in " \t\r\n":
        i += 1
    return i


def _string_end(s: str, i: int) -> int:
    j = i + 1
    while s[j] != '"':
        j += 2 if s[j] == "\\" else 1
    return j + 1


def _value_end(s: str, i: int) -> int:
    if s[i] == '"':
        return _string_end(s, i)
    if s[i] in "{[":
        return _close_of(s, i) + 1
    m = re.compile(r"[^,}\]\s]+").match(s, i)
    return m.end() if m else i


def _close_of(s: str, i: int) -> int:
    depth, j = 0, i
    while j < len(s):
        c = s[j]
        if c == '"':
            j = _string_end(s, j)
            continue
        if c in "{[":
            depth += 1
        elif c in "}]":
            depth -= 1
            if depth == 0:
                return j
        j += 1
    return len(s) - 1


def _member(s: str, obj: int, key: str) -> tuple[int, int, int] | None:
    """(key start, value start, value end) of `key` among the direct members of the object
    opening at `obj`."""
    i = _skip_ws(s, obj + 1)
    while i < len(s) and s[i] != "}":
        kend = _value_end(s, i)
        k = json.loads(s[i:kend])
        j = _skip_ws(s, kend)
        j = _skip_ws(s, j + 1)  # past ':'
        vend = _value_end(s, j)
        if k == key:
            return i, j, vend
        i = _skip_ws(s, vend)
        if i < len(s) and s[i] == ",":
            i = _skip_ws(s, i + 1)
    return None
