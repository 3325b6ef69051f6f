"""openai_completions: prompt -> Gemini request through the chat conversion; text_completion
objects and chunks out."""

from __future__ import annotations

import itertools
from typing import Any

import orjson
import pytest

from trayproxy.protocols.errors import RequestError
from trayproxy.protocols.gemini import SAFETY_OFF
from trayproxy.protocols.openai_completions import CompletionStream, to_gemini

U = {"promptTokenCount": 10, "candidatesTokenCount": 5, "thoughtsTokenCount": 2, "totalTokenCount": 17}


def ids() -> Any:
    n = itertools.count(1)
    return lambda p: f"{p}{next(n)}"


def frames_of(raw: list[bytes]) -> list[Any]:
    out: list[Any] = []
    for f in raw:
        assert f.startswith(b"data: ") and f.endswith(b"\n\n")
        body = f[6:-2]
        out.append("[DONE]" if body == b"[DONE]" else orjson.loads(body))
    return out


def test_request_reuses_chat_conversion() -> None:
    body = {
        "model": "gpt-3.5-turbo-instruct",
        "prompt": ["Say hi"],
        "max_tokens": 16,
        "temperature": 0,
        "stop": "\n",
        "n": 1,
        "logprobs": None,
        "echo": False,
        "best_of": 1,
        "user": "x",
    }
    assert to_gemini(body, upstream_model="gemini-2.0-flash") == {
        "contents": [{"role": "user", "parts": [{"text": "Say hi"}]}],
        "generationConfig": {"temperature": 0, "stopSequences": ["\n"], "maxOutputTokens": 16},
        "safetySettings": SAFETY_OFF,
    }
    req = to_gemini({"model": "m", "prompt": "Once upon"}, upstream_model="gemini-2.5-flash")
    assert req["contents"] == [{"role": "user", "parts": [{"text": "Once upon"}]}]
    assert req["generationConfig"] == {"thinkingConfig": {"includeThoughts": True}}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"model": "m"}, "prompt"),
        ({"model": "m", "prompt": ""}, "prompt"),
        ({"model": "m", "prompt": ["a", "b"]}, "prompt"),
        ({"model": "m", "prompt": [1, 2, 3]}, "prompt"),
        ({"model": "m", "prompt": "x", "echo": True}, "echo"),
        ({"model": "m", "prompt": "x", "logprobs": 3}, "logprobs"),
        ({"model": "m", "prompt": "x", "suffix": "end"}, "suffix"),
        ({"model": "m", "prompt": "x", "best_of": 3}, "best_of"),
        ({"model": "m", "prompt": "x", "temperature": -1}, "temperature"),
    ],
)
def test_invalid(body: dict[str, Any], field: str) -> None:
    with pytest.raises(RequestError) as e:
        to_gemini(body, upstream_model="gemini-2.5-flash")
    assert e.value.field == field


def test_stream_chunks_usage_and_done() -> None:
    m = CompletionStream(
        model="gpt-3.5-turbo-instruct",
        completion_id="cmpl-1",
        created=5,
        stream=True,
        include_usage=True,
        new_id=ids(),
    )
    raw: list[bytes] = []
    raw += m.feed(
        {"response": {"candidates": [{"content": {"parts": [{"text": "hidden", "thought": True}]}}]}}
    )
    raw += m.feed({"candidates": [{"content": {"parts": [{"text": "Hi"}]}}]})
    raw += m.feed(
        {
            "candidates": [{"content": {"parts": [{"text": " there"}]}, "finishReason": "MAX_TOKENS"}],
            "usageMetadata": U,
        }
    )
    raw += m.finish()
    head = {"id": "cmpl-1", "object": "text_completion", "created": 5, "model": "gpt-3.5-turbo-instruct"}
    usage = {
        "prompt_tokens": 10,
        "completion_tokens": 7,
        "total_tokens": 17,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 2},
    }

    def ch(text: str, finish: str | None) -> dict[str, Any]:
        return {
            **head,
            "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": finish}],
            "usage": None,
        }

    assert frames_of(raw) == [
        ch("Hi", None),
        ch(" there", None),
        ch("", "length"),
        {**head, "choices": [], "usage": usage},
        "[DONE]",
    ]
    assert m.result() == {
        **head,
        "choices": [{"text": "Hi there", "index": 0, "logprobs": None, "finish_reason": "length"}],
        "usage": usage,
    }


def test_non_stream_n2_and_validates_with_sdk() -> None:
    from openai.types import Completion

    m = CompletionStream(
        model="m", completion_id="cmpl-2", created=1, stream=False, include_usage=False, new_id=ids()
    )
    assert (
        m.feed(
            {
                "candidates": [
                    {"index": 1, "content": {"parts": [{"text": "B"}]}, "finishReason": "STOP"},
                    {"index": 0, "content": {"parts": [{"text": "A"}]}, "finishReason": "STOP"},
                ]
            }
        )
        == []
    )
    assert m.finish() == []
    res = m.result()
    assert [(c["index"], c["text"], c["finish_reason"]) for c in res["choices"]] == [
        (0, "A", "stop"),
        (1, "B", "stop"),
    ]
    Completion.model_validate(res)


def test_failure_frame() -> None:
    m = CompletionStream(
        model="m", completion_id="c", created=1, stream=True, include_usage=False, new_id=ids()
    )
    m.feed({"candidates": [{"content": {"parts": [{"text": "par"}]}}]})
    got = frames_of(m.fail("broke", code="stream_error"))
    assert got == [
        {"error": {"message": "broke", "type": "server_error", "code": "stream_error", "param": None}},
        "[DONE]",
    ]
    m2 = CompletionStream(
        model="m", completion_id="c", created=1, stream=True, include_usage=False, new_id=ids()
    )
    m2.feed({"candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": "OTHER"}]})
    assert "finish reason OTHER" in frames_of(m2.finish())[0]["error"]["message"]
