"""openai_images: the image request (golden), sizes -> aspect ratios, the collected result."""

from __future__ import annotations

import pytest

from trayproxy.protocols.errors import RequestError
from trayproxy.protocols.gemini import SAFETY_OFF
from trayproxy.protocols.openai_images import ImagesResult, aspect_ratio, merge, to_gemini


def test_image_request_golden() -> None:
    req, fmt, n = to_gemini({"model": "gpt-image-1", "prompt": "a red fox in snow", "n": 2, "size": "1792x1024",
                             "response_format": "url", "style": "vivid", "quality": "hd"})
    assert (fmt, n) == ("url", 2)
    assert req == {  # one image per request: the route sends n of them
        "contents": [{"role": "user", "parts": [{"text": "a red fox in snow\n\nStyle: vivid."}]}],
        "generationConfig": {"responseModalities": ["TEXT", "IMAGE"],
                             "imageConfig": {"aspectRatio": "16:9", "imageSize": "4K"}},
        "safetySettings": SAFETY_OFF,
    }
    req, fmt, n = to_gemini({"prompt": "x"})
    assert (fmt, n) == ("b64_json", 1) and req["generationConfig"] == {"responseModalities": ["TEXT", "IMAGE"]}
    assert to_gemini({"prompt": "x", "model": "dall-e-3"})[1] == "url"  # OpenAI's default for DALL-E names
    assert to_gemini({"prompt": "x", "image_size": "2k"})[0]["generationConfig"]["imageConfig"] == {"imageSize": "2K"}


def test_merge_joins_images_in_order_and_sums_usage() -> None:
    u = {"input_tokens": 7, "output_tokens": 1290, "total_tokens": 1297,
         "input_tokens_details": {"text_tokens": 7, "image_tokens": 0}}
    got = merge([{"created": 5, "data": [{"b64_json": "QQ=="}], "usage": u},
                 {"created": 6, "data": [{"b64_json": "Qg=="}], "usage": u}])
    assert got == {"created": 5, "data": [{"b64_json": "QQ=="}, {"b64_json": "Qg=="}],
                   "usage": {"input_tokens": 14, "output_tokens": 2580, "total_tokens": 2594,
                             "input_tokens_details": {"text_tokens": 14, "image_tokens": 0}}}


@pytest.mark.parametrize(("size", "ratio"), [
    ("1024x1024", "1:1"), ("1536x1024", "3:2"), ("1024x1536", "2:3"), ("1024x1792", "9:16"),
    ("512x512", "1:1"), ("2560x1080", "21:9"), ("1000x1100", "1:1"), (None, None), ("auto", None),
])
def test_sizes_become_the_nearest_aspect_ratio(size: str | None, ratio: str | None) -> None:
    assert aspect_ratio(size) == ratio


@pytest.mark.parametrize(("body", "field"), [
    ({}, "prompt"), ({"prompt": "  "}, "prompt"), ({"prompt": "x", "n": 0}, "n"), ({"prompt": "x", "n": 11}, "n"),
    ({"prompt": "x", "n": True}, "n"), ({"prompt": "x", "size": "big"}, "size"), ({"prompt": "x", "size": "0x5"}, "size"),
    ({"prompt": "x", "response_format": "png"}, "response_format"),
])
def test_bad_bodies_name_the_field(body: dict, field: str) -> None:
    with pytest.raises(RequestError) as e:
        to_gemini(body)
    assert e.value.field == field and e.value.status == 400


def _frame(*cands: dict) -> dict:
    return {"response": {"candidates": list(cands),
                         "usageMetadata": {"promptTokenCount": 7, "candidatesTokenCount": 2580, "totalTokenCount": 2587}}}


def test_result_collects_every_candidate_image_in_order() -> None:
    m = ImagesResult(created=1700000000, response_format="url")
    m.feed(_frame(
        {"index": 1, "content": {"parts": [{"text": "second"}, {"inlineData": {"mimeType": "image/png", "data": "QUJD"}}]}},
        {"index": 0, "content": {"parts": [{"inlineData": {"mimeType": "image/jpeg", "data": "REVG"}}]},
         "finishReason": "STOP"},
    ))
    m.finish()
    assert m.failure is None and m.produced_output
    assert m.result() == {
        "created": 1700000000,
        "data": [{"url": "data:image/jpeg;base64,REVG"}, {"url": "data:image/png;base64,QUJD"}],
        "usage": {"input_tokens": 7, "output_tokens": 2580, "total_tokens": 2587,
                  "input_tokens_details": {"text_tokens": 7, "image_tokens": 0}},
    }


def test_no_image_is_a_failure_that_says_what_the_model_said() -> None:
    m = ImagesResult(created=1, response_format="b64_json")
    m.feed(_frame({"content": {"parts": [{"text": "I cannot draw that."}]}, "finishReason": "STOP"}))
    assert m.failure == "The model returned no image: I cannot draw that."
    m2 = ImagesResult(created=1, response_format="b64_json")
    m2.feed(_frame({"finishReason": "IMAGE_SAFETY"}))
    assert m2.failure == "The image was refused upstream (finish reason IMAGE_SAFETY)."
