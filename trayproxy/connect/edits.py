"""What connect changes in a client's file, value by value, so undo can take back exactly that.

A connector edits a file through `Editor` (one per file and format: `json` for JSON/JSONC,
`dotenv`, `toml`): each `set`/`delete` changes the text in place and records a `Change`, the
key path with the value it had before (`MISSING`: connect added it) and a hash of the value
connect put there (`MISSING`: connect removed it). Undo (backup.py) reads each key of the
file as it is now and puts the old value back only where the value is still the one connect
wrote; whatever the user (or the client itself) changed since stays as they have it.

Only hashes of the new values are kept: the key connect writes never reaches the backup's
manifest.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from trayproxy.connect import dotenv, jsonfile
from trayproxy.connect.jsonfile import MISSING

__all__ = ["Change", "Editor", "MISSING", "value_hash", "read", "write", "is_empty", "same"]

FORMATS = ("json", "dotenv", "toml")


def value_hash(value: Any) -> str | None:
    """A stable hash of a value (None for MISSING)."""
    if value is MISSING:
        return None
    return hashlib.sha256(json.dumps(value, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


@dataclass(frozen=True)
class Change:
    key: tuple[str, ...]
    old: Any  # MISSING: the key was not there before connect
    new_hash: str | None  # None: connect removed the key

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": list(self.key), "new": self.new_hash}
        if self.old is not MISSING:
            out["old"] = self.old
        return out

    @staticmethod
    def from_json(d: dict[str, Any]) -> Change:
        return Change(tuple(str(k) for k in d["key"]), d["old"] if "old" in d else MISSING, d.get("new"))


# -- one format's read / write -------------------------------------------------------------


def _toml_doc(text: str) -> Any:
    import tomlkit

    return tomlkit.parse(text)


def _plain(value: Any) -> Any:
    unwrap = getattr(value, "unwrap", None)
    return unwrap() if callable(unwrap) else value


def read(fmt: str, text: str, key: tuple[str, ...], where: str = "the file") -> Any:
    """The value at `key` in `text`, or MISSING."""
    if fmt == "json":
        return jsonfile.get_path(jsonfile.load(text, where), key)
    if fmt == "dotenv":
        return dotenv.parse(text).get(key[0], MISSING)
    node: Any = _toml_doc(text)
    for k in key:
        if not isinstance(node, dict) or k not in node:
            return MISSING
        node = node[k]
    return _plain(node)


def write(fmt: str, text: str, key: tuple[str, ...], value: Any, where: str = "the file") -> str:
    """`text` with `key` set to `value` (removed for MISSING), everything else as it was."""
    if fmt == "json":
        if value is MISSING:
            return jsonfile.delete_path(text, where, key)
        return jsonfile.set_path(text, where, key, value)
    if fmt == "dotenv":
        if value is MISSING:
            return dotenv.remove(text, key[0])
        return dotenv.merge(text, {key[0]: str(value)})
    import tomlkit

    doc = _toml_doc(text)
    node: Any = doc
    for i, k in enumerate(key[:-1]):
        nxt = node.get(k)
        if nxt is None:
            if value is MISSING:
                return text
            # a table that only holds tables is written as [a.b], not [a] then [a.b]
            nxt = tomlkit.table(is_super_table=i < len(key) - 2)
            node[k] = nxt
        node = nxt
    if value is MISSING:
        if key[-1] in node:
            del node[key[-1]]
            out = tomlkit.dumps(doc)  # a removed table leaves its blank line behind
            return out.rstrip("\n") + "\n" if out.strip() else ""
    elif _plain(node.get(key[-1], MISSING)) != value:
        node[key[-1]] = value
    return tomlkit.dumps(doc)


def is_empty(fmt: str, text: str) -> bool:
    """Nothing left but what an empty file of this format holds (so a file connect created can go)."""
    if not text.strip():
        return True
    if fmt == "json":
        return jsonfile.load(text, "the file") == {} and not jsonfile.has_comments(text)
    if fmt == "dotenv":
        return all(not ln.strip() for ln in text.splitlines())
    return not _toml_doc(text).unwrap() and "#" not in text


def same(fmt: str, a: str, b: str, where: str = "the file") -> bool:
    """Both texts hold the same settings (layout and comments aside)."""
    try:
        if fmt == "json":
            return jsonfile.load(a, where) == jsonfile.load(b, where)
        if fmt == "dotenv":
            return dotenv.parse(a) == dotenv.parse(b)
        return bool(_toml_doc(a).unwrap() == _toml_doc(b).unwrap())
    except Exception:
        return False


# -- recording edits -----------------------------------------------------------------------


@dataclass
class Editor:
    """Edits one file's text, recording each change (see the module comment)."""

    fmt: str
    text: str
    where: str
    changes: list[Change] = field(default_factory=list)

    def __post_init__(self) -> None:
        assert self.fmt in FORMATS, self.fmt

    def get(self, key: tuple[str, ...]) -> Any:
        return read(self.fmt, self.text, key, self.where)

    def set(self, key: tuple[str, ...], value: Any) -> None:
        """Set `key` (objects/tables created as needed). What is recorded is the shallowest key
        that did not exist (so undo removes a whole block connect added, not just its leaves)."""
        if self.fmt != "dotenv":
            for depth in range(1, len(key)):
                if self.get(key[:depth]) is MISSING:
                    nested: Any = value
                    for k in reversed(key[depth:]):
                        nested = {k: nested}
                    self._record(key[:depth], nested)
                    self.text = write(self.fmt, self.text, key, value, self.where)
                    return
        self._record(key, value)
        self.text = write(self.fmt, self.text, key, value, self.where)

    def delete(self, key: tuple[str, ...]) -> None:
        if self.get(key) is MISSING:
            return
        self._record(key, MISSING)
        self.text = write(self.fmt, self.text, key, MISSING, self.where)

    def _record(self, key: tuple[str, ...], new: Any) -> None:
        old = self.get(key)
        if old is not MISSING and value_hash(old) == value_hash(new):
            return
        self.changes.append(Change(key, old, value_hash(new)))
