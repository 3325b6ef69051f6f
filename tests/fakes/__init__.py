"""Test doubles for trayproxy's upstreams.

`FakeCloudCode` is a faithful fake of Google's Cloud Code `v1internal` API and Google OAuth
(validation, SSE framing, error bodies, thought signatures), scripted per account with `Reply`;
`ServerThread` runs any aiohttp app on 127.0.0.1:<free port> in a background thread.
"""

from .cloudcode import GENERATE, FakeAccount, FakeCloudCode, FakeHost, ModelSpec, RecordedRequest
from .oauth import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from .replies import Call, Gate, Reply, estimate_tokens, google_error
from .runner import ServerThread
from .validation import BYPASS_SIGNATURE, GoogleError

__all__ = [
    "FakeCloudCode", "FakeAccount", "FakeHost", "ModelSpec", "RecordedRequest", "GENERATE",
    "Reply", "Gate", "Call", "estimate_tokens", "google_error",
    "ServerThread", "BYPASS_SIGNATURE", "GoogleError", "DEFAULT_CLIENT_ID", "DEFAULT_CLIENT_SECRET",
]
