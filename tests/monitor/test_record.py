from __future__ import annotations

import dataclasses

from trayproxy.monitor import COLUMNS, RequestRecord


def test_columns_are_the_record_fields_without_bodies() -> None:
    names = [f.name for f in dataclasses.fields(RequestRecord)]
    assert list(COLUMNS) == [n for n in names if not n.endswith("_body")]


def test_defaults() -> None:
    r = RequestRecord(id="x", ts=1.0, method="POST", route="/v1/messages", protocol="anthropic", client_model=None,
                      upstream_model=None, account_id=None, upstream=None, status=401, outcome="rejected",
                      duration_ms=1.0, ttfb_ms=None)
    assert (r.input_tokens, r.output_tokens, r.cached_tokens, r.reasoning_tokens, r.stream) == (0, 0, 0, 0, False)
    assert r.request_body is None and not hasattr(r, "__dict__")
