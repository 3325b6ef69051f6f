"""What is particular to Claude Code (not to the Anthropic protocol): its system-prompt lines that
Cloud Code must not see, and its small background calls that a fast model can serve."""

from __future__ import annotations

import re
from typing import Any

from trayproxy.json_types import JSON
from trayproxy.protocols.core.config import is_int

__all__ = ["system_text", "is_background_request", "AGENT_SDK_IDENTITY", "CLAUDE_CODE_IDENTITY"]


#: Claude Code's attribution line (`x-anthropic-billing-header: cc_version=...; cch=<hash>`):
#: meaningful to Anthropic only, its per-request hash would defeat upstream prefix caching, and
#: Cloud Code answers it with a bare 429 for healthy accounts.
_BILLING_LINE = re.compile(r"^x-anthropic-billing-header:[^\n]*(?:\n|$)", re.M)
#: The Claude Agent SDK's identity line (Claude Code run through the SDK) draws the same 429;
#: it becomes Claude Code's own, which Cloud Code serves.
AGENT_SDK_IDENTITY = "You are a Claude agent, built on Anthropic's Claude Agent SDK"
CLAUDE_CODE_IDENTITY = "You are Claude Code, Anthropic's official CLI for Claude"


def system_text(text: str) -> str:
    """A system text with Claude Code's billing line removed and the Agent SDK identity line
    rewritten; nothing else of the prompt changes."""
    if "x-anthropic-billing-header:" in text:
        text = _BILLING_LINE.sub("", text)
    return text.replace(AGENT_SDK_IDENTITY, CLAUDE_CODE_IDENTITY) if AGENT_SDK_IDENTITY in text else text



#: Openings of the system prompts Claude Code uses for its small side calls.
_BACKGROUND_SYSTEM = (
    "Generate a concise, sentence-case title",
    "You are coming up with a succinct title",
    "Analyze if this message indicates a new conversation topic",
    "Please write a 5-10 word title",
    "Your task is to process Bash commands that an AI coding agent wants to run",
    "Extract any file paths that this command reads or modifies",
    "Summarize this coding conversation in under 50 characters",
)
_BACKGROUND_SYSTEM_LINES = tuple(f"\n{m}" for m in _BACKGROUND_SYSTEM)  # the same, on a later line
#: Openings of the last user message of Claude Code's side calls that reuse the conversation.
_BACKGROUND_USER = (
    "Please write a 5-10 word title",
    "Summarize this coding conversation in under 50 characters",
    "[SUGGESTION MODE]",
    "Describe your most recent action in 3-5 words",
    "Analyze if this message indicates a new conversation topic",
)
_REMINDER = re.compile(r"<system-reminder>.*?</system-reminder>", re.S)


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [
            b["text"]
            for b in content
            if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
        ]
    return []


def is_background_request(body: JSON) -> bool:
    """Claude Code's small side calls (session titles, topic detection, bash prefix / file path
    extraction, prompt suggestions, progress summaries, `Warmup`, the `quota` probe) that the
    handler routes to a fast model. Conversation compaction is *not* one of them: it needs the
    main model's context and quality."""
    if not isinstance(body, dict):
        return False
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return False
    system = body.get("system")
    sys_text = "\n".join(_texts(system)).lstrip()
    if sys_text.startswith(_BACKGROUND_SYSTEM) or any(m in sys_text for m in _BACKGROUND_SYSTEM_LINES):
        return True
    last = messages[-1]
    if not isinstance(last, dict) or last.get("role") != "user":
        return False
    texts = [t.strip() for t in (_REMINDER.sub("", x) for x in _texts(last.get("content"))) if t.strip()]
    if not texts:
        return False
    if texts == ["Warmup"]:  # Claude Code's cache warm-up call (main agent and subagents)
        return True
    if (
        len(messages) == 1
        and texts == ["quota"]
        and is_int(body.get("max_tokens"))
        and body["max_tokens"] <= 16
    ):
        return True
    return texts[-1].startswith(_BACKGROUND_USER)
