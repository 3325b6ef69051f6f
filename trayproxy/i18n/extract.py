"""Babel extraction of the settings page's HTML (index.html): the messages i18n.js translates.

The rules, the same on both sides (i18n.js `translateDom`):
1. An element with `data-i18n` is one message: its content with whitespace runs collapsed to one
   space and trimmed, each child element written `{0}`, `{1}`, ... in order (a translation may
   move them: "Turn it on under {0}." keeps the <b> and its text where the translator put it).
   A child with its own `data-i18n` is a message of its own.
2. `data-i18n-attr="title,aria-label,placeholder"` names attributes whose values are messages.
Babel calls `extract_html(fileobj, keywords, comment_tags, options)` (babel.cfg / build.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import IO, Any

__all__ = ["extract_html", "html_messages", "normalize"]

_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
_SPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        # one frame per open element: [tag, a message?, its parts, child elements so far, line]
        self.stack: list[list[Any]] = []
        self.found: list[tuple[int, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        line = self.getpos()[0]
        for name in (a.get("data-i18n-attr") or "").split(","):
            value = a.get(name.strip())
            if name.strip() and value and normalize(value):
                self.found.append((line, normalize(value)))
        parent = self.stack[-1] if self.stack else None
        if parent is not None and parent[1]:  # a child element of a message: a placeholder
            parent[2].append(f"{{{parent[3]}}}")
            parent[3] += 1
        if tag in _VOID:
            return
        self.stack.append([tag, "data-i18n" in a, [], 0, line])

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        while self.stack:
            frame = self.stack.pop()
            if frame[1]:
                text = normalize("".join(frame[2]))
                if text:
                    self.found.append((frame[4], text))
            if frame[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        if self.stack and self.stack[-1][1]:
            self.stack[-1][2].append(data)


def html_messages(text: str) -> list[tuple[int, str]]:
    """(line, message) for every message of an HTML page, in document order of their ends."""
    p = _Parser()
    p.feed(text)
    p.close()
    return sorted(p.found)


def extract_html(fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any
                 ) -> Iterator[tuple[int, str | None, str, list[str]]]:
    for line, message in html_messages(fileobj.read().decode("utf-8")):
        yield line, None, message, []
