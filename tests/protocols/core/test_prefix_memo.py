"""core.prefix_memo: a conversation's known beginning is not converted again, and the result is
the fresh conversion's, byte for byte, whatever the requests do between them: messages added,
changed (also to values Python finds equal: 1, 1.0, true; keys reordered), removed; signatures
learned, forgotten and replaced; bodies written in other layouts, with keys that could replace the
messages array, or escaped spellings."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trayproxy.protocols import anthropic, openai_chat
from trayproxy.protocols.core import prefix_memo
from trayproxy.protocols.core.turns import reasoning_key
from trayproxy.protocols.errors import RequestError
from trayproxy.protocols.gemini import encode_signature

MODELS = ["gemini-3-flash", "gemini-2.5-flash", "claude-sonnet-4-5-thinking", "gemini-2.5-flash-lite"]
IDS = ["c1", "c2", "c3", "c4"]
TEXTS = ["", " ", "hi", "Step 1: let me look.", "thinking it over", "x\ny", "\u00e9t\u00e9 \u2603", "\x1b[31mred\x1b[0m"]
NUMBERS = st.sampled_from([0, 1, 1.0, -0.0, 0.0, True, False, 120, 1e-05, None, "1"])
ARGS = st.dictionaries(st.sampled_from(["path", "n", "flag", "limit"]), NUMBERS | st.sampled_from(TEXTS), max_size=3)


class Recorder(Mapping[str, str]):
    """A signature memory that notes every lookup (the order matters to the real one's LRU)."""

    def __init__(self, data: dict[str, str]) -> None:
        self.data = data
        self.log: list[str] = []

    def __getitem__(self, key: str) -> str:
        return self.data[key]

    def get(self, key: str, default: Any = None) -> Any:
        self.log.append(key)
        return self.data.get(key, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


def last_accesses(log: list[str]) -> list[str]:
    """The order an LRU ends up in: each key at its last lookup."""
    return list(dict.fromkeys(reversed(log)))[::-1]


# -- OpenAI chat messages -------------------------------------------------------------------

def _openai_message() -> st.SearchStrategy[dict[str, Any]]:
    call = st.builds(lambda cid, name, args, as_text: {
        "id": cid, "type": "function",
        "function": {"name": name, "arguments": json.dumps(args) if as_text else args}},
        st.sampled_from(IDS), st.sampled_from(["read", "run"]), ARGS, st.booleans())
    content = st.sampled_from(TEXTS) | st.none() | st.lists(
        st.sampled_from(TEXTS).map(lambda t: {"type": "text", "text": t}), max_size=2)
    return st.one_of(
        st.builds(lambda c: {"role": "user", "content": c}, content),
        st.builds(lambda c: {"role": "system", "content": c}, st.sampled_from(TEXTS)),
        st.builds(lambda c, calls, r: {"role": "assistant", "content": c,
                                       **({"tool_calls": calls} if calls else {}),
                                       **({"reasoning_content": r} if r else {})},
                  content, st.lists(call, max_size=2), st.sampled_from([None, "thinking it over", "hi"])),
        st.builds(lambda cid, c: {"role": "tool", "tool_call_id": cid, "content": c},
                  st.sampled_from(IDS), st.sampled_from(TEXTS) | st.lists(
                      st.sampled_from(TEXTS).map(lambda t: {"type": "text", "text": t}), max_size=2)),
        st.builds(lambda n, c: {"role": "function", "name": n, "content": c}, st.sampled_from(["read", "run"]),
                  st.sampled_from(TEXTS)),
        st.just({"role": "robot", "content": "x"}),  # an error, at its index
    )


def _anthropic_message() -> st.SearchStrategy[dict[str, Any]]:
    sig = st.sampled_from([None, "", "raw-sig", encode_signature("sig-g3", model="gemini-3-flash"),
                           encode_signature("sig-g2", model="gemini-2.5-flash"), encode_signature("sig-c", model="claude-x")])
    text = st.sampled_from(TEXTS).map(lambda t: {"type": "text", "text": t})
    use = st.builds(lambda tid, name, args, s: {"type": "tool_use", "id": tid, "name": name, "input": args,
                                                **({"signature": s} if s is not None else {})},
                    st.sampled_from(IDS), st.sampled_from(["read", "run"]), ARGS, sig)
    thinking = st.builds(lambda t, s: {"type": "thinking", "thinking": t, **({"signature": s} if s is not None else {})},
                         st.sampled_from(TEXTS), sig)
    result = st.builds(lambda tid, c, err: {"type": "tool_result", "tool_use_id": tid, "content": c,
                                            **({"is_error": err} if err is not None else {})},
                       st.sampled_from(IDS), st.sampled_from(TEXTS) | st.lists(text, max_size=2),
                       st.sampled_from([None, True, False, 1]))
    return st.one_of(
        st.builds(lambda c: {"role": "user", "content": c}, st.sampled_from(TEXTS) | st.lists(text | result, max_size=3)),
        st.builds(lambda c: {"role": "assistant", "content": c},
                  st.sampled_from(TEXTS) | st.lists(text | use | thinking, max_size=3)),
        st.builds(lambda c: {"role": "system", "content": c}, st.sampled_from(TEXTS)),
        st.just({"role": "user", "content": [{"type": "tool_use", "id": "c1", "name": "x", "input": {}}]}),  # error
    )


def _edit(messages: list[dict[str, Any]], kind: str, at: int, new: list[dict[str, Any]],
          value: Any) -> list[dict[str, Any]]:
    """The next request's messages from this one's."""
    msgs = [dict(m) for m in messages]
    at = at % (len(msgs) + 1)
    if kind == "append":
        return msgs + new
    if kind == "replace" and msgs:
        msgs[at % len(msgs)] = new[0] if new else msgs[at % len(msgs)]
        return msgs
    if kind == "truncate":
        return msgs[:at] + new
    if kind == "retype" and msgs:  # a value Python finds equal, in another type, or keys reordered
        m = msgs[at % len(msgs)]
        msgs[at % len(msgs)] = {k: m[k] for k in reversed(list(m))} if value is None else {**m, "x_extra": value}
        return msgs
    return msgs + new


def _layout(body: dict[str, Any], how: str) -> bytes:
    if how == "compact":
        return orjson.dumps(body)
    if how == "spaced":  # Python's default separators: not orjson's, so never remembered
        return json.dumps(body).encode()
    if how == "ascii":  # \\u escapes (after the array: the body is converted, not remembered)
        return json.dumps(body, separators=(",", ":")).encode()
    if how in ("dup_after", "escaped_dup"):
        # a later key replaces the array with one of the same length and the same last
        # messages: only what follows the array tells them apart
        raw = orjson.dumps(body)
        other = [{"role": "user", "content": "replaced"}, *body["messages"][1:]]
        key = b'"messages"' if how == "dup_after" else b'"\\u006dessages"'
        return raw[:-1] + b"," + key + b":" + orjson.dumps(other) + b"}"
    if how == "messages_first":
        return orjson.dumps({"messages": body["messages"], **{k: v for k, v in body.items() if k != "messages"}})
    raise AssertionError(how)


steps = st.lists(st.tuples(
    st.sampled_from(["append", "append", "append", "replace", "truncate", "retype"]),
    st.integers(0, 30),
    st.sampled_from(["compact", "compact", "compact", "spaced", "ascii", "dup_after", "escaped_dup", "messages_first"]),
    st.sampled_from([None, 1, 1.0, True]),
    st.lists(st.tuples(st.sampled_from([*IDS, "r1", "r2"]),
                       st.sampled_from([None, "raw-sig", encode_signature("sig-g3", model="gemini-3-flash"),
                                        encode_signature("sig-c", model="claude-x")])), max_size=3),
), min_size=1, max_size=8)


def _run(convert: Callable[..., dict[str, Any]], base: dict[str, Any], first: list[dict[str, Any]],
         history: list[Any], message: st.SearchStrategy[dict[str, Any]], data: st.DataObject, model: str) -> None:
    prefix_memo.clear()
    signatures: dict[str, str] = {}
    messages = first
    for kind, at, layout, value, sig_changes in history:
        new = data.draw(st.lists(message, min_size=0, max_size=3))
        messages = _edit(messages, kind, at, new, value) or new or first
        for key, sig in sig_changes:  # the signature memory learns, forgets, replaces
            key = reasoning_key("thinking it over") if key == "r1" else reasoning_key("hi") if key == "r2" else key
            if sig is None:
                signatures.pop(key, None)
            else:
                signatures[key] = sig
        raw = _layout({**base, "messages": messages}, layout)
        fresh_sigs, memo_sigs = Recorder(signatures), Recorder(signatures)
        fresh = _outcome(convert, orjson.loads(raw), upstream_model=model, signatures=fresh_sigs)
        memo = _outcome(convert, orjson.loads(raw), upstream_model=model, signatures=memo_sigs, raw=raw)
        assert memo == fresh
        assert last_accesses(memo_sigs.log) == last_accesses(fresh_sigs.log)


def _outcome(fn: Callable[..., dict[str, Any]], *args: Any, **kwargs: Any) -> Any:
    try:
        return orjson.dumps(fn(*args, **kwargs))  # bytes: 1 and 1.0, key order, -0.0 all count
    except RequestError as e:
        return ("error", str(e), e.field)


@settings(max_examples=150, deadline=None)
@given(first=st.lists(_openai_message(), min_size=1, max_size=6), history=steps, data=st.data(),
       model=st.sampled_from(MODELS))
def test_openai_chat_remembered_conversion_is_the_fresh_one(first: list[dict[str, Any]], history: list[Any],
                                                           data: st.DataObject, model: str) -> None:
    base = {"model": "gpt-x", "tools": [{"type": "function", "function": {"name": "read", "parameters": {
        "type": "object", "properties": {"path": {"type": "string"}}}}}], "max_tokens": 100}
    _run(openai_chat.to_gemini, base, first, history, _openai_message(), data, model)


@settings(max_examples=150, deadline=None)
@given(first=st.lists(_anthropic_message(), min_size=1, max_size=6), history=steps, data=st.data(),
       model=st.sampled_from(MODELS), thinking=st.sampled_from([None, {"type": "enabled", "budget_tokens": 2048}]))
def test_anthropic_remembered_conversion_is_the_fresh_one(first: list[dict[str, Any]], history: list[Any],
                                                         data: st.DataObject, model: str,
                                                         thinking: dict[str, Any] | None) -> None:
    base: dict[str, Any] = {"model": "claude-x", "max_tokens": 8192, "system": "be brief"}
    if thinking:
        base["thinking"] = thinking
    _run(anthropic.to_gemini, base, first, history, _anthropic_message(), data, model)


def _agent_loop(n: int) -> list[bytes]:
    """Bodies of one agent loop: each request the previous one's messages plus an answer and
    a tool result."""
    msgs: list[dict[str, Any]] = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "go"}]
    out = []
    for i in range(n):
        msgs = msgs + [
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": f"call_{i}", "type": "function", "function": {"name": "run", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": f"call_{i}", "content": f"output {i}"}]
        out.append(orjson.dumps({"model": "m", "messages": msgs}))
    return out


