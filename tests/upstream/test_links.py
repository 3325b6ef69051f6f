"""Grounding redirect links resolved through the transport seam: HEAD, no redirect followed, only
an https Location taken, bounded per answer, cached (failures too, for less time)."""

from __future__ import annotations

from trayproxy.protocols.search import REDIRECT_PREFIX
from trayproxy.upstream import links
from trayproxy.upstream.links import LinkResolver
from trayproxy.upstream.transport import MockTransport, UpstreamRequest

BASE = "http://redirector.test/r/"


def resolver(answers: dict[str, tuple[int, str]], now: list[float]) -> tuple[LinkResolver, MockTransport]:
    async def handle(req: UpstreamRequest) -> tuple[int, dict[str, str], bytes]:
        assert req.method == "HEAD" and req.url.startswith(BASE)
        status, location = answers.get(req.url.removeprefix(BASE), (404, ""))
        return status, {"Location": location} if location else {}, b""

    t = MockTransport(handle)
    return LinkResolver(t, lambda: BASE, clock=lambda: now[0]), t


async def test_resolved_cached_and_refused_answers_keep_googles_link() -> None:
    now = [0.0]
    r, t = resolver({"a": (302, "https://example.com/a"), "b": (200, ""), "c": (301, "http://plain.example/c"),
                     "d": (302, "javascript:alert(1)")}, now)
    got = await r.resolve([REDIRECT_PREFIX + x for x in "abcd"] + ["https://not-a-redirect.example/x"])
    assert got == {REDIRECT_PREFIX + "a": "https://example.com/a"}
    assert len(t.requests) == 4
    again = await r.resolve([REDIRECT_PREFIX + "a", REDIRECT_PREFIX + "b"])
    assert again == got and len(t.requests) == 4  # from the cache, the failure too
    now[0] += links.FAILED_TTL + 1
    await r.resolve([REDIRECT_PREFIX + "a", REDIRECT_PREFIX + "b"])
    assert [q.url for q in t.requests[4:]] == [BASE + "b"]  # the failure is asked again, the page not


async def test_at_most_limit_links_per_answer() -> None:
    r, t = resolver({}, [0.0])
    await r.resolve(REDIRECT_PREFIX + str(i) for i in range(links.LIMIT + 15))
    assert len(t.requests) == links.LIMIT
