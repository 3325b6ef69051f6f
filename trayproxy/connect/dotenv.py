"""Merging variables into a dotenv file (Gemini CLI's ~/.gemini/.env): our keys get their new
value on the line where they are (or are appended), every other line and comment stays; `remove`
takes a variable's lines out again (undo)."""

from __future__ import annotations

import re

__all__ = ["merge", "parse", "remove"]

_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")


def _unquote(v: str) -> str:
    v = v.strip()
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
        return v[1:-1]
    return re.sub(r"\s+#.*$", "", v)


def parse(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        m = _LINE.match(line)
        if m and not line.lstrip().startswith("#"):
            out[m.group(1)] = _unquote(m.group(2))
    return out


def merge(text: str, values: dict[str, str]) -> str:
    lines = text.splitlines(keepends=True)
    seen: set[str] = set()
    for i, line in enumerate(lines):
        m = _LINE.match(line)
        if m and not line.lstrip().startswith("#") and m.group(1) in values:
            key = m.group(1)
            end = "\n" if line.endswith("\n") else ""
            lines[i] = f"{key}={values[key]}{end}"
            seen.add(key)
    out = "".join(lines)
    missing = [k for k in values if k not in seen]
    if missing:
        if out and not out.endswith("\n"):
            out += "\n"
        out += "".join(f"{k}={values[k]}\n" for k in missing)
    return out


def remove(text: str, key: str) -> str:
    """`text` without the lines that set `key`."""
    lines = text.splitlines(keepends=True)
    kept = [ln for ln in lines
            if not ((m := _LINE.match(ln)) and not ln.lstrip().startswith("#") and m.group(1) == key)]
    return "".join(kept)
