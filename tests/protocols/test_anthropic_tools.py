"""protocols.anthropic_tools: Anthropic's typed tools, offered as functions or refused by name."""

from __future__ import annotations

import pytest

from trayproxy.protocols import anthropic_tools as at
from trayproxy.protocols.errors import RequestError


def test_bash_is_a_function_under_its_own_name() -> None:
    d = at.classify({"type": "bash_20250124", "name": "bash"}, "tools[0]")
    assert d is not None and d.name == "bash" and set(d.schema["properties"]) == {"command", "restart"}


@pytest.mark.parametrize(("ttype", "undo"), [("text_editor_20241022", True), ("text_editor_20250124", True),
                                              ("text_editor_20250429", False), ("text_editor_20250728", False)])
def test_text_editors_offer_their_versions_commands(ttype: str, undo: bool) -> None:
    d = at.classify({"type": ttype, "name": "str_replace_based_edit_tool"}, "tools[2]")
    assert d is not None
    commands = d.schema["properties"]["command"]["enum"]
    assert {"view", "create", "str_replace", "insert"} <= set(commands)
    assert ("undo_edit" in commands) is undo


@pytest.mark.parametrize("ttype", ["web_fetch_20250910", "code_execution_20250825", "computer_20250124",
                                   "memory_20250818", "tool_search_tool_regex_20251119", 7])
def test_everything_else_is_a_400_naming_it(ttype: object) -> None:
    with pytest.raises(RequestError) as e:
        at.classify({"type": ttype, "name": "x"}, "tools[3]")
    assert e.value.status == 400 and e.value.field == "tools[3].type" and str(ttype) in e.value.message


def test_search_types() -> None:
    assert at.is_search("web_search_20250305") and not at.is_search("web_fetch_20250910") and not at.is_search(None)
