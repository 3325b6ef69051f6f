"""Whether a port can be bound now: for Start's problems, `serve`, `doctor` and the port watch.
Stdlib only, so every layer (and a CLI with no proxy loaded) can ask."""

from __future__ import annotations

import socket

__all__ = ["port_is_free"]


def port_is_free(host: str, port: int) -> tuple[bool, str | None]:
    """(True, None) when host:port can be bound now, else (False, the OS's reason)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
        return True, None
    except OSError as e:
        return False, e.strerror or str(e)
    finally:
        s.close()
