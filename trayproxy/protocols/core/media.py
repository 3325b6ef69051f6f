"""Media references (base64 data, data: URLs, remote URLs) -> Gemini inlineData / fileData parts."""

from __future__ import annotations

import base64
import binascii

from trayproxy.json_types import JSON
from trayproxy.protocols.errors import RequestError

__all__ = ["guess_mime", "data_url_part", "inline_part", "file_part"]


_MIME_BY_EXT = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "heic": "image/heic",
    "heif": "image/heif",
    "bmp": "image/bmp",
    "svg": "image/svg+xml",
    "pdf": "application/pdf",
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "ogg": "audio/ogg",
    "flac": "audio/flac",
    "m4a": "audio/mp4",
    "mp4": "video/mp4",
    "txt": "text/plain",
    "md": "text/markdown",
    "html": "text/html",
    "htm": "text/html",
    "csv": "text/csv",
    "json": "application/json",
}


def guess_mime(url: str, default: str) -> str:
    """The mime type a URL's (or file name's) extension stands for, else `default`."""
    path = url.split("#", 1)[0].split("?", 1)[0]
    last = path.rsplit("/", 1)[-1]
    if "." in last:
        return _MIME_BY_EXT.get(last.rsplit(".", 1)[-1].lower(), default)
    return default


def inline_part(mime: str, data: str) -> JSON:
    return {"inlineData": {"mimeType": mime, "data": data}}


def file_part(url: str, default_mime: str) -> JSON:
    return {"fileData": {"fileUri": url, "mimeType": guess_mime(url, default_mime)}}


def data_url_part(url: str, where: str) -> JSON:
    """`data:<mime>;base64,<data>` -> an inlineData part (the base64 is checked)."""
    head, sep, data = url.partition(",")
    if not sep or not head.startswith("data:") or not head.endswith(";base64"):
        raise RequestError("A data: URL must look like data:<mime type>;base64,<data>.", field=where)
    mime = head[5:-7].split(";", 1)[0] or "application/octet-stream"
    data = data.strip()
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise RequestError("The data: URL does not contain valid base64 data.", field=where) from None
    return inline_part(mime, data)
