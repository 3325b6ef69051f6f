from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
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


# -- feed_data: the bytes-level fast path must give exactly what the general decoder gives ------

_EOL = st.sampled_from([b"\r\n", b"\n", b"\r"])
# line content: any bytes but CR/LF, invalid UTF-8 included
_CONTENT = st.binary(max_size=12).map(lambda b: b.replace(b"\r", b"x").replace(b"\n", b"y"))
_JSONISH = st.text(max_size=12).map(lambda t: json.dumps({"t": t}).encode())


@st.composite
def _line(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["data", "data", "data", "nospace", "bare", "comment", "event", "id", "retry",
                                 "other", "blank"]))
    value = draw(st.one_of(_JSONISH, _CONTENT))
    return {
        "data": b"data: " + value, "nospace": b"data:" + value, "bare": b"data", "comment": b":" + value,
        "event": b"event: " + value, "id": b"id: " + value, "retry": b"retry: 10", "other": b"x" + value + b": 1",
        "blank": b"",
    }[kind]


@st.composite
def _stream(draw: st.DrawFn) -> bytes:
    """Mostly well-formed `data:` frames (each with one line end for its two lines, as servers
    send them), mixed with every other kind of line and line end."""
    out = b""
    for _ in range(draw(st.integers(min_value=0, max_value=10))):
        if draw(st.booleans()):
            eol = draw(_EOL)
            out += b"data: " + draw(_JSONISH) + eol + eol
        else:
            out += draw(_line()) + draw(_EOL)
    if draw(st.booleans()):
        out += draw(_line())  # a last line without its end
    return out


def _split(raw: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(raw) + 1) for c in cuts})
    return [raw[a:b] for a, b in zip([0, *points], [*points, len(raw)], strict=True)]


def _general(chunks: list[bytes]) -> list[str]:
    d = SSEDecoder()
    out = [e.data for c in chunks for e in d.feed(c)]
    return out + [e.data for e in d.close()]


def _fast(chunks: list[bytes]) -> list[str]:
    d = SSEDecoder()
    out = [x.decode("utf-8", "replace") for c in chunks for x in d.feed_data(c)]
    return out + [x.decode("utf-8", "replace") for x in d.close_data()]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_stream(), st.lists(st.integers(min_value=0, max_value=400), max_size=6))
def test_feed_data_matches_the_general_decoder_for_any_framing_and_split(raw: bytes, cuts: list[int]) -> None:
    chunks = _split(raw, cuts)
    assert _fast(chunks) == _general(chunks) == _general([raw])


def test_feed_data_framings() -> None:
    frames = (b'data: {"a":1}\r\n\r\n' b'data:{"b":2}\n\n' b": keep-alive\r\n\r\n" b"event: e\r\nid: 7\r\ndata: x\r\n\r\n"
              b"data: one\ndata: two\n\n" b"data: cr\r\r" b"data: \r\n\r\n" b"data: tail")
    assert _fast([frames]) == ['{"a":1}', '{"b":2}', "x", "one\ntwo", "cr", "", "tail"]
    # cut inside a CRLF pair, inside the prefix, inside a UTF-8 sequence
    text = 'data: {"t":"é"}\r\n\r\n'.encode()
    for i in range(1, len(text)):
        assert _fast([text[:i], text[i:], text]) == ['{"t":"é"}'] * 2
    # invalid UTF-8 is passed on as bytes that decode to what the general decoder gives
    assert SSEDecoder().feed_data(b"data: \xff\xfe\n\n") == [b"\xff\xfe"]
    assert _fast([b"data: \xff\n\n"]) == _general([b"data: \xff\n\n"]) == ["\ufffd"]


def test_feed_data_splits_common_frames_without_the_line_decoder(monkeypatch) -> None:
    def no_lines(self: SSEDecoder, line: str, out: list) -> None:
        raise AssertionError(f"the general decoder ran for {line!r}")

    monkeypatch.setattr(SSEDecoder, "_line", no_lines)
    d = SSEDecoder()
    chunk = b"".join(b'data: {"i":%d}\r\n\r\n' % i for i in range(50))
    assert d.feed_data(chunk) == [b'{"i":%d}' % i for i in range(50)]
    assert d.feed_data(b'data: {"lf":1}\n\ndata: {"lf":2}\n\n') == [b'{"lf":1}', b'{"lf":2}']
