"""The client version trayproxy reports: learned from the local installation, the updater manifest
(served by the fake, no internet) and the saved value, never below the built-in floor; an
override wins; one alarm when Google refuses it, ended by a new version."""

from __future__ import annotations

import json
import plistlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from tests.fakes import FakeCloudCode
from tests.helpers import FakeClock
from trayproxy.upstream import client_version as cv
from trayproxy.upstream.client_version import (
    ClientIdentity,
    install_candidates,
    manifest_version,
    parse_version,
)
from trayproxy.upstream.transport import AiohttpTransport


@pytest.fixture
async def served() -> AsyncIterator[FakeCloudCode]:
    fake = FakeCloudCode()
    server = TestServer(fake.app())
    await server.start_server()
    fake.url = str(server.make_url("")).rstrip("/")
    try:
        yield fake
    finally:
        await server.close()


def test_versions_and_manifests_are_read_strictly() -> None:
    assert parse_version("2.9.1") == (2, 9, 1) and parse_version("2.10.0") > parse_version("2.9.9")  # type: ignore[operator]
    assert parse_version("2.9") is None and parse_version("2.9.1-4871453687021568") is None
    assert parse_version(None) is None
    assert manifest_version("version: 2.9.4\npath: Antigravity-arm64-mac.zip\n") == "2.9.4"
    assert manifest_version("version: '3.0.0'\n") == "3.0.0"
    assert manifest_version("path: x.zip\nversion: latest\n") is None
    assert cv.user_agent_for("2.9.1") == "antigravity/hub/2.9.1 darwin/arm64"


def test_the_installation_files_name_the_version(tmp_path: Path) -> None:
    product = tmp_path / "product.json"
    product.write_text(json.dumps({"version": "1.110.0", "ideVersion": "2.5.5"}))  # the IDE: VS Code base + its own
    package = tmp_path / "package.json"
    package.write_text(json.dumps({"name": "antigravity", "version": "2.9.7"}))  # the hub app
    plist = tmp_path / "Info.plist"
    plist.write_bytes(plistlib.dumps({"CFBundleShortVersionString": "2.9.3"}))
    broken = tmp_path / "broken" / "package.json"
    broken.parent.mkdir()
    broken.write_text("{not json")
    assert cv.read_install_version([product]) == "2.5.5"
    assert cv.read_install_version([product, package, plist, broken, tmp_path / "missing.json"]) == "2.9.7"
    assert cv.read_install_version([]) is None
    env = {"HOME": str(tmp_path), "TRAYPROXY_ANTIGRAVITY_INSTALL": str(plist)}
    assert install_candidates(env)[0] == plist and len(install_candidates(env)) > 1


async def test_learned_from_the_updater_never_below_the_floor_and_kept(served: FakeCloudCode, tmp_path: Path) -> None:
    fake = served
    state = tmp_path / "client_version.json"
    transport = AiohttpTransport()
    try:
        ident = ClientIdentity(transport, manifest_url=lambda: fake.manifest_url, state_file=state)
        await ident.load()
        assert ident.version == cv.FLOOR and ident.source == "floor"
        fake.updater_version = "2.2.1"  # an old manifest does not lower the version
        assert await ident.refresh() == cv.FLOOR
        fake.updater_version = "2.9.6"
        assert await ident.refresh() == "2.9.6" and ident.source == "updater"
        assert ident.user_agent() == "antigravity/hub/2.9.6 darwin/arm64"
        assert [r.header("User-Agent") for r in fake.requests if r.rpc == "updater.manifest"][-1] == "electron-builder"
        # saved: the next start begins with what was learned, without waiting for the updater
        again = ClientIdentity(transport, manifest_url=lambda: "", state_file=state)
        await again.load()
        assert again.version == "2.9.6"
        # the updater down: what is known stays, and why is said
        broken = ClientIdentity(transport, manifest_url=lambda: fake.url + "/nowhere", state_file=state)
        await broken.load()
        assert await broken.refresh() == "2.9.6" and "404" in (broken.check_error or "")
    finally:
        await transport.aclose()


async def test_an_installation_or_an_override_wins(tmp_path: Path) -> None:
    product = tmp_path / "package.json"
    product.write_text(json.dumps({"version": "3.1.0"}))
    override = {"v": ""}
    transport = AiohttpTransport()
    try:
        ident = ClientIdentity(transport, override=lambda: override["v"], manifest_url=lambda: "",
                               install_files=lambda: [product])
        await ident.load()
        assert ident.version == "3.1.0" and ident.source == "installation"
        override["v"] = "2.9.2"
        assert ident.version == "2.9.2" and ident.source == "override"
        override["v"] = "nonsense"
        assert ident.version == "3.1.0"
    finally:
        await transport.aclose()


async def test_one_alarm_kept_saved_and_ended_by_a_new_version(served: FakeCloudCode, tmp_path: Path) -> None:
    fake = served
    clock = FakeClock()
    state = tmp_path / "client_version.json"
    transport = AiohttpTransport()
    changes: list[str] = []
    try:
        ident = ClientIdentity(transport, manifest_url=lambda: fake.manifest_url, state_file=state, clock=clock)
        ident.on_change = lambda: changes.append(ident.version)
        await ident.load()
        alarm = ident.refused("This version of Antigravity is no longer supported.", "gemini-3-flash")
        assert ident.refused("This version of Antigravity is no longer supported.", "gemini-3.1-pro-low") is alarm
        assert alarm.kind == "refused" and alarm.version == cv.FLOOR and alarm.model == "gemini-3-flash"
        await ident.settled()  # the alarm started a look for a newer version at once
        assert ident.updater == cv.FLOOR
        assert ident.alarm is alarm  # the updater has nothing newer: the alarm stays
        assert json.loads(state.read_text())["alarm"]["kind"] == "refused"
        reloaded = ClientIdentity(transport, manifest_url=lambda: "", state_file=state, clock=clock)
        await reloaded.load()
        assert reloaded.alarm == alarm  # `doctor` and the next start see it
        fake.updater_version = "2.9.9"
        assert await ident.refresh() == "2.9.9"
        assert ident.alarm is None and changes  # a new version: a new verdict
        assert json.loads(state.read_text())["alarm"] is None
    finally:
        await transport.aclose()
