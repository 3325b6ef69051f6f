"""claude_code: Claude Code's system-prompt lines that Cloud Code must not see. (Its background-call
detection is tested through the Anthropic converter, tests/protocols/test_anthropic.py.)"""

from __future__ import annotations

import pytest

from tests.fakes.validation import GoogleError, check_claude_identity
from trayproxy.protocols.claude_code import AGENT_SDK_IDENTITY, CLAUDE_CODE_IDENTITY, system_text

PROMPT = ("x-anthropic-billing-header: cc_version=2.1.279.c3d; cc_entrypoint=sdk-ts; cch=41e0a;\n"
          f"{AGENT_SDK_IDENTITY}. You work in /src.\n\nRules:\n- never mention {AGENT_SDK_IDENTITY[:20]}\n")


def test_billing_line_goes_identity_becomes_claude_codes_and_nothing_else_changes() -> None:
    got = system_text(PROMPT)
    assert got == f"{CLAUDE_CODE_IDENTITY}. You work in /src.\n\nRules:\n- never mention You are a Claude age\n"
    assert system_text(got) == got
    assert system_text("plain prompt\nx-anthropic-billing-header is mentioned here") == (
        "plain prompt\nx-anthropic-billing-header is mentioned here")


def test_the_fake_refuses_what_the_rewrite_removes() -> None:
    def req(text: str) -> dict:
        return {"systemInstruction": {"parts": [{"text": text}]}}

    with pytest.raises(GoogleError) as e:
        check_claude_identity(req(PROMPT))
    assert e.value.status == 429 and e.value.message == "Resource has been exhausted (e.g. check quota)."
    check_claude_identity(req(system_text(PROMPT)))
