"""Anthropic's typed tools (`"type": "bash_20250124"`, `"web_fetch_20250910"`, ...) -> what the
upstream model is offered. Pure code.

A Messages request may declare, beside its own tools (no `type`, or `custom`), tools whose
schema Anthropic defines and whose `type` names a version:
1. Client tools the client runs itself (`bash_*`, `text_editor_*`): offered as ordinary
   functions with the schema Anthropic documents for them, under the tool's `name` (`bash`,
   `str_replace_based_edit_tool`, ...), so a call comes back as a `tool_use` the client knows.
2. `web_search_*`: Google's search grounding (protocols/search.py, proxy/search.py).
3. Every other typed tool (server tools such as `web_fetch_*`, `code_execution_*`, and client
   tools the upstream cannot drive, such as `computer_*` or `memory_*`): a 400 naming it. None is
   ever left out without a word: the model would answer as if the tool were there.
"""

from __future__ import annotations

from typing import Any

from trayproxy.json_types import JSON
from trayproxy.protocols.errors import RequestError

__all__ = ["Defined", "classify", "is_search"]

_BASH: JSON = {
    "type": "object",
    "properties": {
        "command": {"type": "string", "description": "The bash command to run."},
        "restart": {"type": "boolean", "description": "Restart the bash session instead of running a command."},
    },
}
_EDITOR_COMMANDS = ["view", "create", "str_replace", "insert"]


def _editor(commands: list[str]) -> JSON:
    return {
        "type": "object",
        "properties": {
            "command": {"type": "string", "enum": commands, "description": "The command to run."},
            "path": {"type": "string", "description": "Absolute path to the file or directory."},
            "file_text": {"type": "string", "description": "create: the content of the new file."},
            "old_str": {"type": "string", "description": "str_replace: the exact text to replace (unique in the file)."},
            "new_str": {"type": "string", "description": "str_replace: the new text; insert: the text to insert."},
            "insert_line": {"type": "integer", "description": "insert: the line after which to insert (0: the top)."},
            "view_range": {"type": "array", "items": {"type": "integer"},
                           "description": "view: [first line, last line] (1-based; -1: to the end)."},
        },
        "required": ["command", "path"],
    }


_BASH_DESCRIPTION = ("Run a command in a persistent bash shell. State (working directory, variables) is kept "
                     "between calls; `restart` starts a fresh shell.")
_EDITOR_DESCRIPTION = ("View, create and edit text files: `view` shows a file with line numbers or lists a "
                       "directory, `create` writes a new file, `str_replace` replaces one exact occurrence, "
                       "`insert` adds text after a line.")


class Defined:
    """A client tool Anthropic defines, as the function the upstream model is offered."""

    __slots__ = ("name", "description", "schema")

    def __init__(self, name: Any, description: str, schema: JSON) -> None:
        self.name = name
        self.description = description
        self.schema = schema


def is_search(ttype: Any) -> bool:
    return isinstance(ttype, str) and ttype.startswith("web_search")


def classify(tool: JSON, where: str) -> Defined:
    """For a typed tool (not `custom`, not `web_search_*`): the function it is offered as, or a
    RequestError naming it when the upstream cannot serve it."""
    ttype = tool.get("type")
    name = tool.get("name")
    if isinstance(ttype, str) and ttype.startswith("bash_"):
        return Defined(name, _BASH_DESCRIPTION, _BASH)
    if isinstance(ttype, str) and ttype.startswith("text_editor_"):
        # the Claude 4 editors (2025-04 on) dropped `undo_edit`; the earlier ones still offer it
        old = ttype in ("text_editor_20241022", "text_editor_20250124")
        return Defined(name, _EDITOR_DESCRIPTION, _editor(_EDITOR_COMMANDS + (["undo_edit"] if old else [])))
    shown = ttype if isinstance(ttype, str) else repr(ttype)
    raise RequestError(
        f"The tool type `{shown}` is not available through trayproxy: Google's Cloud Code has no "
        "counterpart for it and the model would answer as if it were there. Remove it from `tools`, "
        "or declare a function tool of your own that your program runs.",
        field=f"{where}.type")
