"""A conversation's beginning, converted once: an agent loop sends its whole conversation with
every request, the same messages again plus one or two new ones; only the new ones are converted.

A converter (openai_shapes, anthropic) converts messages one at a time into a `History`: the
turns so far, paired as they come (`core.turns.Pairing`), the system texts, the tool-call names
learned and every answer the signature memory gave. After each message the History marks its
state. When the request's raw body is known, the states are remembered with the body; the next
request that begins with the same bytes resumes after the last message they cover.

Exactness, not likelihood: a remembered state after message k is used only when
- the request's bytes up to where message k ends in the remembered body are that body's bytes;
- those bytes end with the remembered messages, found in the remembered body one after another
  from its `messages` array's start, each byte for byte as orjson writes that request's parsed
  message (so the same bytes are the same messages, value for value: 1, 1.0 and true differ, and
  key order counts);
- they are this request's `messages` array: its first `"messages"` key, no escape before it that
  could spell another, this request's other messages found after them the same way up to the
  array's `]`, and no later key that could replace the array (no `"messages"` and no `\\u` escape
  after it);
- the converter and what it reads besides the messages are the same (`kind`: e.g. the signature
  family of the upstream model);
- the signature memory still gives every answer the conversion was made with (asked again, in
  the same order, so its own bookkeeping sees the lookups of a fresh conversion).
Bodies in another layout (pretty-printed, other spellings of numbers) are converted as before.
The places of a body's messages are worked out (an orjson.dumps per message) only when another
request comes that shares its beginning, and only as far as they share it: a conversation seen
once costs its states, not the search.

The remembered states share the converted parts with the requests made from them: nothing
downstream changes a converted part or a paired turn (the request path copies what it changes).
Memory is bounded: bodies under 1 MiB (bigger ones are converted in a worker thread, without
this), `MAX_BYTES` of remembered bodies and `MAX_ENTRIES` conversations, least recently used
dropped first; a conversation that moves on replaces its entry. The engine loop's thread is the
one user in the app (bigger bodies, converted in a worker, bring no `raw`); a lock keeps the
tables whole when a test runs two apps' loops in two threads.

That sharing is checked, not only promised: with `verify` on (the test suite turns it on in
tests/conftest.py), each remembered conversation keeps a fingerprint of its converted parts and
a resume fails loudly (`SharedPartChanged`) when anything changed them since.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from typing import Any

import orjson

from trayproxy.json_types import JSON
from trayproxy.protocols.core.turns import Pairing

__all__ = ["History", "IDLE", "resume", "remember", "clear", "MAX_BYTES", "MAX_ENTRIES", "MAX_BODY",
           "SharedPartChanged"]

#: Keep a fingerprint of every remembered conversion and check it at each resume (tests).
verify = False


class SharedPartChanged(AssertionError):
    """Something downstream changed a converted part the memo shares with later requests."""

MAX_BODY = 1024 * 1024  # bodies from here on are converted off the loop, without the memo
MAX_BYTES = 4 * 1024 * 1024  # remembered body bytes in all (the parsed values they hold: ~2-3x)
MAX_ENTRIES = 32
_BUCKET_HEAD = 64  # bytes of the first message that, with what precedes it, pick the candidates
_PARTIAL_TRIES = 2  # candidates searched for a partial match (the most recent of the bucket)
_WS = b" \t\r\n"
_FAILED = object()  # a lookup that raised

# after a message: the pairing's (done turns, open run's role, its parts list, how many of
# them), then how many system texts, names and lookups there were
Mark = tuple[int, str | None, list[JSON], int, int, int, int]
_START: Mark = (0, None, [], 0, 0, 0, 0)  # before the first message


class History:
    """A conversation's conversion so far: paired turns, system texts, tool-call names learned
    (in order), the signature memory's answers (in order), and the state after each message."""

    __slots__ = ("pairing", "system", "names", "lookups", "marks", "offsets", "entry", "start", "recording")

    def __init__(self) -> None:
        self.pairing = Pairing()
        self.system: list[str] = []
        self.names: list[tuple[str, str]] = []
        self.lookups: list[tuple[str, Any]] = []
        self.marks: list[Mark] = [_START]
        # where each message's bytes end in the body (offsets[0]: the array's first element);
        # at a first sight only the start
        self.offsets: list[int] = []
        self.entry: _Entry | None = None  # the remembered conversation this one resumed
        self.start = 0  # messages before this index came from `entry`
        self.recording = False  # the states are kept (the body's layout may be understood)

    def mark(self) -> None:
        """A message was converted (call only while `recording`): the state now, which stays
        valid while more messages are converted (every list it counts only grows)."""
        p = self.pairing
        self.marks.append((len(p.out), p.role, p.parts, len(p.parts), len(self.system), len(self.names),
                           len(self.lookups)))

    def lookup(self, signatures: Mapping[str, str], key: str) -> Any:
        """`signatures.get(key)`, noted. A lookup that raises is noted as such and raises."""
        if not self.recording:
            return signatures.get(key)
        try:
            value = signatures.get(key)
        except Exception:
            self.lookups.append((key, _FAILED))
            raise
        self.lookups.append((key, value))
        return value

    def name(self, call_id: str, name: str, names: dict[str, str]) -> None:
        """A tool call's name learned (`names[call_id] = name`), noted."""
        names[call_id] = name
        if self.recording:
            self.names.append((call_id, name))

    def known_names(self) -> dict[str, str]:
        return dict(self.names)


