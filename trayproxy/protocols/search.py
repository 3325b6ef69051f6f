"""Web search as Google runs it: which client requests are a search, the `web_search` request that
runs it, and what the grounded answer found. Pure code; the answers in each client's shape are in
`search_answers`, the run in proxy/search.py.

1. A search request (`SearchAsk`): Anthropic's server tool `web_search_*` (Claude Code's WebSearch
   sends it alone, in a request of its own), the Responses `web_search` tool, or Gemini's
   `googleSearch` tool, when the search tool is the only thing the request offers the model
   (Cloud Code grounds a request on Google Search; it does not mix that with function calling).
   `max_uses` must be positive (one grounded request is one search: `web_search_requests` 1);
   `allowed_domains` / `blocked_domains` (and the Responses `filters.allowed_domains`) and a
   `user_location` are asked for in the instruction and enforced on the results.
2. `search_request`: the client's converted request with one `googleSearch` tool (Gemini's own
   request keeps its tools as the client wrote them), sent with `requestType: "web_search"` on a
   model the account lists in `webSearchModelIds`.
3. `found`: the answer's text and `groundingMetadata` (queries, sources, supports with UTF-8
   byte offsets) as `Found`; `with_links` puts the resolved URLs of Google's redirect links in,
   `filtered` drops sources outside the allowed domains (and their citations).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from trayproxy.json_types import JSON
from trayproxy.protocols import anthropic_tools
from trayproxy.protocols.errors import RequestError
from trayproxy.protocols.gemini import first_candidate, unwrap

__all__ = ["SearchAsk", "Source", "Support", "Found", "anthropic_ask", "responses_ask", "gemini_ask",
           "search_request", "found", "with_links", "filtered", "unique_sources", "pieces", "REDIRECT_PREFIX"]

#: Google's grounding redirector: each source's link in `groundingChunks` goes through it.
REDIRECT_PREFIX = "https://vertexaisearch.cloud.google.com/grounding-api-redirect/"
_CLAUDE_CODE_ASK = re.compile(r"^\s*Perform a web search for the query:\s*", re.IGNORECASE)


@dataclass(frozen=True)
class SearchAsk:
    query: str  # what the client asked to search for (shown until Google says which queries it ran)
    max_uses: int | None = None
    allowed: tuple[str, ...] = ()
    blocked: tuple[str, ...] = ()
    location: JSON | None = None
    keep_tools: bool = False  # Gemini's own request: its tools go as the client wrote them


@dataclass(frozen=True)
class Source:
    url: str
    title: str
    domain: str | None = None


@dataclass(frozen=True)
class Support:
    start: int  # character offsets into Found.text
    end: int
    sources: tuple[int, ...]  # indices into Found.sources


@dataclass(frozen=True)
class Found:
    text: str
    queries: tuple[str, ...] = ()
    sources: tuple[Source, ...] = ()
    supports: tuple[Support, ...] = ()
    response: JSON = field(default_factory=dict)  # the whole collected Gemini answer

    @property
    def query(self) -> str:
        return self.queries[0] if self.queries else ""


# -- 1. which requests are a search ------------------------------------------------------------


def _obj(value: Any) -> JSON:
    return value if isinstance(value, dict) else {}


def _domains(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(d, str) for d in value):
        raise RequestError("the domain list must be a list of strings", field=where)
    out = []
    for d in value:
        d = d.strip().lower()
        d = re.sub(r"^[a-z]+://", "", d).split("/")[0]
        if d:
            out.append(d)
    return tuple(out)


def _max_uses(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RequestError("max_uses must be a positive integer", field=where)
    return value


def _location(value: Any) -> JSON | None:
    if not isinstance(value, dict):
        return None
    inner = _obj(value.get("approximate")) or value
    loc = {k: inner[k] for k in ("city", "region", "country", "timezone") if isinstance(inner.get(k), str) and inner[k]}
    return loc or None


def _last_user_text(messages: Any, *, role_key: str = "role", user: str = "user") -> str:
    if not isinstance(messages, list):
        return ""
    for m in reversed(messages):
        if not isinstance(m, dict) or m.get(role_key, user) != user:
            continue
        content = m.get("content", m.get("parts"))
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            texts = [str(p["text"]) for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)]
            if texts:
                return "\n".join(texts)
    return ""


def anthropic_ask(body: JSON) -> SearchAsk | None:
    """A Messages request whose only tool use can be the `web_search_*` server tool."""
    tools = body.get("tools")
    if not isinstance(tools, list) or not tools:
        return None
    search = [t for t in tools if isinstance(t, dict) and str(t.get("type", "")).startswith("web_search")]
    if not search or any(isinstance(t, dict) and t.get("type") in (None, "custom") for t in tools):
        return None  # client tools beside it: an ordinary request (the search is not offered)
    for i, t in enumerate(tools):
        if isinstance(t, dict) and not anthropic_tools.is_search(t.get("type")):
            anthropic_tools.classify(t, f"tools[{i}]")  # a tool the upstream cannot serve: a 400 naming it
            return None  # an Anthropic-defined client tool (bash, text editor) beside it
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and (choice.get("type") == "none" or (
            choice.get("type") == "tool" and choice.get("name") != search[0].get("name", "web_search"))):
        return None
    tool = search[0]
    i = tools.index(tool)
    allowed = _domains(tool.get("allowed_domains"), f"tools[{i}].allowed_domains")
    blocked = _domains(tool.get("blocked_domains"), f"tools[{i}].blocked_domains")
    if allowed and blocked:
        raise RequestError("use either allowed_domains or blocked_domains, not both", field=f"tools[{i}]")
    query = _CLAUDE_CODE_ASK.sub("", _last_user_text(body.get("messages"))).strip()
    return SearchAsk(query, _max_uses(tool.get("max_uses"), f"tools[{i}].max_uses"), allowed, blocked,
                     _location(tool.get("user_location")))


def responses_ask(body: JSON, search_tool: JSON | None, has_functions: bool, items: list[JSON]) -> SearchAsk | None:
    """A Responses request whose only tool is the hosted `web_search`."""
    if search_tool is None or has_functions or body.get("tool_choice") == "none":
        return None
    filters = _obj(search_tool.get("filters"))
    allowed = _domains(filters.get("allowed_domains"), "tools.filters.allowed_domains")
    query = _last_user_text([i for i in items if i.get("type", "message") == "message"])
    return SearchAsk(query.strip(), None, allowed, (), _location(search_tool.get("user_location")))


def gemini_ask(body: JSON) -> SearchAsk | None:
    """A Gemini request with a `googleSearch` (or older `googleSearchRetrieval`) tool."""
    tools = body.get("tools")
    if not isinstance(tools, list) or not any(
            isinstance(t, dict) and any(k in t for k in ("googleSearch", "google_search", "googleSearchRetrieval",
                                                         "google_search_retrieval")) for t in tools):
        return None
    return SearchAsk(_last_user_text(body.get("contents")).strip(), keep_tools=True)


# -- 2. the search request ---------------------------------------------------------------------


def _note(ask: SearchAsk) -> str | None:
    lines = []
    if ask.allowed:
        sites = " OR ".join(f"site:{d}" for d in ask.allowed)
        lines.append(f"Search only these sites: {', '.join(ask.allowed)} (add `{sites}` to your queries).")
    if ask.blocked:
        lines.append(f"Do not use results from: {', '.join(ask.blocked)} "
                     f"(add {' '.join('-site:' + d for d in ask.blocked)} to your queries).")
    if ask.location:
        where = ", ".join(ask.location[k] for k in ("city", "region", "country") if k in ask.location)
        if where:
            lines.append(f"The user is in {where}; prefer results for that place when it matters.")
    return "\n".join(lines) or None


def search_request(request: JSON, ask: SearchAsk) -> JSON:
    """The converted request as a Google Search grounded one: one `googleSearch` tool, no function
    calling config, the ask's domain and place rules added to the instruction."""
    out = dict(request)
    if not ask.keep_tools:
        out["tools"] = [{"googleSearch": {}}]
        out.pop("toolConfig", None)
    note = _note(ask)
    if note:
        si = out.get("systemInstruction")
        parts = list(si.get("parts") or []) if isinstance(si, dict) else []
        out["systemInstruction"] = {"role": "user", "parts": [*parts, {"text": note}]}
    return out


