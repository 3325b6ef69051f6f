"""clean_schema: realistic client schemas in, the exact Gemini schema out, plus invariants
(only allowed keywords, never raises) over arbitrary input."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trayproxy.protocols.schema import GEMINI_SCHEMA_KEYS, clean_schema

GEMINI_TYPES = {"STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT"}


def check_valid(s: Any, *, root: bool = True) -> None:
    """What the upstream demands of every node we send."""
    assert isinstance(s, dict)
    assert set(s) <= GEMINI_SCHEMA_KEYS, set(s) - GEMINI_SCHEMA_KEYS
    if root:
        assert s["type"] == "OBJECT"
        assert isinstance(s["properties"], dict)
    if "anyOf" in s:
        assert "type" not in s
        assert isinstance(s["anyOf"], list) and len(s["anyOf"]) >= 2
        for a in s["anyOf"]:
            check_valid(a, root=False)
    else:
        assert s["type"] in GEMINI_TYPES
    if "enum" in s:
        assert s["type"] == "STRING"
        assert s["enum"] and all(isinstance(v, str) for v in s["enum"])
    if "format" in s:
        assert (s["type"], s["format"]) in {
            ("STRING", "enum"),
            ("STRING", "date-time"),
            ("NUMBER", "float"),
            ("NUMBER", "double"),
            ("INTEGER", "int32"),
            ("INTEGER", "int64"),
        }
    if s.get("type") == "ARRAY":
        check_valid(s["items"], root=False)
    for sub in (s.get("properties") or {}).values():
        check_valid(sub, root=False)
    if "required" in s:
        assert s["required"] and set(s["required"]) <= set(s.get("properties") or {})
    if "description" in s:
        assert isinstance(s["description"], str) and s["description"]
    if "nullable" in s:
        assert s["nullable"] is True
    for key in ("minimum", "maximum"):
        if key in s:
            assert isinstance(s[key], (int, float)) and not isinstance(s[key], bool)


def golden(src: Any, expected: Any) -> None:
    got = clean_schema(src)
    assert got == expected, orjson.dumps(got, option=orjson.OPT_INDENT_2).decode()
    check_valid(got)


# -- realistic schemas ----------------------------------------------------------------------------

# pydantic v2 `model_json_schema()` output (frozen here so pydantic upgrades do not move it)
PYDANTIC_PERSON = orjson.loads(
    rb"""{"$defs": {"Address": {"properties": {"street": {"title": "Street", "type": "string"},
    "zip": {"anyOf": [{"pattern": "^\\d{5}$", "type": "string"}, {"type": "null"}], "default": null,
    "title": "Zip"}}, "required": ["street"], "title": "Address", "type": "object"},
    "Priority": {"enum": ["low", "high"], "title": "Priority", "type": "string"}},
    "properties": {"name": {"description": "Full name", "minLength": 1, "title": "Name", "type": "string"},
    "age": {"exclusiveMaximum": 150, "minimum": 0, "title": "Age", "type": "integer"},
    "home": {"$ref": "#/$defs/Address"},
    "other": {"default": [], "items": {"$ref": "#/$defs/Address"}, "title": "Other", "type": "array"},
    "priority": {"$ref": "#/$defs/Priority", "default": "low"},
    "kind": {"enum": ["a", "b"], "title": "Kind", "type": "string"},
    "score": {"anyOf": [{"type": "number"}, {"type": "null"}], "default": null, "title": "Score"}},
    "required": ["name", "age", "home", "kind"], "title": "Person", "type": "object"}"""
)

ADDRESS = {
    "type": "OBJECT",
    "title": "Address",
    "properties": {
        "street": {"type": "STRING", "title": "Street"},
        "zip": {"type": "STRING", "description": "Pattern: ^\\d{5}$", "title": "Zip", "nullable": True},
    },
    "required": ["street"],
}


def test_pydantic_defs_refs_optional_and_bounds() -> None:
    golden(
        PYDANTIC_PERSON,
        {
            "type": "OBJECT",
            "title": "Person",
            "properties": {
                "name": {"type": "STRING", "title": "Name", "minLength": 1, "description": "Full name"},
                # exclusiveMaximum 150 on an integer -> maximum 149
                "age": {"type": "INTEGER", "title": "Age", "minimum": 0, "maximum": 149},
                "home": ADDRESS,
                "other": {"type": "ARRAY", "title": "Other", "items": ADDRESS},
                "priority": {
                    "type": "STRING",
                    "title": "Priority",
                    "enum": ["low", "high"],
                    "description": "Default: low",
                },
                "kind": {"type": "STRING", "title": "Kind", "enum": ["a", "b"]},
                "score": {"type": "NUMBER", "title": "Score", "nullable": True},
            },
            "required": ["name", "age", "home", "kind"],
        },
    )


def test_pydantic_recursive_model_root_ref() -> None:
    tree = {
        "$defs": {
            "Tree": {
                "properties": {
                    "value": {"title": "Value", "type": "integer"},
                    "children": {"default": [], "items": {"$ref": "#/$defs/Tree"}, "type": "array"},
                },
                "required": ["value"],
                "title": "Tree",
                "type": "object",
            }
        },
        "$ref": "#/$defs/Tree",
    }
    golden(
        tree,
        {
            "type": "OBJECT",
            "title": "Tree",
            "properties": {
                "value": {"type": "INTEGER", "title": "Value"},
                "children": {
                    "type": "ARRAY",
                    "items": {
                        "type": "OBJECT",
                        "description": "Recursive reference to Tree: an object of the same shape",
                    },
                },
            },
            "required": ["value"],
        },
    )


def test_recursion_via_root_pointer_and_definitions() -> None:
    s = {
        "type": "object",
        "definitions": {"node": {"type": "object", "properties": {"next": {"$ref": "#/definitions/node"}}}},
        "properties": {"self": {"$ref": "#"}, "list": {"$ref": "#/definitions/node"}},
    }
    out = clean_schema(s)
    check_valid(out)
    assert out["properties"]["self"] == {
        "type": "OBJECT",
        "description": "Recursive reference to root: an object of the same shape",
    }
    assert out["properties"]["list"]["properties"]["next"]["type"] == "OBJECT"
    assert "Recursive" in out["properties"]["list"]["properties"]["next"]["description"]


# zod-to-json-schema output (draft-07, nullable as type arrays, unions, additionalProperties false)
ZOD = {
    "type": "object",
    "properties": {
        "query": {"type": "string", "minLength": 1, "maxLength": 200},
        "limit": {"type": "integer", "exclusiveMinimum": 0, "maximum": 50, "default": 10},
        "cursor": {"type": ["string", "null"]},
        "sort": {"anyOf": [{"type": "string", "const": "asc"}, {"type": "string", "const": "desc"}]},
        "filter": {
            "anyOf": [
                {"type": "string"},
                {"type": "array", "items": {"type": "string"}},
            ],
            "description": "Tag or tags",
        },
        "since": {"type": "string", "format": "date-time"},
        "email": {"type": "string", "format": "email"},
        "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True, "minItems": 1},
        "meta": {"type": "object", "additionalProperties": {"type": "string"}},
        "ratio": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
        "mode": {"type": "string", "enum": ["a", "b"], "nullable": True},
        "flag": {"const": True},
    },
    "required": ["query", "flag"],
    "additionalProperties": False,
    "$schema": "http://json-schema.org/draft-07/schema#",
}


def test_zod_unions_nullable_const_and_constraints() -> None:
    golden(
        ZOD,
        {
            "type": "OBJECT",
            "properties": {
                "query": {"type": "STRING", "minLength": 1, "maxLength": 200},
                "limit": {"type": "INTEGER", "minimum": 1, "maximum": 50, "description": "Default: 10"},
                "cursor": {"type": "STRING", "nullable": True},
                "sort": {"type": "STRING", "enum": ["asc", "desc"]},
                "filter": {
                    "description": "Tag or tags",
                    "anyOf": [
                        {"type": "STRING"},
                        {"type": "ARRAY", "items": {"type": "STRING"}},
                    ],
                },
                "since": {"type": "STRING", "format": "date-time"},
                "email": {"type": "STRING", "description": "Format: email"},
                "tags": {
                    "type": "ARRAY",
                    "minItems": 1,
                    "items": {"type": "STRING"},
                    "description": "Items must be unique",
                },
                "meta": {"type": "OBJECT", "description": "Additional properties allowed, each string"},
                "ratio": {
                    "type": "NUMBER",
                    "minimum": 0,
                    "maximum": 1,
                    "description": "Must be greater than 0; must be less than 1",
                },
                "mode": {"type": "STRING", "enum": ["a", "b"], "nullable": True},
                "flag": {"type": "BOOLEAN", "description": "Must be true"},
            },
            "required": ["query", "flag"],
        },
    )


# Claude Code's built-in tools, as it sends them in `tools[].input_schema`
CC_BASH = {
    "type": "object",
    "properties": {
        "command": {"type": "string", "description": "The command to execute"},
        "timeout": {"type": "number", "description": "Optional timeout in milliseconds (max 600000)"},
        "description": {
            "type": "string",
            "description": "Clear, concise description of what this command does",
        },
        "run_in_background": {
            "type": "boolean",
            "description": "Set to true to run this command in the background.",
        },
    },
    "required": ["command"],
    "additionalProperties": False,
    "$schema": "http://json-schema.org/draft-07/schema#",
}
CC_EDIT = {
    "type": "object",
    "properties": {
        "file_path": {"type": "string", "description": "The absolute path to the file to modify"},
        "old_string": {"type": "string", "description": "The text to replace"},
        "new_string": {"type": "string", "description": "The text to replace it with"},
        "replace_all": {
            "type": "boolean",
            "default": False,
            "description": "Replace all occurences of old_string (default false)",
        },
    },
    "required": ["file_path", "old_string", "new_string"],
    "additionalProperties": False,
    "$schema": "http://json-schema.org/draft-07/schema#",
}
CC_TODO = {
    "type": "object",
    "properties": {
        "todos": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "content": {"type": "string", "minLength": 1},
                    "status": {"type": "string", "enum": ["pending", "in_progress", "completed"]},
                    "activeForm": {"type": "string", "minLength": 1},
                },
                "required": ["content", "status", "activeForm"],
                "additionalProperties": False,
            },
            "description": "The updated todo list",
        }
    },
    "required": ["todos"],
    "additionalProperties": False,
    "$schema": "http://json-schema.org/draft-07/schema#",
}


def test_claude_code_bash() -> None:
    golden(
        CC_BASH,
        {
            "type": "OBJECT",
            "properties": {
                "command": {"type": "STRING", "description": "The command to execute"},
                "timeout": {"type": "NUMBER", "description": "Optional timeout in milliseconds (max 600000)"},
                "description": {
                    "type": "STRING",
                    "description": "Clear, concise description of what this command does",
                },
                "run_in_background": {
                    "type": "BOOLEAN",
                    "description": "Set to true to run this command in the background.",
                },
            },
            "required": ["command"],
        },
    )


def test_claude_code_edit_default_false_goes_to_description() -> None:
    out = clean_schema(CC_EDIT)
    check_valid(out)
    assert out["required"] == ["file_path", "old_string", "new_string"]
    assert out["properties"]["replace_all"] == {
        "type": "BOOLEAN",
        "description": "Replace all occurences of old_string (default false) (default: false)",
    }


def test_claude_code_todowrite_nested_objects() -> None:
    golden(
        CC_TODO,
        {
            "type": "OBJECT",
            "properties": {
                "todos": {
                    "type": "ARRAY",
                    "items": {
                        "type": "OBJECT",
                        "properties": {
                            "content": {"type": "STRING", "minLength": 1},
                            "status": {"type": "STRING", "enum": ["pending", "in_progress", "completed"]},
                            "activeForm": {"type": "STRING", "minLength": 1},
                        },
                        "required": ["content", "status", "activeForm"],
                    },
                    "description": "The updated todo list",
                }
            },
            "required": ["todos"],
        },
    )


def test_claude_code_task_and_empty_object_tool() -> None:
    task = {
        "type": "object",
        "properties": {
            "description": {"type": "string", "description": "A short (3-5 word) description of the task"},
            "prompt": {"type": "string", "description": "The task for the agent to perform"},
            "subagent_type": {"type": "string", "description": "The type of specialized agent"},
        },
        "required": ["description", "prompt", "subagent_type"],
        "additionalProperties": False,
        "$schema": "http://json-schema.org/draft-07/schema#",
    }
    out = clean_schema(task)
    check_valid(out)
    assert list(out["properties"]) == ["description", "prompt", "subagent_type"]
    assert out["properties"]["description"]["type"] == "STRING"
    # ExitPlanMode-like: no parameters at all
    golden(
        {"type": "object", "properties": {}, "additionalProperties": False, "$schema": "x"},
        {"type": "OBJECT", "properties": {}},
    )
    golden({}, {"type": "OBJECT", "properties": {}})


# MCP servers: hand-written schemas with draft-4/2020 mixes
def test_mcp_tools() -> None:
    github_list = {
        "type": "object",
        "properties": {
            "owner": {"type": "string"},
            "state": {"type": "string", "enum": ["open", "closed", "all"]},
            "per_page": {"type": "number", "minimum": 1, "maximum": 100},
            "page": {"type": "integer", "minimum": 0, "exclusiveMinimum": True},
            "labels": {"type": "array", "items": {"type": "string"}},
            "url": {"type": "string", "format": "uri", "$comment": "x"},
            "numbers": {"type": "integer", "enum": [1, 2, 3]},
        },
        "required": ["owner", "repo"],
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "examples": [{"owner": "x"}],
    }
    golden(
        github_list,
        {
            "type": "OBJECT",
            "properties": {
                "owner": {"type": "STRING"},
                "state": {"type": "STRING", "enum": ["open", "closed", "all"]},
                "per_page": {"type": "NUMBER", "minimum": 1, "maximum": 100},
                "page": {"type": "INTEGER", "minimum": 1},
                "labels": {"type": "ARRAY", "items": {"type": "STRING"}},
                "url": {"type": "STRING", "description": "Format: uri"},
                # enum only exists for strings upstream: keep the type, tell the model the values
                "numbers": {"type": "INTEGER", "description": "Allowed values: 1, 2, 3"},
            },
            # "repo" is not a property: pruned, "owner" kept
            "required": ["owner"],
        },
    )


def test_allof_merge_and_oneof() -> None:
    s = {
        "$defs": {
            "Base": {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]},
        },
        "allOf": [
            {"$ref": "#/$defs/Base"},
            {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]},
        ],
        "properties": {"x": {"oneOf": [{"type": "string"}, {"type": "integer"}]}},
    }
    golden(
        s,
        {
            "type": "OBJECT",
            "properties": {
                "x": {"anyOf": [{"type": "STRING"}, {"type": "INTEGER"}]},
                "id": {"type": "STRING"},
                "n": {"type": "INTEGER"},
            },
            "required": ["id", "n"],
        },
    )


def test_type_unions_and_null() -> None:
    out = clean_schema(
        {"type": "object", "properties": {"v": {"type": ["string", "integer", "null"], "description": "d"}}}
    )
    assert out["properties"]["v"] == {
        "description": "d",
        "nullable": True,
        "anyOf": [{"type": "STRING"}, {"type": "INTEGER"}],
    }
    # oneOf with only a null alternative flattens to nullable, keeping the outer description
    out = clean_schema(
        {"properties": {"v": {"oneOf": [{"type": "null"}, {"type": "integer", "description": "inner"}]}}}
    )
    assert out == {
        "type": "OBJECT",
        "properties": {"v": {"type": "INTEGER", "description": "inner", "nullable": True}},
    }


def test_enum_coercion_and_null_enum() -> None:
    out = clean_schema({"properties": {"e": {"enum": ["a", 1, None, True]}, "c": {"const": 3.5}}})
    assert out["properties"]["e"] == {"type": "STRING", "enum": ["a", "1", "true"], "nullable": True}
    assert out["properties"]["c"] == {"type": "NUMBER", "description": "Must be 3.5"}


def test_untyped_and_any_values() -> None:
    out = clean_schema({"properties": {"anything": {}, "t": True, "arr": {"type": "array"}}})
    check_valid(out)
    assert out["properties"]["anything"] == {"type": "STRING", "description": "Any JSON value"}
    assert out["properties"]["t"]["type"] == "STRING"
    assert out["properties"]["arr"] == {
        "type": "ARRAY",
        "items": {"type": "STRING", "description": "Any value"},
    }


def test_root_union_of_objects_is_merged() -> None:
    s = {
        "anyOf": [
            {
                "type": "object",
                "properties": {"a": {"type": "string"}, "k": {"type": "string"}},
                "required": ["a", "k"],
            },
            {
                "type": "object",
                "properties": {"b": {"type": "string"}, "k": {"type": "string"}},
                "required": ["k"],
            },
        ]
    }
    out = clean_schema(s)
    check_valid(out)
    assert list(out["properties"]) == ["a", "k", "b"]
    assert out["required"] == ["k"]
    assert out["description"].startswith("One of 2 shapes")


def test_response_schema_mode_keeps_non_object_root() -> None:
    assert clean_schema({"type": "array", "items": {"type": "string"}}, require_object=False) == {
        "type": "ARRAY",
        "items": {"type": "STRING"},
    }
    assert clean_schema({"type": "array", "items": {"type": "string"}}) == {
        "type": "OBJECT",
        "properties": {},
    }


@pytest.mark.parametrize("bad", [None, 3, "x", [], [{"type": "object"}], True])
def test_non_dict_root(bad: Any) -> None:
    assert clean_schema(bad) == {"type": "OBJECT", "properties": {}}


def test_unresolvable_and_external_refs() -> None:
    out = clean_schema(
        {"properties": {"a": {"$ref": "#/$defs/Missing"}, "b": {"$ref": "https://example.com/s.json"}}}
    )
    check_valid(out)
    assert out["properties"]["a"] == {"type": "OBJECT", "description": "See Missing"}
    assert out["properties"]["b"] == {"type": "OBJECT", "description": "See https://example.com/s.json"}


def test_exponential_refs_stay_bounded() -> None:
    defs: dict[str, Any] = {"L0": {"type": "string"}}
    for i in range(1, 30):
        defs[f"L{i}"] = {
            "type": "object",
            "properties": {"a": {"$ref": f"#/$defs/L{i - 1}"}, "b": {"$ref": f"#/$defs/L{i - 1}"}},
        }
    out = clean_schema({"$defs": defs, "$ref": "#/$defs/L29"})
    assert len(orjson.dumps(out)) < 2_000_000
    check_valid(out)


def test_input_is_not_mutated() -> None:
    before = orjson.dumps(PYDANTIC_PERSON)
    clean_schema(PYDANTIC_PERSON)
    assert orjson.dumps(PYDANTIC_PERSON) == before


# -- never raises, always valid ---------------------------------------------------------------

_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=True), st.text(max_size=5)
)
_keys = st.sampled_from(
    [
        "type",
        "properties",
        "items",
        "required",
        "enum",
        "const",
        "anyOf",
        "oneOf",
        "allOf",
        "$ref",
        "$defs",
        "format",
        "minimum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minItems",
        "additionalProperties",
        "nullable",
        "description",
        "default",
        "pattern",
        "prefixItems",
    ]
)
_values = st.recursive(
    st.one_of(
        _scalars,
        st.sampled_from(
            ["object", "string", "array", "null", "integer", "#", "#/$defs/a", "#/properties/x", "date-time"]
        ),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.one_of(_keys, st.sampled_from(["a", "x"])), children, max_size=4),
    ),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None)
@given(_values)
def test_fuzz_never_raises_and_output_is_valid(schema: Any) -> None:
    out = clean_schema(schema)
    check_valid(out)
    orjson.dumps(out)


@pytest.mark.parametrize(
    "src", [PYDANTIC_PERSON, ZOD, CC_BASH, CC_EDIT, CC_TODO], ids=["pydantic", "zod", "bash", "edit", "todo"]
)
def test_fake_upstream_schema_check_accepts_output(src: dict[str, Any]) -> None:
    from tests.fakes.validation import Issues, check_schema

    issues = Issues()
    check_schema(clean_schema(src), "parameters", issues)
    issues.raise_if_any()
