"""A settings page with something in every state, for the page tests in several languages, the
screenshots and the idle-CPU benchmark: four accounts (ready with a resting model, resting as a
whole with its Gemini group's weekly window spent, needing verification, not eligible), a fed
request log with refused requests of every kind, Google refusing the client version, a running
proxy, and axe-core.

`four_accounts(ctl)` sets the accounts up on a Controller (no Google needed: the pool, the
records and the client version's alarm are set as triage, onboarding and a refusal inside a 200
would leave them). `axe_source()` finds axe-core (the
npm package; .ci/run installs it in ~/.cache/trayproxy-axe), `run_axe(page)` injects it and
returns the serious and critical violations.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from tests.control.helpers import add_account, feed_monitor, new_account
from trayproxy.accounts.store import QuotaWindow

VERIFY_URL = "https://accounts.google.com/signin/continue?sarp=1&scc=1&plt=AKgnsbtX"
AXE_PATHS = (
    os.environ.get("TRAYPROXY_AXE", ""),
    str(Path.home() / ".cache/trayproxy-axe/node_modules/axe-core/axe.min.js"),
    "/usr/lib/node_modules/axe-core/axe.min.js",
)


def four_accounts(ctl: Any, *, log: int = 30) -> dict[str, Any]:
    """ready (one model resting), resting, needs verification, not eligible; and a request log."""
    ready = add_account(ctl, "ada@example.com")
    resting = add_account(ctl, "grace@example.com")
    verify = add_account(ctl, "linus@example.com")
    alan = new_account("alan@example.com", models=False)
    alan.project = None
    alan.setup_problem = ("Google offers alan@example.com no Gemini Code Assist tier: Gemini Code Assist for "
                          "individuals: Your current account is not eligible for Gemini Code Assist for individuals "
                          "because it is not currently available in your location.")
    ctl.store.put(alan, refresh_token="rt-alan")
    day = time.time()
    grace = resting  # its Gemini group's weekly window is spent: back in 150 hours
    grace.quota_windows = [
        QuotaWindow("gemini", "5h", 0.6, day + 2 * 3600, "Gemini Models"),
        QuotaWindow("gemini", "weekly", 0.0, day + 150 * 3600, "Gemini Models"),
        QuotaWindow("3p", "5h", 0.35, day + 3 * 3600, "Claude and GPT Models"),
        QuotaWindow("3p", "weekly", 0.8, day + 100 * 3600, "Claude and GPT Models"),
    ]
    grace.windows_updated = day
    ctl.store.put(grace)
    ctl.reload()
    ctl.pool.cool_down(ready.id, "gemini-3-pro-high", 2 * 3600 + 25 * 60,
                       "out of quota for gemini-3-pro-high: You have exhausted your capacity on this model. "
                       "Your quota will reset after 2h25m.", kind="quota")
    ctl.pool.cool_down(resting.id, None, 3 * 3600 + 19 * 60,
                       "HTTP 429 RESOURCE_EXHAUSTED: Resource has been exhausted (e.g. check quota).", kind="rate_limit")
    ctl.pool.pause_for_verification(verify.id, link=VERIFY_URL, link_text="Verify your account",
                                    message="To continue, verify your account in a browser: Google noticed "
                                            "unusual activity and needs to confirm it is you.")
    feed_monitor(ctl, ctl.store.all(), log)
    for kind, origin, status, ago in (("auth", None, 401, 30), ("auth", None, 401, 90),
                                      ("origin", "https://pages.example", 403, 600),
                                      ("host", "rebind.example:8045", 403, 7200)):
        ctl.monitor.count_refused(kind, origin, status, day - ago)
    ctl.monitor.flush()
    refuse_client_version(ctl)
    return {"ready": ready, "resting": resting, "verify": verify, "not_eligible": ctl.store.by_email("alan@example.com")}


def refuse_client_version(ctl: Any) -> None:
    """Google answers the version trayproxy reports with a refusal inside a 200 (what
    upstream/notices.py hands the ClientIdentity); the refresh it starts finds nothing newer."""

    async def refuse() -> None:
        ctl.identity.refused("This version of Antigravity is no longer supported. Please update to receive "
                             "the latest features!", None)
        await ctl.identity.settled()

    ctl.engine.call(refuse())
    assert ctl.status().client_version["alarm"] is not None


def axe_source() -> str | None:
    for p in AXE_PATHS:
        if p and Path(p).is_file():
            return Path(p).read_text("utf-8")
    return None


def run_axe(page: Any, source: str) -> list[dict[str, Any]]:
    """axe-core on the page as it is now (WCAG 2.x A/AA and best practices): the serious and
    critical violations, each with its nodes' targets."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=source)
    result = page.evaluate("""async () => {
        const r = await axe.run(document, { resultTypes: ["violations"],
            runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"] } });
        return r.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 5).map((n) => ({ target: n.target.join(" "), summary: n.failureSummary })) }));
    }""")
    return list(result)


def small_png(path: Path, colors: int = 256) -> None:
    """A screenshot kept small for docs/: the same pixels in a palette of `colors` (UI colours fit)."""
    from PIL import Image

    with Image.open(path) as im:
        im.convert("RGB").quantize(colors=colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
            path, optimize=True)
