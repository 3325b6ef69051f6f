"""edits: each change connect makes is recorded with the old value, and taken back only where the
value is still connect's."""

from __future__ import annotations

import json

import pytest

from trayproxy.connect import edits
from trayproxy.connect.edits import MISSING, Editor

KEY = "sk-0123456789abcdef"


def undo(fmt: str, text: str, ed: Editor) -> str:
    for ch in reversed(ed.changes):
        if edits.value_hash(edits.read(fmt, text, ch.key)) == ch.new_hash:
            text = edits.write(fmt, text, ch.key, ch.old)
    return text


def test_a_block_connect_adds_is_recorded_as_one_change_and_taken_back_whole() -> None:
    text = '{\n  // mine\n  "theme": "dark"\n}\n'
    ed = Editor("json", text, "s")
    ed.set(("provider", "trayproxy", "options", "baseURL"), "http://127.0.0.1:8045/v1")
    ed.set(("provider", "trayproxy", "options", "apiKey"), KEY)
    assert [c.key for c in ed.changes] == [("provider",), ("provider", "trayproxy", "options", "apiKey")]
    assert all(c.old is MISSING for c in ed.changes)
    assert KEY not in json.dumps([c.to_json() for c in ed.changes])  # only hashes of new values
    assert undo("json", ed.text, ed) == text


def test_a_value_the_user_changed_since_stays_theirs() -> None:
    ed = Editor("json", '{"env": {"A": "1"}}', "s")
    ed.set(("env", "A"), "2")
    ed.set(("env", "B"), "3")
    later = edits.write("json", ed.text, ("env", "A"), "user's")
    assert json.loads(undo("json", later, ed)) == {"env": {"A": "user's"}}


@pytest.mark.parametrize("text", ["", '# mine\nmodel = "o3"\n\n[profiles.deep]\nmodel = "o3"\n'])
def test_toml_tables_and_keys(text: str) -> None:
    ed = Editor("toml", text, "config.toml")
    ed.set(("model_provider",), "trayproxy")
    ed.set(("model_providers", "trayproxy", "base_url"), "http://127.0.0.1:8045/v1")
    assert "[model_providers.trayproxy]" in ed.text and "[model_providers]\n" not in ed.text
    assert undo("toml", ed.text, ed) == text
    assert edits.is_empty("toml", undo("toml", ed.text, ed)) == (text == "")


def test_dotenv_lines() -> None:
    text = "# keys\nexport GEMINI_API_KEY=old   # from AI Studio\nOTHER=1\n"
    ed = Editor("dotenv", text, ".env")
    ed.set(("GOOGLE_GEMINI_BASE_URL",), "http://127.0.0.1:8045")
    ed.set(("GEMINI_API_KEY",), KEY)
    back = undo("dotenv", ed.text, ed)
    assert edits.same("dotenv", back, text) and back.startswith("# keys\n") and "GOOGLE_GEMINI_BASE_URL" not in back
