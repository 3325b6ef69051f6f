"""jsonfile: JSONC read and merged in place; strings are never rewritten, whatever they hold."""

from __future__ import annotations

import json

import pytest

from trayproxy.connect import jsonfile

# A permission rule as Claude Code users write them: commas, brackets, braces and slashes inside
# strings are the rule's own text.
RULES = ["Bash(grep -E [0-9,]+ *)", "Bash(jq '{a,}' x)", "Read(//etc/hosts)", "Bash(echo /* not a comment */)",
         'Bash(printf "a,]")']


def test_strip_comments_keeps_every_string_byte_for_byte() -> None:
    text = json.dumps({"permissions": {"allow": RULES}}, indent=2)
    assert jsonfile.strip_comments(text) == text
    assert jsonfile.load(text, "s.json")["permissions"]["allow"] == RULES


def test_trailing_commas_and_comments_outside_strings_are_blanked() -> None:
    text = '{\n  "a": "x,}", // note\n  "b": [1, 2, /* two */ ],\n}\n'
    plain = jsonfile.strip_comments(text)
    assert len(plain) == len(text)
    assert json.loads(plain) == {"a": "x,}", "b": [1, 2]}
    assert jsonfile.has_comments(text)
    assert not jsonfile.has_comments('{"a": "// not a comment", "b": "/* nor this */"}')


def test_set_path_leaves_the_users_strings_alone() -> None:
    text = json.dumps({"permissions": {"allow": RULES}}, indent=2) + "\n"
    new = jsonfile.set_path(text, "s.json", ("env", "ANTHROPIC_BASE_URL"), "http://127.0.0.1:8045")
    data = json.loads(new)
    assert data["permissions"]["allow"] == RULES
    assert data["env"] == {"ANTHROPIC_BASE_URL": "http://127.0.0.1:8045"}


def test_set_path_in_a_commented_file_keeps_strings_and_comments() -> None:
    text = '{\n  // mine\n  "permissions": {"allow": ["Bash(grep -E [0-9,]+ *)",]},\n}\n'
    new = jsonfile.set_path(text, "s.json", ("env", "X"), "1")
    assert "// mine" in new and '"Bash(grep -E [0-9,]+ *)"' in new
    assert jsonfile.load(new, "s.json") == {"env": {"X": "1"}, "permissions": {"allow": ["Bash(grep -E [0-9,]+ *)"]}}


@pytest.mark.parametrize("text", ['{"a": "unterminated}', '{"a": 1 /* open', '{"a": [1,,]}'])
def test_broken_jsonc_is_a_clear_error(text: str) -> None:
    with pytest.raises(jsonfile.JsonFileError):
        jsonfile.load(text, "s.json")


@pytest.mark.parametrize("text", [
    "{}\n",
    '{\n  "a": 1,\n  "b": {"c": 2}\n}\n',
    '{\n  // c\n  "a": 1, // note\n}\n',
    '{"a": 1}',
    '{\n\t"a": 1\n}\n',
    '{\n  "a": 1 // x\n}',
])
def test_a_member_added_then_deleted_leaves_the_bytes_as_they_were(text: str) -> None:
    value = {"trayproxy": {"npm": "@ai-sdk/openai-compatible", "models": {"m": {"name": "M"}}}}
    added = jsonfile.set_path(text, "s", ("provider",), value)
    assert jsonfile.load(added, "s")["provider"] == value
    assert jsonfile.delete_path(added, "s", ("provider",)) == text


def test_delete_keeps_the_other_members_and_their_comments() -> None:
    text = '{\n  "a": 1, // one\n  "b": 2,\n  // about c\n  "c": [3,],\n}\n'
    assert jsonfile.delete_path(text, "s", ("b",)) == '{\n  "a": 1, // one\n  // about c\n  "c": [3,],\n}\n'
    assert jsonfile.load(jsonfile.delete_path(text, "s", ("c",)), "s") == {"a": 1, "b": 2}
    assert "// about c" in jsonfile.delete_path(text, "s", ("c",))
    assert jsonfile.delete_path(text, "s", ("zz",)) == text
