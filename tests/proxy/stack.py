"""The running proxy in front of the fake upstream, for end-to-end tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tests.fakes.cloudcode import FakeCloudCode
from tests.fakes.replies import Call, Reply
from tests.helpers import make_controller
from trayproxy.controller import Controller


@contextmanager
def running_stack(quota: dict[str, float], *, emails: tuple[str, ...] = ("a@example.com",),
                  strict_models: bool = False,
                  reply: Callable[[Call], Reply] | None = None) -> Iterator[tuple[FakeCloudCode, Controller]]:
    """A started fake upstream with these accounts, and a started proxy (auth strict) using them."""
    fake = FakeCloudCode()
    fake.strict_models = strict_models
    for email in emails:
        fake.add_account(email, quota=quota)
    if reply is not None:
        fake.default_reply = reply
    with fake:
        ctl = make_controller(env=fake.env(), auth_mode="strict")
        for email in emails:
            ctl.add_refresh_token(f"rt-{email}")
        ctl.start()
        try:
            yield fake, ctl
        finally:
            ctl.close()