def test_an_agent_loop_converts_only_its_new_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    prefix_memo.clear()
    seen: list[int] = []
    real = prefix_memo.resume

    def spy(*a: Any) -> prefix_memo.History:
        h = real(*a)
        seen.append(h.start)
        return h

    monkeypatch.setattr(prefix_memo, "resume", spy)
    for raw in _agent_loop(5):
        openai_chat.to_gemini(orjson.loads(raw), upstream_model="gemini-3-flash", signatures={}, raw=raw)
    assert seen == [0, 4, 6, 8, 10]  # the previous request's messages, each time
    assert len(prefix_memo._entries) == 1  # each request's state replaces the one it extends


def test_a_shared_part_changed_downstream_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The guard the whole suite runs with (tests/conftest.py): a request path that changed a
    converted part in place would hand the change to the next request of the conversation."""
    monkeypatch.setattr(prefix_memo, "verify", True)
    prefix_memo.clear()
    raws = list(_agent_loop(2))
    out = openai_chat.to_gemini(orjson.loads(raws[0]), upstream_model="gemini-3-flash", signatures={}, raw=raws[0])
    out["contents"][0]["parts"][0]["text"] = "changed downstream"  # what no code may do
    with pytest.raises(prefix_memo.SharedPartChanged):
        openai_chat.to_gemini(orjson.loads(raws[1]), upstream_model="gemini-3-flash", signatures={}, raw=raws[1])
    prefix_memo.clear()


def test_memory_stays_within_its_bounds() -> None:
    prefix_memo.clear()
    for i in range(3 * prefix_memo.MAX_ENTRIES):
        raw = orjson.dumps({"model": "m", "messages": [{"role": "user", "content": f"task {i} " + "x" * 5000}]})
        openai_chat.to_gemini(orjson.loads(raw), upstream_model="gemini-3-flash", signatures={}, raw=raw)
        assert len(prefix_memo._entries) <= prefix_memo.MAX_ENTRIES
        assert prefix_memo._bytes <= prefix_memo.MAX_BYTES
    big = orjson.dumps({"model": "m", "messages": [{"role": "user", "content": "y" * prefix_memo.MAX_BODY}]})
    openai_chat.to_gemini(orjson.loads(big), upstream_model="gemini-3-flash", signatures={}, raw=big)
    assert all(len(e.body) < prefix_memo.MAX_BODY for e in prefix_memo._entries.values())
