from __future__ import annotations

import os
from contextlib import contextmanager

os.environ.setdefault("PYSTRAY_BACKEND", "dummy")

import shutil  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402

from tests.control.helpers import add_account  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


CHROMIUM = os.environ.get("TRAYPROXY_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@contextmanager
def chromium() -> Iterator[Any]:
    """Headless Chromium (Debian `chromium`, driven by Playwright) for a browser test; the test is
    skipped when either is missing or Playwright cannot drive that Chromium."""
    if not CHROMIUM:
        pytest.skip("Debian chromium is not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        except Exception as e:  # a Chromium that Playwright cannot drive
            pytest.skip(f"cannot launch {CHROMIUM}: {e}")
        try:
            yield browser
        finally:
            try:
                browser.close()  # idempotent: a test may have closed it already
            except Exception:
                pass


@pytest.fixture
def page(control: Any, controller: Any, login_home: Path) -> Iterator[Any]:
    """The settings page in headless Chromium (Debian `chromium`, driven by Playwright), with two
    accounts; skipped when either is missing. Fails the test on any page error."""
    add_account(controller)
    add_account(controller, "second.account@example.com").disabled = False
    with chromium() as browser:
        ctx = browser.new_context(viewport={"width": 1000, "height": 760}, color_scheme="light")
        origin = f"http://127.0.0.1:{control.port}"
        ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=origin)
        pg = ctx.new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.on("console", lambda m: errors.append(m.text) if m.type == "error" and "status of 4" not in m.text
              and "status of 5" not in m.text else None)
        pg.goto(control.url)
        pg.wait_for_selector("#status-text:has-text('Stopped')")
        yield pg
        assert errors == [], errors
        browser.close()
