"""OpenAI Images API (`POST /v1/images/generations`) <-> a Gemini image model.

Pure code. `to_gemini` validates the body (prompt, n, size, quality, style, response_format) and
builds the inner request for ONE image: the prompt as the one user turn, the size as
`imageConfig.aspectRatio`, the quality as `imageConfig.imageSize`, image output asked for. Image
models make one image per request, so the route sends `n` of them (the envelope rules make each an
`image_gen` request: no tools, no systemInstruction). `ImagesResult` collects one answer's
inlineData images; `merge` joins the n answers. Images come back as `b64_json` or as a `data:` URL
(`response_format: url`; trayproxy stores no files to link to); the default is `url` for DALL-E
names, as OpenAI does, else `b64_json`.
"""

from __future__ import annotations

from math import gcd
from typing import Any

from trayproxy.json_types import JSON
from trayproxy.protocols.core.reader import REFUSAL, Event, EventMachine
from trayproxy.protocols.errors import RequestError
from trayproxy.protocols.gemini import SAFETY_OFF, Usage

__all__ = ["to_gemini", "ImagesResult", "merge", "aspect_ratio", "DEFAULT_IMAGE_MODEL"]


#: Used when the body names no model; resolved like any other name.
DEFAULT_IMAGE_MODEL = "gemini-3.1-flash-image"
#: Aspect ratios Gemini image models take.
_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
_FORMATS = ("url", "b64_json")
#: OpenAI `quality` (and an explicit `image_size`) -> Gemini imageConfig.imageSize.
_SIZES = {"hd": "4K", "4k": "4K", "medium": "2K", "2k": "2K", "standard": "1K", "low": "1K", "1k": "1K"}


def aspect_ratio(size: Any) -> str | None:
    """`"1792x1024"` -> `"16:9"`: the supported ratio nearest to the requested width:height;
    None for `auto` or no size."""
    if size is None or size == "auto":
        return None
    if not isinstance(size, str) or "x" not in size:
        raise RequestError("size must look like 1024x1024 (width x height) or be auto.", field="size")
    w_s, _, h_s = size.lower().partition("x")
    if not (w_s.isdigit() and h_s.isdigit()) or int(w_s) < 1 or int(h_s) < 1:
        raise RequestError("size must look like 1024x1024 (width x height) or be auto.", field="size")
    w, h = int(w_s), int(h_s)
    exact = f"{w // gcd(w, h)}:{h // gcd(w, h)}"
    if exact in _RATIOS:
        return exact
    want = w / h
    return min(_RATIOS, key=lambda r: abs(int(r.split(":")[0]) / int(r.split(":")[1]) - want))


def to_gemini(body: JSON) -> tuple[JSON, str, int]:
    """(inner Gemini request for one image, response_format, n) for an images.generate body."""
    if not isinstance(body, dict):
        raise RequestError("The request body must be a JSON object.")
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise RequestError("prompt is required and must be a non-empty string.", field="prompt")
    n = body.get("n")
    n = 1 if n is None else n
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 10:
        raise RequestError("n must be an integer from 1 to 10.", field="n")
    model = body.get("model")
    default_fmt = "url" if isinstance(model, str) and model.startswith("dall-e") else "b64_json"
    fmt = body.get("response_format") or default_fmt
    if fmt not in _FORMATS:
        raise RequestError("response_format must be url or b64_json.", field="response_format")
    image: JSON = {}
    ratio = aspect_ratio(body.get("size"))
    if ratio is not None:
        image["aspectRatio"] = ratio
    size = body.get("image_size", body.get("quality"))
    if isinstance(size, str) and size.lower() in _SIZES:
        image["imageSize"] = _SIZES[size.lower()]
    gc: JSON = {"responseModalities": ["TEXT", "IMAGE"]}
    if image:
        gc["imageConfig"] = image
    style = body.get("style")
    text = f"{prompt}\n\nStyle: {style}." if isinstance(style, str) and style else prompt
    req: JSON = {
        "contents": [{"role": "user", "parts": [{"text": text}]}],
        "generationConfig": gc,
        "safetySettings": [dict(s) for s in SAFETY_OFF],
    }
    return req, fmt, n


def merge(results: list[JSON]) -> JSON:
    """One images response from several (the n requests of one call): images in order, usage summed."""
    usage = {k: sum(r["usage"][k] for r in results) for k in ("input_tokens", "output_tokens", "total_tokens")}
    usage["input_tokens_details"] = {"text_tokens": usage["input_tokens"], "image_tokens": 0}
    return {"created": results[0]["created"], "data": [d for r in results for d in r["data"]], "usage": usage}


class ImagesResult(EventMachine):
    """Collects the images of an image model's answer (non-streaming only)."""

    all_candidates = True

    def __init__(self, *, created: int, response_format: str) -> None:
        super().__init__()
        self.created = created
        self.response_format = response_format
        self.images: list[tuple[int, str, str]] = []  # (candidate, mime type, base64 data)
        self.text: list[str] = []

    def _on_event(self, ev: Event, out: list[bytes]) -> None:
        if ev.kind != "text":
            return
        blob = ev.part.get("inlineData")
        if isinstance(blob, dict) and isinstance(blob.get("data"), str) and blob["data"]:
            mime: str = blob["mimeType"] if isinstance(blob.get("mimeType"), str) else "image/png"
            self.images.append((ev.choice, mime, blob["data"]))
            self.produced_output = True
        elif ev.text:
            self.text.append(ev.text)

    @property
    def failure(self) -> str | None:
        if self._failed or self.images:
            return self._failed
        if self.upstream_finish in REFUSAL:
            return f"The image was refused upstream (finish reason {self.upstream_finish})."
        said = " ".join(t.strip() for t in self.text if t.strip())
        return "The model returned no image" + (f": {said[:300]}" if said else ".")

    def finish(self) -> list[bytes]:
        self._closed = True
        return []

    def fail(self, message: str) -> list[bytes]:
        self._closed = True
        self._failed = message
        return []

    def result(self) -> JSON:
        data: list[JSON] = []
        for _, mime, b64 in sorted(self.images, key=lambda i: i[0]):
            data.append({"b64_json": b64} if self.response_format == "b64_json" else {"url": f"data:{mime};base64,{b64}"})
        u = self.usage or Usage()
        out: JSON = {"created": self.created, "data": data}
        out["usage"] = {
            "input_tokens": u.prompt,
            "output_tokens": u.output + u.reasoning,
            "total_tokens": u.total or u.prompt + u.output + u.reasoning,
            "input_tokens_details": {"text_tokens": u.prompt, "image_tokens": 0},
        }
        return out
