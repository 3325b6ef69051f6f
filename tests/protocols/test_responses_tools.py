"""responses_tools: where a Responses request declares tools, the names they are offered under,
and the way back to the client's own name and namespace."""

from __future__ import annotations

import pytest

from trayproxy.protocols.errors import RequestError
from trayproxy.protocols.responses_tools import ToolRef, collect

FN = {"type": "object", "properties": {}}


def ns(name: str, *tools: dict) -> dict:
    return {"type": "namespace", "name": name, "tools": list(tools)}


def fn(name: str) -> dict:
    return {"type": "function", "name": name, "parameters": FN}


def test_top_level_additional_tools_and_loaded_tools_are_all_declared() -> None:
    items = [{"type": "additional_tools", "tools": [ns("functions", {"type": "custom", "name": "exec"}, fn("wait"))]},
             {"type": "tool_search_output", "call_id": "c", "tools": [fn("calendar_list")]}]
    ts = collect([fn("shell"), {"type": "web_search", "external_web_access": False}], items)
    assert [t["function"]["name"] for t in ts.chat] == ["shell", "exec", "wait", "calendar_list"]
    assert ts.refs["exec"] == ToolRef("custom", "exec", "functions")
    assert ts.chat[1]["function"]["parameters"]["required"] == ["input"]
    assert ts.search == {"type": "web_search", "external_web_access": False}


def test_a_later_declaration_replaces_an_earlier_one() -> None:
    first = {"type": "additional_tools", "tools": [ns("clock", {**fn("sleep"), "description": "old"})]}
    second = {"type": "additional_tools", "tools": [ns("clock", {**fn("sleep"), "description": "new"})]}
    ts = collect(None, [first, second])
    assert [t["function"].get("description") for t in ts.chat] == ["new"]


def test_clashing_names_are_qualified_and_found_again() -> None:
    ts = collect([fn("wait")], [{"type": "additional_tools", "tools": [ns("collaboration", fn("wait")),
                                                                       ns("clock", fn("sleep"))]}])
    assert sorted(ts.refs) == ["collaboration__wait", "sleep", "wait"]
    assert ts.offered("collaboration", "wait") == "collaboration__wait"
    assert ts.offered("functions", "wait") == ts.offered(None, "wait") == "wait"
    assert ts.offered("clock", "sleep") == "sleep"
    assert ts.offered("gone", "tool") == "gone__tool"  # no longer declared: named the same way


def test_bad_declarations_are_refused_by_field() -> None:
    with pytest.raises(RequestError) as e:
        collect(None, [{"type": "additional_tools", "tools": [ns("x", {"type": "custom"})]}])
    assert e.value.field == "input[0].tools[0].tools[0].name"
