"""POST /v1/images/generations end to end: the openai SDK's images.generate through the running
proxy to the fake upstream's image model (which insists on image_gen requests), b64_json and
data-URL answers, n and size, and the monitor row (image bytes only when bodies are stored)."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import openai
import pytest

from tests.fakes.cloudcode import FakeCloudCode
from tests.proxy.stack import running_stack
from trayproxy.controller import Controller

QUOTA = {"gemini-3-pro-image": 0.9, "gemini-3-flash": 0.9}


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[FakeCloudCode, Controller]]:
    with running_stack(QUOTA, strict_models=True) as s:
        yield s


@pytest.fixture()
def client(stack: tuple[FakeCloudCode, Controller]) -> openai.OpenAI:
    _, ctl = stack
    return openai.OpenAI(base_url=ctl.status().base_url + "/v1", api_key=ctl.api_key(), max_retries=0)


def _is_png(data: bytes) -> bool:
    return data.startswith(b"\x89PNG\r\n\x1a\n")


def test_images_generate_b64_with_n_and_size(stack, client: openai.OpenAI) -> None:
    fake, _ = stack
    res = client.images.generate(model="gemini-3-pro-image", prompt="a lighthouse at dusk", n=2,
                                 size="1792x1024", response_format="b64_json")
    assert len(res.data) == 2
    images = [base64.b64decode(d.b64_json or "") for d in res.data]
    assert all(_is_png(i) for i in images)
    calls = fake.calls_to()[-2:]  # image models make one image per request: two requests
    for call in calls:
        env = call.body
        assert env["requestType"] == "image_gen" and env["requestId"].startswith("image_gen/")
        assert env["request"]["generationConfig"]["imageConfig"] == {"aspectRatio": "16:9"}
        assert "candidateCount" not in env["request"]["generationConfig"]
        assert "tools" not in env["request"] and "systemInstruction" not in env["request"]
    assert calls[0].body["requestId"] != calls[1].body["requestId"]
    assert res.usage is not None and res.usage.output_tokens == 2 * 1290  # the fake: 1290 per image


def test_images_generate_url_is_a_data_url_and_openai_names_reach_the_image_model(stack, client) -> None:
    fake, _ = stack
    res = client.images.generate(model="dall-e-3", prompt="a red fox")
    assert res.data and (res.data[0].url or "").startswith("data:image/png;base64,")
    assert _is_png(base64.b64decode(res.data[0].url.split(",", 1)[1]))
    assert fake.last().body["model"] == "gemini-3.1-flash-image"  # the built-in default: no retired id


def test_bad_input_is_an_openai_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as e:
        client.images.generate(model="gemini-3-pro-image", prompt="x", n=20)
    assert "n must be" in str(e.value)


def test_monitor_keeps_image_bytes_only_with_bodies_on(stack, client: openai.OpenAI) -> None:
    _, ctl = stack
    mon = ctl.monitor
    assert mon is not None

    def last_row() -> dict:
        # the proxy records a JSON answer's row before it sends the answer: once the SDK has it,
        # a flush puts the row on disk
        mon.flush()
        rows = [r for r in mon.recent(limit=50) if r["route"] == "/v1/images/generations"]
        assert rows, "no monitor row"
        row = mon.get(rows[0]["id"])
        assert row is not None
        return row

    client.images.generate(model="gemini-3-pro-image", prompt="bodies off", response_format="b64_json")
    row = last_row()
    assert row["status"] == 200 and row["upstream_model"] == "gemini-3-pro-image"
    assert row["output_tokens"] > 0 and not row.get("response_body")
    ctl.set_config("monitor.store_bodies", True)
    try:
        client.images.generate(model="gemini-3-pro-image", prompt="bodies on", response_format="b64_json")
        row = last_row()
        assert b"b64_json" in (row["response_body"] if isinstance(row["response_body"], bytes)
                               else str(row["response_body"]).encode())
    finally:
        ctl.set_config("monitor.store_bodies", False)


def test_chat_with_an_image_model_is_an_image_gen_request_and_shows_the_image(stack) -> None:
    fake, ctl = stack
    client = openai.OpenAI(base_url=ctl.status().openai_base_url, api_key=ctl.api_key(), max_retries=0)
    chat = client.chat.completions.create(model="gemini-3-pro-image", messages=[
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "draw a cat"}])
    assert "![image](data:image/png;base64," in (chat.choices[0].message.content or "")
    env = fake.last().body
    assert env["requestType"] == "image_gen" and "systemInstruction" not in env["request"]


def test_a_replanned_image_is_made_once_not_the_whole_request_again() -> None:
    """Regression (review): with n > 1 each image is its own generation; when Google has retired
    the image model under a stale catalog, each image is re-planned to the forwarded id and made
    once, so the answer has n images (re-running the whole handler made n² of them)."""
    quota = {"gemini-3-pro-image": 0.9, "gemini-3.1-flash-image": 0.9, "gemini-3-flash": 0.9}
    with running_stack(quota, strict_models=True) as (fake, ctl):
        client = openai.OpenAI(base_url=ctl.status().base_url + "/v1", api_key=ctl.api_key(), max_retries=0)
        fake.retire("gemini-3-pro-image", new="gemini-3.1-flash-image")  # the stored catalog still lists it
        before = len(fake.calls_to())
        res = client.images.generate(model="gemini-3-pro-image", prompt="two boats", n=2)
        assert len(res.data) == 2
        made = [c for c in fake.calls_to()[before:] if c.body.get("model") == "gemini-3.1-flash-image"]
        assert len(made) == 2, [c.body.get("model") for c in fake.calls_to()[before:]]
