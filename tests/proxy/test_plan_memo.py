"""proxy.resolve remembers plans per pool state: whatever happens to the pool (cooldowns that
start, end or are cleared, accounts disabled, paused, resumed, catalogs re-read, quotas and
quota windows used up and reset, the config changed, time passing), a remembered plan is the
plan made afresh."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import MemoryKeyring
from trayproxy.accounts.catalog import apply_catalog
from trayproxy.accounts.store import Account, AccountStore, ModelQuota, QuotaWindow
from trayproxy.config import Config, set_value
from trayproxy.proxy.context import ProxyContext, assemble
from trayproxy.proxy.errors import ProxyError
from trayproxy.proxy.resolve import _plan, plan
from trayproxy.secrets import SecretStore
from trayproxy.upstream.transport import MockTransport

IDS = ["gemini-3-flash", "gemini-3-pro", "gemini-2.5-flash", "claude-sonnet-4-5", "claude-opus-4-5-thinking"]
NAMES = ["gemini-3-flash", "gemini-3-pro", "gemini-flash", "claude-sonnet-4-5", "gpt-4o", "opus"]
TIERS = [None, "free-tier", "standard-tier", "g1-pro-tier", "g1-ultra-tier"]


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


async def _never(_req: Any) -> tuple[int, dict[str, str], bytes]:
    raise AssertionError("no upstream call")


def _context(tmp: Path, clock: Clock) -> tuple[ProxyContext, AccountStore, dict[str, Config]]:
    secrets = SecretStore(tmp / "secrets.json", backend=MemoryKeyring())
    store = AccountStore(tmp / "accounts.json", secrets)
    state = {"config": Config()}
    ctx = assemble(config=lambda: state["config"], secrets=secrets, store=store, transport=MockTransport(_never),
                   clock=clock)
    return ctx, store, state


quotas = st.builds(ModelQuota, remaining=st.sampled_from([None, 0.0, 0.05, 0.5, 1.0]),
                   reset_time=st.sampled_from([None, 1_800_000_010.0, 1_800_000_100.0]),
                   max_output_tokens=st.sampled_from([None, 8192, 65536]))
windows = st.lists(st.builds(QuotaWindow, family=st.sampled_from(["gemini", "3p"]),
                             window=st.sampled_from(["5h", "weekly"]),
                             remaining=st.sampled_from([None, 0.0, 0.5]),
                             reset_time=st.sampled_from([None, 1_800_000_020.0, 1_800_000_200.0])), max_size=3)
catalogs = st.dictionaries(st.sampled_from(IDS), quotas, max_size=len(IDS))
events = st.one_of(
    st.tuples(st.just("cool"), st.integers(0, 2), st.sampled_from([None, *IDS]), st.sampled_from([5.0, 60.0]),
              st.sampled_from(["quota", "rate_limit", "server", "not_found"])),
    st.tuples(st.just("clear"), st.integers(0, 2)),
    st.tuples(st.just("tick"), st.sampled_from([1.0, 6.0, 30.0, 120.0])),
    st.tuples(st.just("disable"), st.integers(0, 2)),
    st.tuples(st.just("resume"), st.integers(0, 2)),
    st.tuples(st.just("pause"), st.integers(0, 2)),
    st.tuples(st.just("catalog"), st.integers(0, 2), catalogs),
    st.tuples(st.just("requota"), st.integers(0, 2), st.lists(quotas, min_size=len(IDS), max_size=len(IDS))),
    st.tuples(st.just("tier"), st.integers(0, 2), st.sampled_from(TIERS)),
    st.tuples(st.just("windows"), st.integers(0, 2), windows),
    st.tuples(st.just("mapping"), st.sampled_from(["gpt-4o", "opus"]), st.sampled_from(IDS)),
    st.tuples(st.just("add"), catalogs),
)


def _outcome(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except ProxyError as e:
        return ("error", e.status, e.message)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=st.lists(catalogs, min_size=1, max_size=3), steps=st.lists(events, max_size=25))
def test_a_remembered_plan_is_the_plan_made_afresh(tmp_path_factory: Any, first: list[dict[str, ModelQuota]],
                                                    steps: list[tuple[Any, ...]]) -> None:
    clock = Clock()
    ctx, store, state = _context(tmp_path_factory.mktemp("plans"), clock)

    def add(catalog: dict[str, ModelQuota]) -> None:
        acc = Account.new(f"a{len(store.all())}@example.com", now=clock.now)
        acc.project = "proj"
        apply_catalog(acc, _catalog(catalog), clock.now)
        store.put(acc)

    for c in first:
        add(c)

    def check() -> None:
        for name in NAMES:
            for tried in (frozenset(), frozenset({"gemini-3-flash"})):
                fresh = _outcome(_plan, ctx, name, tried)
                assert _outcome(plan, ctx, name, tried) == fresh
                assert _outcome(plan, ctx, name, tried) == fresh  # the remembered one

    check()
    for ev in steps:
        accs = store.all()
        kind = ev[0]
        if kind == "tick":
            clock.now += ev[1]
        elif kind == "add":
            add(ev[1])
        elif kind == "mapping":
            state["config"] = set_value(state["config"], "model_mapping", {ev[1]: ev[2]})
        elif kind == "tier":
            accs[ev[1] % len(accs)].tier = ev[2]  # as a quota refresh sets it
        else:
            acc = accs[ev[1] % len(accs)]
            if kind == "cool":
                ctx.pool.cool_down(acc.id, ev[2], ev[3], "test", kind=ev[4])
            elif kind == "clear":
                ctx.pool.clear_cooldowns(acc.id)
            elif kind == "disable":
                ctx.pool.disable(acc.id, "test")
            elif kind == "resume":
                ctx.pool.resume(acc.id, enable=True)
            elif kind == "pause":
                ctx.pool.pause_for_verification(acc.id, link=None, link_text=None, message="verify")
            elif kind == "catalog":
                clock.now += 0.5  # a re-read happens at some later moment
                apply_catalog(acc, _catalog(ev[2]), clock.now)
            elif kind == "windows":  # retrieveUserQuotaSummary re-read (the list is replaced whole)
                acc.quota_windows = list(ev[2])
            elif kind == "requota":  # the same ids re-read with other quotas and limits
                clock.now += 0.5
                apply_catalog(acc, _catalog(dict(zip(acc.models, ev[2], strict=False))), clock.now)
        check()


def _catalog(models: dict[str, ModelQuota]) -> Any:
    from trayproxy.accounts.catalog import Catalog

    return Catalog(models=dict(models), order=list(models))
