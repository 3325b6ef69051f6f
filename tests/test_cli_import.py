"""`trayproxy accounts import` as a person runs it, against sample Antigravity-Manager and
CLIProxyAPI folders and the fake Google: every file gets its own line, the person chooses,
each result is reported, the sources stay untouched; without and with a running instance."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.accounts.import_samples import AM_IDS, Samples, sample_world
from tests.conftest import free_port
from tests.fakes.cloudcode import FakeCloudCode
from tests.helpers import child_env, start_serve, stop_process
from trayproxy.cli import main
from trayproxy.cli_import import parse_choice

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeCloudCode, Samples]]:
    with sample_world(tmp_path / "user", monkeypatch) as (fake, samples):
        for k, v in fake.env().items():
            monkeypatch.setenv(k, v)
        yield fake, samples


def run(*args: str) -> int:
    return main(list(args))


def test_import_everything_importable_without_an_instance(world: tuple[FakeCloudCode, Samples],
                                                          capsys: pytest.CaptureFixture[str],
                                                          trayproxy_home: Path) -> None:
    _, samples = world
    assert run("accounts", "add", "--refresh-token", "rt-mine@example.com") == 0
    capsys.readouterr()
    assert run("accounts", "import", "--yes") == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert "  Antigravity-Manager  ~/.antigravity_tools: 6 files" in lines
    assert "  CLIProxyAPI          ~/.cli-proxy-api: 7 files" in lines
    def ready(n: int, text: str) -> str:
        return f"   {n}. {text}"

    def skipped(text: str) -> str:
        return f"    - {text}"

    for expected in (
        ready(1, "alice@example.com: its token refreshes"),
        skipped("dead@example.com: Google refused its refresh token (revoked or expired): sign in with this "
                "account instead (trayproxy accounts login)"),
        ready(2, "off@example.com: its token refreshes; off in Antigravity-Manager (excluded from the proxy, "
                 "manual): it stays disabled here"),
        skipped(f"{AM_IDS['broken']}.json: not valid JSON (line 1, column 29)"),
        skipped("notoken@example.com: has no refresh token"),
        skipped("mine@example.com: already in trayproxy"),
        skipped(f"alice@example.com: the same account as ~/.antigravity_tools/accounts/{AM_IDS['alice']}.json: "
                "skipped"),
        ready(3, "bob@example.com: its token refreshes"),
        ready(4, "carol@example.com: its token refreshes; off in CLIProxyAPI (disabled): it stays disabled here"),
        skipped('bob@example.com: a CLIProxyAPI "claude" credential, not an Antigravity one'),
        skipped("empty.json: empty file"),
        skipped("notes.json: not valid JSON (line 1, column 1)"),
        ready(5, "eve@example.com: its token refreshes"),
        "      CLIProxyAPI, ~/.cli-proxy-api/team/antigravity.json",
        "alice@example.com: imported (tier Google AI Pro, project proj-alice)",
        "off@example.com: imported, disabled as it was in Antigravity-Manager (`trayproxy accounts enable "
        "off@example.com` puts it in rotation)",
        "Imported 5 of 5. The source files were only read: nothing in them changed.",
    ):
        assert expected in lines, (expected, out)
    assert "rt-" not in out
    assert samples.current() == samples.before
    run("accounts", "list")
    listing = capsys.readouterr().out
    assert "carol@example.com" in listing and "off in CLIProxyAPI (disabled)" in listing


def test_choose_by_number_and_dry_run(world: tuple[FakeCloudCode, Samples], capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch, trayproxy_home: Path) -> None:
    _, samples = world
    assert run("accounts", "import", str(samples.cpa), "--dry-run") == 0
    out = capsys.readouterr().out
    assert "4 could be imported (--dry-run: nothing was)." in out and not (trayproxy_home / "accounts.json").exists()
    monkeypatch.setattr(sys, "stdin", io.StringIO("7\n2-3\n"))  # 7 is not offered: asked again
    assert run("accounts", "import", str(samples.cpa)) == 0
    out = capsys.readouterr().out
    assert "Import all 4? [Y/n, or numbers like 1,3]: " in out and "Answer y, n, or numbers from 1 to 4." in out
    emails = [a["email"] for a in json.loads((trayproxy_home / "accounts.json").read_text())["accounts"]]
    assert emails == ["bob@example.com", "carol@example.com"]
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # nobody to answer: nothing is imported
    assert run("accounts", "import", str(samples.cpa)) == 2
    assert "Pass --yes to import without asking" in capsys.readouterr().out
    assert samples.current() == samples.before


def test_nothing_found(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "nobody"))
    monkeypatch.delenv("ABV_DATA_DIR", raising=False)
    assert run("accounts", "import") == 0
    out = capsys.readouterr().out
    assert "~/.antigravity_tools: not found" in out and "No account files found." in out
    assert run("accounts", "import", str(tmp_path / "missing")) == 1
    assert "no such file or folder" in capsys.readouterr().out


def test_import_through_the_running_serve(world: tuple[FakeCloudCode, Samples], tmp_path: Path) -> None:
    fake, samples = world
    home = tmp_path / "data"
    env = child_env(TRAYPROXY_HOME=str(home), TRAYPROXY_CONTAINER="0")
    serve = start_serve(env, "--port", str(free_port()), stdout=subprocess.DEVNULL)
    try:
        # relative PATH: resolved here, not in the instance's working directory
        p = subprocess.run([sys.executable, "-m", "trayproxy", "accounts", "import", ".antigravity_tools"], env=env,
                           cwd=samples.am.parent, input="1\n", capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        assert p.stdout.startswith("Looking through the running trayproxy serve (pid ")
        assert "Import all 3? [Y/n, or numbers like 1,3]: " in p.stdout
        assert "alice@example.com: imported (tier Google AI Pro, project proj-alice)" in p.stdout
        assert "Imported 1 of 1." in p.stdout and "Applied by the running trayproxy serve" in p.stdout
        st = subprocess.run([sys.executable, "-m", "trayproxy", "accounts", "list"], env=env, capture_output=True,
                            text=True, timeout=60)
        assert "alice@example.com" in st.stdout and "state: Ready" in st.stdout
    finally:
        stop_process(serve, 30)
    assert samples.current() == samples.before


@pytest.mark.parametrize(("answer", "count", "picked"), [
    ("", 3, [0, 1, 2]), ("Y\n", 3, [0, 1, 2]), ("all", 2, [0, 1]), ("n", 3, []), ("none", 3, []),
    ("1,3", 3, [0, 2]), ("2-4 1", 5, [1, 2, 3, 0]), ("3 3", 3, [2]), ("0", 3, None), ("4", 3, None),
    ("x", 3, None), ("2-", 3, None), ("3-1", 3, None),
])
def test_parse_choice(answer: str, count: int, picked: list[int] | None) -> None:
    assert parse_choice(answer, count) == picked
