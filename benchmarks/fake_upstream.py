"""The benchmarks' upstream: the project's fake Cloud Code (tests/fakes), with a default reply
chosen by the last user text, so one fake process serves every benchmark:

- `stream N D` -> `Reply.stream(N, D)` (N text chunks, D ms apart);
- anything else -> the echo reply (3 short chunks).

Thinking checks are off (the fixtures' tool-call history carries no thought signatures), and
so is the fake's Google-style request validation unless `--validate` is given: it costs about
5 ms per 9 KB request, which would make the upstream, not the proxy, what the benchmark
measures (the proxy's requests are checked against it by the test suite instead).
Prints one JSON line: {"url", "env", "token", "refresh_token"} (token: a ready access token
for clients that talk to the fake directly).

    python -m benchmarks.fake_upstream --port 9100
"""

from __future__ import annotations

import argparse
import json
import threading

from tests.fakes.cloudcode import FakeCloudCode
from tests.fakes.replies import Call, Reply
from tests.fakes.runner import ServerThread


def reply_for(call: Call) -> Reply:
    words = call.last_user_text().split()
    if len(words) >= 3 and words[0] == "stream":
        try:
            return Reply.stream(int(words[1]), float(words[2]))
        except ValueError:
            pass
    return Reply.echo()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--validate", action="store_true", help="keep the fake's request validation on")
    args = p.parse_args()
    if not args.validate:
        import tests.fakes.cloudcode as cc

        def light_validate(body: dict) -> tuple[dict, dict]:
            if not isinstance(body, dict) or not isinstance(body.get("request"), dict):
                raise cc.GoogleError(400, "Invalid JSON payload received.")
            return body, body["request"]

        cc.validate_generate = light_validate
    fake = FakeCloudCode()
    fake.strict_models = False
    fake.thinking_markers = []
    fake.max_recorded = 50
    acc = fake.add_account("bench@example.com", refresh_token="rt-bench", project="proj-bench")
    fake.default_reply = reply_for
    server = ServerThread(fake.app, port=args.port)
    fake.url = server.start()
    token = fake.issue_access_token(acc, expires_in=10 * 24 * 3600)
    print(json.dumps({"url": fake.url, "env": fake.env("prod"), "token": token, "refresh_token": "rt-bench",
                      "generate_url": fake.base_url("prod") + ":streamGenerateContent?alt=sse"}), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
