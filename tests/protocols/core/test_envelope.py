"""core.envelope: request types and ids, the signature-recovery rewrite (golden), and that the
rewritten request is what the fake upstream (Google's and Claude's rules) accepts."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.fakes.validation import BYPASS_SIGNATURE, GoogleError, check_claude_thinking, check_signatures
from trayproxy.protocols.core.envelope import (
    for_request_type,
    request_id,
    request_type_for,
    without_thinking,
)

SAFETY = [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "OFF"}]

#: A Claude tool loop two steps deep, whose signatures another account issued.
LOOP: dict[str, Any] = {
    "contents": [
        {"role": "user", "parts": [{"text": "Read main.py and test.py"}]},
        {"role": "model", "parts": [
            {"text": "I will read main.py.", "thought": True, "thoughtSignature": "Rk9SRUlHTg=="},
            {"text": "Reading main.py."},
            {"functionCall": {"name": "Read", "args": {"path": "main.py"}, "id": "t1"}, "thoughtSignature": "Rk9SRUlHTg=="},
        ]},
        {"role": "user", "parts": [{"functionResponse": {"name": "Read", "response": {"result": "print(1)"}, "id": "t1"}}]},
        {"role": "model", "parts": [
            {"text": "Now test.py.", "thought": True, "thoughtSignature": "T1RIRVI="},
        ]},
        {"role": "user", "parts": [{"text": "go on"}]},
        {"role": "model", "parts": [
            {"text": "Reading test.py.", "thoughtSignature": "T1RIRVI="},
            {"functionCall": {"name": "Read", "args": {"path": "test.py"}, "id": "t2"}, "thoughtSignature": "T1RIRVI="},
        ]},
        {"role": "user", "parts": [{"functionResponse": {"name": "Read", "response": {"result": "assert 1"}, "id": "t2"}}]},
    ],
    "systemInstruction": {"role": "user", "parts": [{"text": "Be brief."}]},
    "tools": [{"functionDeclarations": [{"name": "Read", "parameters": {"type": "OBJECT", "properties": {}}}]}],
    "generationConfig": {"maxOutputTokens": 24000, "thinkingConfig": {"includeThoughts": True, "thinkingBudget": 16000}},
    "safetySettings": SAFETY,
}

RECOVERED_CLAUDE = {
    "contents": [
        {"role": "user", "parts": [{"text": "Read main.py and test.py"}]},
        {"role": "model", "parts": [
            {"text": "Reading main.py."},
            {"functionCall": {"name": "Read", "args": {"path": "main.py"}, "id": "t1"}, "thoughtSignature": BYPASS_SIGNATURE},
        ]},
        # the thinking-only model turn is gone; the user turns around it are one turn now
        {"role": "user", "parts": [{"functionResponse": {"name": "Read", "response": {"result": "print(1)"}, "id": "t1"}},
                                   {"text": "go on"}]},
        {"role": "model", "parts": [
            {"text": "Reading test.py."},
            {"functionCall": {"name": "Read", "args": {"path": "test.py"}, "id": "t2"}, "thoughtSignature": BYPASS_SIGNATURE},
        ]},
        {"role": "user", "parts": [{"functionResponse": {"name": "Read", "response": {"result": "assert 1"}, "id": "t2"}}]},
    ],
    "systemInstruction": {"role": "user", "parts": [{"text": "Be brief."}]},
    "tools": [{"functionDeclarations": [{"name": "Read", "parameters": {"type": "OBJECT", "properties": {}}}]}],
    # in a tool loop Claude needs the loop's thinking first; it is gone, so this answer thinks no more
    "generationConfig": {"maxOutputTokens": 24000},
    "safetySettings": SAFETY,
}


def test_signature_recovery_rewrite_golden_claude() -> None:
    before = copy.deepcopy(LOOP)
    got = without_thinking(LOOP, "claude-opus-4-6-thinking")
    assert got == RECOVERED_CLAUDE
    assert LOOP == before, "the rewrite must not change its input"
    # what the fake's Claude refuses with the foreign signatures, it takes after the rewrite
    with pytest.raises(GoogleError) as e:
        check_signatures(LOOP["contents"], "claude", lambda sig: None)
    assert "Invalid `signature` in `thinking` block" in e.value.message
    check_signatures(got["contents"], "claude", lambda sig: None)
    check_claude_thinking(got["contents"], thinking_enabled=False)


def test_signature_recovery_keeps_gemini_thinking_config() -> None:
    got = without_thinking(LOOP, "gemini-3-flash")
    assert got["generationConfig"] == LOOP["generationConfig"]
    assert got["contents"] == RECOVERED_CLAUDE["contents"]
    check_signatures(got["contents"], "gemini3", lambda sig: None)


def test_claude_outside_a_tool_loop_keeps_thinking() -> None:
    req = {**LOOP, "contents": LOOP["contents"] + [
        {"role": "model", "parts": [{"text": "Both files are fine.", "thoughtSignature": "T1RIRVI="}]},
        {"role": "user", "parts": [{"text": "thanks"}]},
    ]}
    got = without_thinking(req, "claude-sonnet-4-6-thinking")
    assert "thinkingConfig" in got["generationConfig"]


def test_request_types() -> None:
    assert request_type_for("gemini-3-pro-image", LOOP) == "image_gen"
    assert request_type_for("gemini-3-flash", {"tools": [{"googleSearch": {}}]}) == "web_search"
    assert request_type_for("gemini-3-flash", LOOP) == "agent"
    assert request_id("image_gen", 1764576000123, "6f1c") == "image_gen/1764576000123/6f1c/12"
    assert request_id("agent", 1, "6f1c") == "agent/6f1c"


def test_image_request_has_no_tools_and_no_system_instruction_golden() -> None:
    got = for_request_type(LOOP, "image_gen")
    assert got == {
        "contents": LOOP["contents"],
        "generationConfig": {"maxOutputTokens": 24000},
        "safetySettings": SAFETY,
    }
    assert for_request_type(LOOP, "agent") is LOOP