IDLE = History()  # records nothing: what a converter holds before its conversation begins


class _Entry:
    __slots__ = ("bucket", "body", "offsets", "messages", "marks", "out", "system", "names", "lookups",
                 "fingerprint")

    def __init__(self, bucket: Hashable, body: bytes, h: History, messages: list[Any] | None) -> None:
        self.bucket = bucket
        # the body: all of it while some messages' places are still to find, then up to where
        # the last message ends
        self.body = body
        self.offsets = h.offsets  # the places found so far
        self.messages = messages  # the parsed messages whose places may still be found, else None
        self.marks = h.marks
        self.out = list(h.pairing.out)
        self.system = h.system[:]
        self.names = h.names[:]
        self.lookups = h.lookups[:]
        self.fingerprint = _fingerprint(self) if verify else None

    @property
    def whole(self) -> bool:
        """Every message's place is known."""
        return len(self.offsets) == len(self.marks)


def _fingerprint(e: _Entry) -> bytes:
    """The remembered turns and the open runs' parts, as bytes (what a later resume hands out)."""
    turns = [[t.role, t.parts] for t in e.out]
    runs = [[m[1], m[2][: m[3]]] for m in e.marks]
    return orjson.dumps([turns, runs], default=repr)


_entries: OrderedDict[int, _Entry] = OrderedDict()  # id -> entry, least recently used first
_buckets: dict[Hashable, list[_Entry]] = {}
_bytes = 0
_lock = threading.Lock()


def clear() -> None:
    global _bytes
    with _lock:
        _entries.clear()
        _buckets.clear()
        _bytes = 0


# -- the body's layout ----------------------------------------------------------------------

def _array_start(raw: bytes) -> int | None:
    """Where the first element of the body's `messages` array begins (see the module comment)."""
    k = raw.find(b'"messages"')
    if k < 0 or raw.find(b"\\u", 0, k) >= 0:
        return None
    i, n = k + 10, len(raw)
    while i < n and raw[i] in _WS:
        i += 1
    if i >= n or raw[i] != 58:  # ':'
        return None
    i += 1
    while i < n and raw[i] in _WS:
        i += 1
    if i >= n or raw[i] != 91:  # '['
        return None
    return i + 1


def _next(raw: bytes, pos: int, first: bool, message: Any) -> int:
    """Where `message` ends when it is the array's next element after `pos` (-1: it is not)."""
    n = len(raw)
    while pos < n and raw[pos] in _WS:
        pos += 1
    if not first:
        if pos >= n or raw[pos] != 44:  # ','
            return -1
        pos += 1
        while pos < n and raw[pos] in _WS:
            pos += 1
    try:
        d = orjson.dumps(message)
    except TypeError:
        return -1
    return pos + len(d) if raw.startswith(d, pos) else -1


def _found(raw: bytes, messages: list[Any], offsets: list[int]) -> bool:
    """The messages after the `len(offsets) - 1` already placed found one after another, then
    the array's end and nothing after it that could be another `messages` key. Fills offsets."""
    pos = offsets[-1]
    for i in range(len(offsets) - 1, len(messages)):
        pos = _next(raw, pos, not i, messages[i])
        if pos < 0:
            return False
        offsets.append(pos)
    n = len(raw)
    while pos < n and raw[pos] in _WS:
        pos += 1
    if pos >= n or raw[pos] != 93:  # ']'
        return False
    return raw.find(b'"messages"', pos) < 0 and raw.find(b"\\u", pos) < 0


def _reach(e: _Entry, upto: int) -> None:
    """Find the places of the entry's messages in its body while they end before `upto`."""
    global _bytes
    msgs = e.messages
    if msgs is None:
        return
    offsets, body = e.offsets, e.body
    i, pos = len(offsets) - 1, offsets[-1]
    while i < len(msgs) and pos < upto:
        pos = _next(body, pos, not i, msgs[i])
        if pos < 0:  # not this layout: what was found stays usable
            e.messages = None
            return
        offsets.append(pos)
        i += 1
    if i == len(msgs):
        e.messages = None
        e.body = body[:pos]
        _bytes -= len(body) - pos


def _common(raw: bytes, body: bytes) -> int:
    """How many bytes `raw` and `body` begin with alike."""
    if raw.startswith(body):
        return len(body)
    view = memoryview(body)
    lo, hi = 0, min(len(raw), len(body))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if raw.startswith(view[:mid]):
            lo = mid
        else:
            hi = mid - 1
    return lo


