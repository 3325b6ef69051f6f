"""core.tool_schema: the schema a Claude upstream gets (unions flattened, null -> optional, limits
in the description) and the one a Gemini upstream gets (clean_schema kept, unions included), with
the fake upstream (a model of Google's and Claude's validation) as the independent judge."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings

from tests.fakes.validation import GoogleError, Issues, check_claude_tools, check_schema
from tests.protocols.test_schema import _values
from trayproxy.protocols.core.tool_schema import CLAUDE_SCHEMA_KEYS, claude_schema, tool_schema
from trayproxy.protocols.schema import clean_schema

#: What zod / pydantic toolkits send: unions, a type list, const unions, allOf, limits, formats.
UNION_TOOL = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {
        "query": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[a-z]+$",
                  "description": "What to look for"},
        "limit": {"type": ["integer", "null"], "minimum": 1, "maximum": 50, "default": 10},
        "target": {"anyOf": [{"type": "string", "format": "uri"},
                             {"type": "object", "properties": {"path": {"type": "string"}, "line": {"type": "integer"}},
                              "required": ["path"]}]},
        "mode": {"oneOf": [{"const": "fast"}, {"const": "slow"}]},
        "tags": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "number"}]}, "minItems": 1},
        "filters": {"allOf": [{"type": "object", "properties": {"a": {"type": "string"}}},
                              {"properties": {"b": {"type": "number"}}}]},
        "when": {"type": "string", "format": "date-time"},
        "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "description": "Free text"},
    },
    "required": ["query", "limit", "target", "note"],
    "additionalProperties": False,
}

CLAUDE_EXPECTED = {
    "type": "OBJECT",
    "properties": {
        "query": {"type": "STRING",
                  "description": "What to look for (pattern: ^[a-z]+$; at least 1 characters; at most 200 characters)"},
        "limit": {"type": "INTEGER", "description": "Default: 10 (at least 1; at most 50)"},
        "target": {"type": "OBJECT",
                   "properties": {"path": {"type": "STRING"}, "line": {"type": "INTEGER"}},
                   "required": ["path"],
                   "description": "Also accepts a string"},
        "mode": {"type": "STRING", "enum": ["fast", "slow"]},
        "tags": {"type": "ARRAY", "items": {"type": "STRING", "description": "Also accepts a number"},
                 "description": "At least 1 items"},
        "filters": {"type": "OBJECT", "properties": {"a": {"type": "STRING"}, "b": {"type": "NUMBER"}}},
        "when": {"type": "STRING", "description": "Format: date-time"},
        "note": {"type": "STRING", "description": "Free text"},
    },
    # limit and note may be null: optional now, since Claude cannot be told "or null"
    "required": ["query", "target"],
}

GEMINI_EXPECTED = {
    "type": "OBJECT",
    "properties": {
        "query": {"type": "STRING", "minLength": 1, "maxLength": 200, "description": "What to look for (pattern: ^[a-z]+$)"},
        "limit": {"type": "INTEGER", "minimum": 1, "maximum": 50, "description": "Default: 10", "nullable": True},
        "target": {"anyOf": [
            {"type": "STRING", "description": "Format: uri"},
            {"type": "OBJECT", "properties": {"path": {"type": "STRING"}, "line": {"type": "INTEGER"}},
             "required": ["path"]},
        ]},
        "mode": {"type": "STRING", "enum": ["fast", "slow"]},
        "tags": {"type": "ARRAY", "minItems": 1, "items": {"anyOf": [{"type": "STRING"}, {"type": "NUMBER"}]}},
        "filters": {"type": "OBJECT", "properties": {"a": {"type": "STRING"}, "b": {"type": "NUMBER"}}},
        "when": {"type": "STRING", "format": "date-time"},
        "note": {"type": "STRING", "description": "Free text", "nullable": True},
    },
    "required": ["query", "limit", "target", "note"],
}


def _claude_accepts(params: dict[str, Any]) -> None:
    check_claude_tools([{"functionDeclarations": [{"name": "t", "parameters": params}]}])
    issues = Issues()
    check_schema(params, "parameters", issues)
    issues.raise_if_any()


def _only_claude_keys(node: Any) -> None:
    assert isinstance(node, dict) and set(node) <= CLAUDE_SCHEMA_KEYS, node
    for sub in (node.get("properties") or {}).values():
        _only_claude_keys(sub)
    if "items" in node:
        _only_claude_keys(node["items"])


def test_claude_gets_one_branch_optional_nulls_and_limits_in_the_description() -> None:
    got = tool_schema(UNION_TOOL, "claude-sonnet-4-6")
    assert got == CLAUDE_EXPECTED
    _claude_accepts(got)


def test_gemini_keeps_what_it_accepts() -> None:
    got = tool_schema(UNION_TOOL, "gemini-3-flash")
    assert got == GEMINI_EXPECTED == clean_schema(UNION_TOOL)
    with pytest.raises(GoogleError) as e:  # and that is exactly what Claude refuses
        _claude_accepts(got)
    assert e.value.status == 400 and e.value.message.startswith("tools.0.custom.input_schema:")


def test_richest_branch_wins_and_ties_prefer_objects_then_order() -> None:
    cleaned = {"type": "OBJECT", "properties": {
        "x": {"anyOf": [{"type": "STRING"}, {"type": "ARRAY", "items": {"type": "STRING"}}]},
        "y": {"anyOf": [{"type": "INTEGER"}, {"type": "BOOLEAN"}]},
    }}
    got = claude_schema(cleaned)
    assert got["properties"]["x"] == {"type": "ARRAY", "items": {"type": "STRING"}, "description": "Also accepts a string"}
    assert got["properties"]["y"] == {"type": "INTEGER", "description": "Also accepts a boolean"}


def test_root_that_is_not_an_object_stays_an_object() -> None:
    assert claude_schema({"anyOf": [{"type": "STRING"}, {"type": "NUMBER"}]}) == {
        "type": "OBJECT", "properties": {}, "description": "Also accepts a number"}


@settings(max_examples=300, deadline=None)
@given(_values)
def test_fuzz_claude_output_is_always_accepted(schema: Any) -> None:
    got = tool_schema(schema, "claude-opus-4-6-thinking")
    assert got["type"] == "OBJECT"
    _only_claude_keys(got)
    _claude_accepts(got)
