"""A Message is said in the language of whoever shows it: English for the CLI, the catalog's
for the page (the same ids), nested messages too."""

from __future__ import annotations

from trayproxy.accounts.models import resolve
from trayproxy.i18n import translator
from trayproxy.i18n.message import N_, Message


def test_a_message_is_said_in_each_language_nested_too() -> None:
    inner = N_("this account serves it")
    outer = N_("{rule}; {why}", rule="model_mapping 'x' -> y", why=inner)
    assert outer.text() == "model_mapping 'x' -> y; this account serves it" == str(outer)
    assert outer.text(translator("zh_CN")) == "model_mapping 'x' -> y；此账号直接提供"
    assert outer.to_dict() == {"msgid": "{rule}; {why}", "fields": {
        "rule": "model_mapping 'x' -> y", "why": {"msgid": "this account serves it", "fields": {}}}}


def test_a_resolution_explains_itself_in_english_and_in_german() -> None:
    r = resolve("claude-opus-4-6", ["gemini-3-pro-high", "claude-sonnet-4-6"])
    assert r is not None and isinstance(r.words, Message)
    assert r.why == "Claude Opus family: the best Claude Sonnet this account serves"
    assert r.words.text(translator("de")) == "Familie Claude Opus: das beste Claude Sonnet, das dieses Konto anbietet"
