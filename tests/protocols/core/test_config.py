"""core.config and core.media: caps, declarations, stop sequences, quiet thinking, request assembly,
media parts."""

from __future__ import annotations

import pytest

from trayproxy.protocols.core import config as cfg
from trayproxy.protocols.core.media import data_url_part, file_part, guess_mime
from trayproxy.protocols.errors import RequestError


def test_output_cap_prefers_the_catalog() -> None:
    assert cfg.output_cap("claude-sonnet-4-6") == 64000 and cfg.output_cap("gemini-3-flash") == 65536
    assert cfg.output_cap("gemini-3-flash", 32768) == 32768
    assert cfg.output_cap("gemini-3-flash", 0) == 65536


def test_declarations_check_names_and_write_schemas_per_family() -> None:
    d = cfg.Declarations("claude-sonnet-4-6")
    d.add("t", "does t", {"type": "object", "properties": {"x": {"type": ["string", "null"]}}, "required": ["x"]},
          "tools[0]", schema_field="input_schema")
    assert d.decls == [{"name": "t", "description": "does t",
                        "parameters": {"type": "OBJECT", "properties": {"x": {"type": "STRING"}}}}]
    for name, schema, field in (("", {}, "tools[1].name"), ("t", {}, "tools[1].name"),
                                ("u", [], "tools[1].input_schema")):
        with pytest.raises(RequestError) as e:
            d.add(name, None, schema, "tools[1]", schema_field="input_schema")
        assert e.value.field == field


def test_stop_sequences() -> None:
    assert cfg.stop_sequences(None, "stop") is None
    assert cfg.stop_sequences(["a", "", "b", "c", "d", "e", "f"], "stop") == ["a", "b", "c", "d", "e"]
    assert cfg.stop_sequences("x", "stop", one_string=True) == ["x"]
    with pytest.raises(RequestError):
        cfg.stop_sequences("x", "stop_sequences")


def test_quiet_thinking_per_family() -> None:
    assert cfg.quiet_thinking("claude-sonnet-4-6-thinking") is None
    assert cfg.quiet_thinking("gemini-2.5-flash") == {"includeThoughts": False, "thinkingBudget": 0}
    assert cfg.quiet_thinking("gemini-3-flash") == {"includeThoughts": False}
    assert cfg.quiet_thinking("gpt-oss-120b-medium") is None


def test_build_request_leaves_out_what_is_empty() -> None:
    assert cfg.build_request([], safety=False) == {"contents": []}
    req = cfg.build_request([], web_search=True, tool_config={"x": 1})
    assert req["tools"] == [{"googleSearch": {}}] and "toolConfig" not in req and len(req["safetySettings"]) == 4


def test_media() -> None:
    assert guess_mime("https://x/a.PNG?s=1#f", "image/jpeg") == "image/png"
    assert guess_mime("https://x/a", "image/jpeg") == "image/jpeg"
    assert file_part("gs://b/doc.pdf", "image/jpeg") == {"fileData": {"fileUri": "gs://b/doc.pdf",
                                                                      "mimeType": "application/pdf"}}
    assert data_url_part("data:image/webp;base64,QUJD", "f") == {"inlineData": {"mimeType": "image/webp", "data": "QUJD"}}
    for bad in ("data:image/png,QUJD", "data:image/png;base64,***"):
        with pytest.raises(RequestError) as e:
            data_url_part(bad, "f")
        assert e.value.field == "f"


def test_tools_are_remembered_per_list_and_family_and_errors_are_not() -> None:
    from trayproxy.protocols import anthropic
    from trayproxy.protocols.errors import RequestError

    tools = [{"name": "run", "description": "Run", "input_schema": {
        "type": "object", "properties": {"n": {"type": ["integer", "null"]}}}}]
    body = {"model": "m", "max_tokens": 10, "tools": tools, "messages": [{"role": "user", "content": "hi"}]}
    one = anthropic.to_gemini(body, upstream_model="claude-sonnet-4-6", signatures={})
    two = anthropic.to_gemini(body, upstream_model="claude-sonnet-4-6", signatures={})
    gem = anthropic.to_gemini(body, upstream_model="gemini-3-flash", signatures={})
    decls = one["tools"][0]["functionDeclarations"]
    assert decls == two["tools"][0]["functionDeclarations"]
    assert decls is not two["tools"][0]["functionDeclarations"]  # each request its own list
    # the family decides the schema: Claude gets no type list, Gemini keeps its nullable form
    assert decls[0]["parameters"] != gem["tools"][0]["functionDeclarations"][0]["parameters"]
    bad = {**body, "tools": [{"name": "", "input_schema": {"type": "object"}}]}
    for _ in range(2):  # a refused list is refused every time, never remembered
        with pytest.raises(RequestError):
            anthropic.to_gemini(bad, upstream_model="claude-sonnet-4-6", signatures={})
