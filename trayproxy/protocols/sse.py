"""Server-Sent Events: an incremental decoder and the encoders every protocol uses.

Pure code: bytes in, events out. The decoder follows the WHATWG event-stream rules that
matter for LLM APIs: lines end in LF, CRLF or CR; `data:` lines of one event are joined with
LF; a blank line dispatches; lines starting with `:` are comments; a missing space after the
colon is allowed.

`feed_data` is the same decoder for callers that want only each event's data, as bytes: the
common framing (`data: <payload>` then a blank line, CRLF or LF) is split at the bytes level
without building lines or events; anything else (comments, `event:`/`id:` fields, multi-line
data, CR line ends, a frame cut by a chunk boundary) goes through the general decoder.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

__all__ = ["SSEEvent", "SSEDecoder", "encode_data", "encode_event", "encode_comment", "DONE"]

DONE = b"data: [DONE]\n\n"


@dataclass(frozen=True, slots=True)
class SSEEvent:
    data: str
    event: str | None = None
    id: str | None = None

    def json(self) -> Any:
        return orjson.loads(self.data)


class SSEDecoder:
    """Feed raw bytes as they arrive; get complete events back.

    Bytes may be split anywhere, including inside a UTF-8 sequence or between CR and LF.
    """

    __slots__ = ("_buf", "_data", "_event", "_id", "_pending_cr")

    def __init__(self) -> None:
        self._buf = b""
        self._data: list[str] = []
        self._event: str | None = None
        self._id: str | None = None
        self._pending_cr = False

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if self._pending_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]
        self._pending_cr = False
        buf = self._buf + chunk
        out: list[SSEEvent] = []
        start = 0
        n = len(buf)
        cr = buf.find(b"\r")
        while start < n:
            lf = buf.find(b"\n", start)
            if cr != -1 and cr < start:  # searched again only once passed, not per line
                cr = buf.find(b"\r", start)
            if lf == -1 and cr == -1:
                break
            if cr != -1 and (lf == -1 or cr < lf):
                end = cr
                if cr + 1 < n:
                    nxt = cr + 2 if buf[cr + 1 : cr + 2] == b"\n" else cr + 1
                else:
                    # CR at the very end: the LF may come in the next chunk.
                    self._pending_cr = True
                    nxt = cr + 1
            else:
                end = lf
                nxt = lf + 1
            self._line(buf[start:end].decode("utf-8", "replace"), out)
            start = nxt
        self._buf = buf[start:]
        return out

    def feed_data(self, chunk: bytes) -> list[bytes]:
        """The data of every event this chunk completes, UTF-8 encoded: each item decodes
        (`decode("utf-8", "replace")`) to the `data` `feed` would give. Fast for complete
        `data: ...` frames; the general decoder for everything else."""
        if self._buf or self._pending_cr or self._data:  # inside a line or an event: the general path
            return [ev.data.encode() for ev in self.feed(chunk)]
        out: list[bytes] = []
        start = 0
        n = len(chunk)
        while start < n and chunk.startswith(b"data:", start):
            lf = chunk.find(b"\n", start + 5)
            if lf == -1:
                break
            if chunk[lf - 1] == 13:  # CRLF: the blank line must be CRLF too
                end = lf - 1
                if chunk[lf + 1 : lf + 3] != b"\r\n":
                    break
                nxt = lf + 3
            else:
                end = lf
                if chunk[lf + 1 : lf + 2] != b"\n":
                    break
                nxt = lf + 2
            if chunk.find(b"\r", start, end) != -1:  # a bare CR ends a line earlier
                break
            value = start + 6 if chunk[start + 5] == 32 else start + 5
            out.append(chunk[value:end])
            start = nxt
        if start:
            self._event = None  # dispatched, as the general decoder does
        if start < n:
            out += [ev.data.encode() for ev in self.feed(chunk[start:] if start else chunk)]
        return out

    def close_data(self) -> list[bytes]:
        """`close` for `feed_data` callers."""
        return [ev.data.encode() for ev in self.close()]

    def close(self) -> list[SSEEvent]:
        """End of stream: a final event without its blank line is still delivered."""
        out: list[SSEEvent] = []
        if self._buf:
            self._line(self._buf.decode("utf-8", "replace"), out)
            self._buf = b""
        self._line("", out)
        return out

    def _line(self, line: str, out: list[SSEEvent]) -> None:
        if not line:
            if self._data:
                out.append(SSEEvent("\n".join(self._data), self._event, self._id))
            self._data = []
            self._event = None
            return
        if line[0] == ":":
            return
        field, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._event = value
        elif field == "id":
            self._id = value


def encode_data(obj: Any) -> bytes:
    """`data: <json>\\n\\n`, the OpenAI and Gemini framing."""
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def encode_event(name: str, obj: Any) -> bytes:
    """`event: <name>\\ndata: <json>\\n\\n`, the Anthropic and Responses framing."""
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(obj) + b"\n\n"


def encode_comment(text: str = "ping") -> bytes:
    """A comment line: keeps idle connections alive, ignored by every SSE client."""
    return b": " + text.encode() + b"\n\n"
