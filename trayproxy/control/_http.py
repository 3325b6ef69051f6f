"""What the ControlServer's route groups share (server.py, cli_routes.py, models_routes.py): the
error a handler raises for the person, reading a JSON object body, and turning the Controller's
user errors into that error. Private to trayproxy.control."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

from aiohttp import web

__all__ = ["ApiError", "user_message", "read_json", "guarded"]

T = TypeVar("T")


class ApiError(Exception):
    """A refusal whose message is for the person; the server's middleware answers it as
    `{"error": message}` with `status`."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def user_message(e: BaseException) -> str:
    return str(e.args[0]) if e.args else (str(e) or type(e).__name__)


async def read_json(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except ValueError:
        raise ApiError("The request body must be JSON") from None
    if not isinstance(data, dict):
        raise ApiError("The request body must be a JSON object")
    return data


async def guarded(aw: Awaitable[T]) -> T:
    """Await the Controller; its errors meant for the person (a refused setting, a failed Start,
    an unknown account, ...) become ApiError (400) with their message."""
    from trayproxy.accounts.service import AccountError
    from trayproxy.config import ConfigError
    from trayproxy.proxy.server import StartError
    from trayproxy.secrets import SecretStoreError

    try:
        return await aw
    except (StartError, ConfigError, SecretStoreError, AccountError, KeyError, ValueError) as e:
        raise ApiError(user_message(e)) from e