def _longest(raw: bytes, e: _Entry) -> int:
    """How many of the entry's messages the body begins with (their bytes)."""
    if not e.whole:
        common = _common(raw, e.body)
        _reach(e, common)
        return bisect_right(e.offsets, common) - 1  # offsets[0] is the array start, not a message end
    view, offsets = memoryview(e.body), e.offsets
    lo, hi = 0, len(offsets) - 1  # offsets[0], the array's start, matches (the bucket says so)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if raw.startswith(view[: offsets[mid]]):
            lo = mid
        else:
            hi = mid - 1
    return lo


def _still_answered(e: _Entry, j: int, signatures: Mapping[str, str]) -> int:
    """The last message index up to which every signature answer is the same now."""
    lookups = e.lookups
    for m in range(e.marks[j][6]):
        key, was = lookups[m]
        now: Any
        try:
            now = signatures.get(key)
        except Exception:
            now = _FAILED
        if now is not was and now != was:
            while e.marks[j][6] > m:
                j -= 1
            return j
    return j


# -- resuming and remembering ----------------------------------------------------------------

def resume(kind: Hashable, raw: bytes | None, messages: list[Any], signatures: Mapping[str, str]) -> History:
    """A History for `messages` of the body `raw`: resumed after the longest remembered beginning
    (`History.start` messages already converted), or empty. `kind`: the converter and every input
    its per-message conversion reads besides the messages and the signature memory."""
    if raw is None or len(raw) >= MAX_BODY:
        return History()
    with _lock:
        return _resume(kind, raw, messages, signatures)


def _resume(kind: Hashable, raw: bytes, messages: list[Any], signatures: Mapping[str, str]) -> History:
    h = History()
    a = _array_start(raw)
    if a is None:
        return h
    h.recording = True
    h.offsets.append(a)
    bucket = (kind, raw[: a + _BUCKET_HEAD])
    best: _Entry | None = None
    j = 0
    candidates = _buckets.get(bucket)
    if candidates:
        n = len(messages)
        for e in reversed(candidates):  # most recent first; a whole match ends the search
            if e.whole and len(e.marks) - 1 <= n and raw.startswith(e.body):
                best, j = e, len(e.marks) - 1
                break
        else:
            for e in reversed(candidates[-_PARTIAL_TRIES:]):
                k = min(_longest(raw, e), n)
                if k > j:
                    best, j = e, k
    if best is None or not j:
        return h  # converted from the start; its messages' places are found if it comes back
    h.offsets = best.offsets[: j + 1]
    if not _found(raw, messages, h.offsets):
        return History()  # the known beginning cannot be proven to be this body's messages
    # Only now, with the beginning proven, ask the signature memory again (a fresh conversion
    # asks it the same questions in the same order); a changed answer resumes before it. The
    # messages in between are the remembered ones still (their places in the body too).
    j = _still_answered(best, j, signatures)
    if not j:
        return h
    if best.fingerprint is not None and _fingerprint(best) != best.fingerprint:
        raise SharedPartChanged("a converted part the prefix memo shares was changed after it was remembered")
    n_out, role, parts, n_parts, n_system, n_names, n_lookups = best.marks[j]
    h.pairing = Pairing.resume(best.out, n_out, role, parts[:n_parts])
    h.system = best.system[:n_system]
    h.names = best.names[:n_names]
    h.lookups = best.lookups[:n_lookups]
    h.marks = best.marks[: j + 1]
    h.entry, h.start = best, j
    _entries.move_to_end(id(best))
    return h


def remember(kind: Hashable, raw: bytes | None, h: History, messages: list[Any]) -> None:
    """After the conversion of every message: remember this conversation's states (call before
    `h.pairing.finish()`)."""
    if raw is None or not h.recording or len(h.marks) != len(messages) + 1:
        return
    with _lock:
        _remember(kind, raw, h, messages)


def _remember(kind: Hashable, raw: bytes, h: History, messages: list[Any]) -> None:
    global _bytes
    old = h.entry
    if old is not None and h.start == len(old.marks) - 1 == len(messages):
        return  # the very conversation remembered already
    bucket = (kind, raw[: h.offsets[0] + _BUCKET_HEAD])
    if len(h.offsets) == len(h.marks):
        e = _Entry(bucket, raw[: h.offsets[-1]], h, None)
    else:  # a first sight: its messages' places are found only if it comes back
        e = _Entry(bucket, raw, h, messages)
    if old is not None:
        # The conversation moved on from the one it resumed: an agent loop added messages, a
        # client changed one (a moved cache marker, a regenerated answer). Its states up to
        # where they agree are this one's too; one conversation keeps one entry.
        _drop(old)
    _entries[id(e)] = e
    _buckets.setdefault(bucket, []).append(e)
    _bytes += len(e.body)
    while _entries and (_bytes > MAX_BYTES or len(_entries) > MAX_ENTRIES):
        _drop(next(iter(_entries.values())))


def _drop(e: _Entry) -> None:
    global _bytes
    if _entries.pop(id(e), None) is None:
        return
    _bytes -= len(e.body)
    same = _buckets.get(e.bucket)
    if same is not None:
        same.remove(e)
        if not same:
            del _buckets[e.bucket]
