"""Errors a converter raises for bad client input. Handlers turn them into the client's own
error shape (see trayproxy.proxy.errors), with status 400 unless said otherwise."""

from __future__ import annotations

__all__ = ["RequestError"]


class RequestError(ValueError):
    """The client's request cannot be served as written.

    `field` names the offending JSON path (e.g. "messages[2].content[0].image_url") so the
    client can fix it; `message` is a full sentence a person understands.
    """

    def __init__(self, message: str, *, field: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.status = status

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message