# -- 3. what the answer found ------------------------------------------------------------------


def _char_offsets(text: str) -> list[int]:
    """UTF-8 byte offset -> character offset, for every byte position of `text` (and its end)."""
    out: list[int] = []
    for i, ch in enumerate(text):
        out.extend([i] * len(ch.encode("utf-8")))
    out.append(len(text))
    return out


def found(response: JSON) -> Found:
    """The grounded answer (a collected GenerateContentResponse, wrapped or not)."""
    resp = unwrap(response)
    cand = first_candidate(resp)
    content = cand.get("content")
    parts = content.get("parts") if isinstance(content, dict) else None
    text = "".join(p["text"] for p in parts or [] if isinstance(p, dict) and isinstance(p.get("text"), str)
                   and not p.get("thought"))
    meta = _obj(cand.get("groundingMetadata"))
    queries = tuple(q for q in meta.get("webSearchQueries") or [] if isinstance(q, str) and q)
    sources: list[Source] = []
    for ch in meta.get("groundingChunks") or []:
        web = _obj(_obj(ch).get("web"))
        if isinstance(web.get("uri"), str):
            title = web.get("title") if isinstance(web.get("title"), str) else ""
            domain = web.get("domain") if isinstance(web.get("domain"), str) else None
            sources.append(Source(web["uri"], title or domain or web["uri"], domain))
        else:
            sources.append(Source("", ""))  # keeps the indices of the supports right
    offsets = _char_offsets(text)
    limit = len(offsets) - 1
    supports: list[Support] = []
    for sup in meta.get("groundingSupports") or []:
        seg = sup.get("segment") if isinstance(sup, dict) else None
        idx = sup.get("groundingChunkIndices") if isinstance(sup, dict) else None
        if not isinstance(seg, dict) or not isinstance(idx, list):
            continue
        start, end = seg.get("startIndex", 0), seg.get("endIndex")
        if not isinstance(start, int) or not isinstance(end, int) or not 0 <= start < end:
            continue
        keep = tuple(i for i in idx if isinstance(i, int) and 0 <= i < len(sources) and sources[i].url)
        if keep:
            supports.append(Support(offsets[min(start, limit)], offsets[min(end, limit)], keep))
    return Found(text, queries, tuple(sources), tuple(sorted(supports, key=lambda s: s.start)), resp)


