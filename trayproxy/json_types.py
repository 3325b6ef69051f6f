"""The one name for a parsed JSON object, used by every module that builds or reads one."""

from __future__ import annotations

from typing import Any

__all__ = ["JSON"]

JSON = dict[str, Any]
"""A JSON object as orjson / json parse it (values not narrowed further)."""
