from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from trayproxy.protocols.sse import SSEDecoder, encode_comment, encode_data, encode_event


def decode_all(chunks: list[bytes]) -> list[tuple[str | None, str]]:
    d = SSEDecoder()
    out = []
    for c in chunks:
        out += [(e.event, e.data) for e in d.feed(c)]
    out += [(e.event, e.data) for e in d.close()]
    return out


def test_crlf_lf_cr_comments_and_multiline() -> None:
    raw = b": hello\r\ndata: {\"a\":1}\r\n\r\nevent: x\ndata: line1\ndata:line2\n\ndata: z\r\rdata: tail"
    assert decode_all([raw]) == [(None, '{"a":1}'), ("x", "line1\nline2"), (None, "z"), (None, "tail")]


@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40), min_size=1, max_size=8),
       st.integers(min_value=1, max_value=7), st.sampled_from([b"\n\n", b"\r\n\r\n"]))
def test_any_split_point_gives_the_same_events(texts: list[str], step: int, sep: bytes) -> None:
    frames = b"".join(b"data: " + json.dumps(t).encode() + sep for t in texts)
    chunks = [frames[i : i + step] for i in range(0, len(frames), step)]
    assert [json.loads(d) for _, d in decode_all(chunks)] == texts


def test_encoders() -> None:
    assert encode_data({"a": 1}) == b'data: {"a":1}\n\n'
    assert encode_event("ping", {"type": "ping"}) == b'event: ping\ndata: {"type":"ping"}\n\n'
    assert encode_comment() == b": ping\n\n"


@given(st.lists(st.tuples(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30),
                          st.sampled_from([b"\n\n", b"\r\n\r\n", b"\r\r", b"\r\n\n", b"\n\r\n"])), min_size=1, max_size=8),
       st.integers(min_value=1, max_value=9))
def test_mixed_line_ends_switching_between_fast_and_line_paths(frames: list[tuple[str, bytes]], step: int) -> None:
    raw = b"".join(b"data: " + json.dumps(t).encode() + sep for t, sep in frames)
    chunks = [raw[i : i + step] for i in range(0, len(raw), step)]
    assert [json.loads(d) for _, d in decode_all(chunks)] == [t for t, _ in frames]
    assert decode_all([raw]) == decode_all(chunks)