def with_links(f: Found, resolved: dict[str, str]) -> Found:
    """The sources with Google's redirect links replaced by the pages they lead to."""
    return replace(f, sources=tuple(replace(s, url=resolved.get(s.url, s.url)) for s in f.sources))


def _host(s: Source) -> str:
    host = urlsplit(s.url).hostname or ""
    if not host or host == "vertexaisearch.cloud.google.com":  # an unresolved link: the title names the site
        host = s.domain or s.title
    return host.lower().removeprefix("www.")


def _matches(host: str, domains: tuple[str, ...]) -> bool:
    return any(host == d.removeprefix("www.") or host.endswith("." + d.removeprefix("www.")) for d in domains)


def filtered(f: Found, ask: SearchAsk) -> Found:
    """Only the sources the ask allows (allowed_domains, blocked_domains); a support keeps the
    sources left, and one with none left is no citation any more."""
    if not ask.allowed and not ask.blocked:
        return f
    ok = [bool(s.url) and (not ask.allowed or _matches(_host(s), ask.allowed))
          and not (ask.blocked and _matches(_host(s), ask.blocked)) for s in f.sources]
    supports = tuple(replace(s, sources=kept) for s in f.supports if (kept := tuple(i for i in s.sources if ok[i])))
    sources = tuple(s if ok[i] else Source("", "") for i, s in enumerate(f.sources))
    return replace(f, sources=sources, supports=supports)


def unique_sources(f: Found) -> list[Source]:
    """Each source once (by URL), in the order the answer lists them."""
    seen: dict[str, Source] = {}
    for s in f.sources:
        if s.url and s.url not in seen:
            seen[s.url] = s
    return list(seen.values())


def pieces(f: Found) -> list[tuple[str, list[Source]]]:
    """The answer text cut at its supports: (text, the sources it cites), uncited text with []."""
    out: list[tuple[str, list[Source]]] = []
    pos = 0
    for sup in f.supports:
        start = max(sup.start, pos)
        if start >= sup.end:
            continue  # overlaps what was already cited
        if start > pos:
            out.append((f.text[pos:start], []))
        cited = list(dict.fromkeys(f.sources[i] for i in sup.sources))
        out.append((f.text[start:sup.end], cited))
        pos = sup.end
    if pos < len(f.text):
        out.append((f.text[pos:], []))
    return [(t, c) for t, c in out if t]
