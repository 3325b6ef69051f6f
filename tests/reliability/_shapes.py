"""Checks that an error body is in the caller's protocol shape."""

from __future__ import annotations

import json
from typing import Any


def error_shape(protocol: str, body: bytes) -> dict[str, Any]:
    """Parse `body` and assert it is a protocol-shaped error; returns the inner error object."""
    data = json.loads(body)
    assert isinstance(data, dict), body[:200]
    if protocol == "openai":
        err = data.get("error")
        assert isinstance(err, dict) and isinstance(err.get("message"), str) and err["message"], body[:300]
        assert isinstance(err.get("type"), str), body[:300]
        return err
    if protocol == "anthropic":
        assert data.get("type") == "error", body[:300]
        err = data.get("error")
        assert isinstance(err, dict) and isinstance(err.get("type"), str), body[:300]
        assert isinstance(err.get("message"), str) and err["message"], body[:300]
        return err
    if protocol == "gemini":
        err = data.get("error")
        assert isinstance(err, dict), body[:300]
        assert isinstance(err.get("code"), int) and isinstance(err.get("status"), str), body[:300]
        assert isinstance(err.get("message"), str) and err["message"], body[:300]
        return err
    raise AssertionError(protocol)
