"""`GET /metrics`: Prometheus' text format, for nothing on the hot path but a few dict updates.

1. Each recorded request (proxy/pipeline.py `record`) adds to plain counters in memory on the
   engine loop: requests by route, status, model, account and client key; tokens by kind; a
   latency histogram per route and one of the latency trayproxy adds (the time from the request's
   arrival until its last upstream attempt was sent: reading, parsing, planning, converting,
   the token). No lock (the loop alone writes), no prometheus-client call per request.
2. At a scrape, prometheus-client (imported then, not before) renders those counters plus what is
   read live: requests in flight, active rests by kind, accounts usable, shared-state health,
   log rows waiting for PostgreSQL.
3. Labels come from bounded sets: the route's kind (never a model name from a path), the upstream
   model id trayproxy planned, the account's short id, the key's id. Past `MAX_SERIES` distinct
   label sets, new ones are counted under "other".
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trayproxy.proxy.context import ProxyContext

__all__ = ["Metrics", "route_label", "LATENCY_BUCKETS", "ADDED_BUCKETS", "CONTENT_TYPE"]

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
ADDED_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
MAX_SERIES = 5000
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_ACTIONS = ("generateContent", "streamGenerateContent", "countTokens")
_route_cache: dict[str, str] = {}


def route_label(path: str) -> str:
    """The route's kind: /v1/chat/completions, /v1/messages, /v1beta/models:generateContent, ..."""
    found = _route_cache.get(path)
    if found is not None:
        return found
    p = path
    for prefix in ("/v1/v1/", "/v1/"):
        if p.startswith(prefix):
            p = "/" + p[len(prefix):]
            break
    if p.startswith(("/v1beta/models/", "/models/")) and ":" in p:
        action = p.rsplit(":", 1)[1]
        label = f"/v1beta/models:{action}" if action in _ACTIONS else "/v1beta/models:other"
    elif p.startswith("/v1beta/models") or p.startswith("/models"):
        label = "/v1/models"
    elif p.startswith("/responses/") and p.count("/") >= 2:
        label = "/v1/responses/{id}"
    else:
        label = "/v1" + p if p.startswith(("/chat/", "/completions", "/messages", "/responses", "/images/",
                                            "/embeddings")) else "other"
    if len(_route_cache) < 1024:
        _route_cache[path] = label
    return label


class _Histogram:
    __slots__ = ("bounds", "counts", "sum", "n")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0
        self.n = 0

    def observe(self, v: float) -> None:
        self.counts[bisect_left(self.bounds, v)] += 1
        self.sum += v
        self.n += 1

    def buckets(self) -> list[tuple[str, float]]:
        out, acc = [], 0
        for b, c in zip(self.bounds, self.counts, strict=False):
            acc += c
            out.append((repr(b), float(acc)))
        out.append(("+Inf", float(acc + self.counts[-1])))
        return out


class Metrics:
    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, str, str, str], int] = {}
        self.tokens: dict[tuple[str, str, str, str], int] = {}
        self.latency: dict[str, _Histogram] = {}
        self.added = _Histogram(ADDED_BUCKETS)
        self.refused: dict[str, int] = {}  # guard refusals by kind, key limits by limit
        self.inflight = 0
        self.started = time.time()

    def observe(self, route: str, status: int, model: str | None, account: str | None, key: str | None,
                seconds: float, added: float | None, tokens_in: int, tokens_out: int) -> None:
        """One finished request (on the engine loop)."""
        r = route_label(route)
        labels = (r, str(status), model or "", account or "", key or "")
        reqs = self.requests
        n = reqs.get(labels)
        if n is None and len(reqs) >= MAX_SERIES:
            labels = (r, str(status), "other", "other", "other")
            n = reqs.get(labels)
        reqs[labels] = (n or 0) + 1
        h = self.latency.get(r)
        if h is None:
            h = self.latency[r] = _Histogram(LATENCY_BUCKETS)
        h.observe(seconds)
        if added is not None:
            self.added.observe(added)
        if tokens_in or tokens_out:
            for kind, v in (("input", tokens_in), ("output", tokens_out)):
                if v:
                    tl = (labels[2], labels[3], labels[4], kind)
                    self.tokens[tl] = self.tokens.get(tl, 0) + v

    def refusal(self, kind: str) -> None:
        self.refused[kind] = self.refused.get(kind, 0) + 1

    # -- the scrape ------------------------------------------------------------------------------
    def render(self, ctx: ProxyContext) -> bytes:
        from prometheus_client import CollectorRegistry, generate_latest

        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Collector(self, ctx))
        return bytes(generate_latest(registry))


