"""protocols.search: which requests are searches, the search request, and reading the grounding
(byte offsets to characters, overlapping supports, domain filters)."""

from __future__ import annotations

import pytest

from trayproxy.protocols import search
from trayproxy.protocols.errors import RequestError


def test_max_uses_and_domain_lists_are_checked() -> None:
    body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "q"}]}
    with pytest.raises(RequestError):
        search.anthropic_ask({**body, "tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 0}]})
    with pytest.raises(RequestError):
        search.anthropic_ask({**body, "tools": [{"type": "web_search_20250305", "name": "web_search",
                                                 "allowed_domains": ["a.com"], "blocked_domains": ["b.com"]}]})
    # a client tool beside the search tool: an ordinary request, not a search
    assert search.anthropic_ask({**body, "tools": [{"type": "web_search_20250305", "name": "web_search"},
                                                   {"name": "Bash", "input_schema": {"type": "object"}}]}) is None
    # Anthropic's bash tool beside it: a client tool, so an ordinary request too
    assert search.anthropic_ask({**body, "tools": [{"type": "web_search_20250305", "name": "web_search"},
                                                   {"type": "bash_20250124", "name": "bash"}]}) is None
    # a server tool the upstream cannot run beside it: a 400 naming it, not a search without it
    with pytest.raises(RequestError) as e:
        search.anthropic_ask({**body, "tools": [{"type": "web_search_20250305", "name": "web_search"},
                                                {"type": "web_fetch_20250910", "name": "web_fetch"}]})
    assert e.value.field == "tools[1].type" and "web_fetch_20250910" in e.value.message
    ask = search.anthropic_ask({**body, "tools": [{"type": "web_search_20250305", "name": "web_search",
                                                   "allowed_domains": ["https://Docs.Python.org/3/"]}]})
    assert ask is not None and ask.allowed == ("docs.python.org",)
    req = search.search_request({"contents": [], "tools": [{"functionDeclarations": []}], "toolConfig": {}}, ask)
    assert req["tools"] == [{"googleSearch": {}}] and "toolConfig" not in req
    assert "site:docs.python.org" in req["systemInstruction"]["parts"][-1]["text"]


def grounded(text: str, supports: list[tuple[str, list[int]]], n: int = 2) -> dict:
    data = text.encode()
    sups = []
    for seg, idx in supports:
        i = data.index(seg.encode())
        sups.append({"segment": {"startIndex": i, "endIndex": i + len(seg.encode())}, "groundingChunkIndices": idx})
    chunks = [{"web": {"uri": f"{search.REDIRECT_PREFIX}{k}", "title": f"site{k}.example"}} for k in range(n)]
    return {"candidates": [{"content": {"parts": [{"text": text}]},
                            "groundingMetadata": {"groundingChunks": chunks, "groundingSupports": sups}}]}


def test_overlapping_supports_are_clipped_and_offsets_are_characters() -> None:
    f = search.found(grounded("Ünïcode first. Then second.", [("Ünïcode first.", [0]), ("first. Then", [1])]))
    assert [(t, [s.title for s in c]) for t, c in search.pieces(f)] == [
        ("Ünïcode first.", ["site0.example"]), (" Then", ["site1.example"]), (" second.", [])]


def test_unresolved_links_are_filtered_by_their_site_name() -> None:
    f = search.found(grounded("A. B.", [("A.", [0]), ("B.", [1])]))
    ask = search.SearchAsk("q", allowed=("site1.example",))
    kept = search.filtered(f, ask)
    assert [s.title for s in search.unique_sources(kept)] == ["site1.example"]
    assert [c for _, c in search.pieces(kept) if c] == [[kept.sources[1]]]


def test_a_gemini_request_with_google_search_keeps_its_own_tools() -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "q"}]}],
            "tools": [{"googleSearch": {}}, {"functionDeclarations": [{"name": "f"}]}]}
    ask = search.gemini_ask(body)
    assert ask is not None and ask.keep_tools and ask.query == "q"
    assert search.search_request(body, ask)["tools"] == body["tools"]
    assert search.gemini_ask({"contents": []}) is None