class _Collector:
    def __init__(self, m: Metrics, ctx: ProxyContext) -> None:
        self.m, self.ctx = m, ctx

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

        m, ctx = self.m, self.ctx
        c = CounterMetricFamily("trayproxy_requests", "Requests answered, by route kind, status, upstream model, "
                                "account (short id) and client key id (empty: the owner's key)",
                                labels=["route", "status", "model", "account", "key"])
        for labels, n in list(m.requests.items()):
            c.add_metric(list(labels), n)
        yield c
        t = CounterMetricFamily("trayproxy_tokens", "Tokens the upstream counted, by model, account, key and kind",
                                labels=["model", "account", "key", "kind"])
        for tl, n in list(m.tokens.items()):
            t.add_metric(list(tl), n)
        yield t
        h = HistogramMetricFamily("trayproxy_request_duration_seconds", "Time from a request's arrival to its end",
                                  labels=["route"])
        for route, hist in list(m.latency.items()):
            h.add_metric([route], hist.buckets(), hist.sum)
        yield h
        a = HistogramMetricFamily("trayproxy_added_latency_seconds",
                                  "Time trayproxy spent before the upstream request left (read, parse, plan, "
                                  "convert, token)")
        a.add_metric([], m.added.buckets(), m.added.sum)
        yield a
        r = CounterMetricFamily("trayproxy_refused", "Requests refused before any work: guards (host, origin, auth) "
                                "and client-key limits (rpm, tpm, daily_tokens, model, expired)", labels=["reason"])
        for kind, n in list(m.refused.items()):
            r.add_metric([kind], n)
        yield r
        yield GaugeMetricFamily("trayproxy_in_flight", "Requests being answered now", value=m.inflight)
        pool, now = ctx.pool, ctx.clock()
        rests: dict[str, int] = {}
        for acc in pool.accounts():
            for cd in pool.cooldowns(acc.id).values():
                if cd.until > now:
                    rests[cd.kind] = rests.get(cd.kind, 0) + 1
        g = GaugeMetricFamily("trayproxy_active_rests", "Account or account+model rests in force, by kind",
                              labels=["kind"])
        for kind, n in sorted(rests.items()):
            g.add_metric([kind], n)
        yield g
        yield GaugeMetricFamily("trayproxy_accounts_usable", "Accounts in rotation", value=pool.active_count())
        shared = ctx.shared_status()
        if shared is not None:
            up = GaugeMetricFamily("trayproxy_shared_up", "1 when the shared engine answers", labels=["engine"])
            since = GaugeMetricFamily("trayproxy_shared_down_since_seconds",
                                      "Unix time since when the shared engine does not answer (0: it answers)",
                                      labels=["engine"])
            for e in shared.get("engines", []):
                up.add_metric([e["name"]], 1 if e["up"] else 0)
                since.add_metric([e["name"]], e["down_since"] or 0)
            yield up
            yield since
            yield GaugeMetricFamily("trayproxy_log_rows_waiting", "Request log rows not yet in PostgreSQL",
                                    value=shared.get("log_rows_waiting") or 0)
            yield CounterMetricFamily("trayproxy_shared_events_applied", "Change events from other instances "
                                      "applied here (rests, account states, quota, sessions, keys, mapping)",
                                      value=shared.get("events_applied") or 0)
        yield GaugeMetricFamily("trayproxy_start_time_seconds", "When this instance started", value=m.started)
