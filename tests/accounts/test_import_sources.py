"""Reading Antigravity-Manager's and CLIProxyAPI's account files (accounts/import_sources.py):
where they are, what each file holds or why it cannot be used, and that nothing is written."""

from __future__ import annotations

from pathlib import Path

from tests.accounts.import_samples import AM_IDS, write_samples
from trayproxy.accounts.import_sources import AM, CPA, default_sources, read_account_file, scan


def _by_name(found: list) -> dict[str, object]:
    return {f.path.name: f for f in found}


def test_the_tools_folders_and_what_each_file_holds(tmp_path: Path) -> None:
    home = tmp_path / "home"
    samples = write_samples(home)
    am, cpa = scan(env={}, home=home)
    assert (am.name, am.root, am.exists) == (AM, home / ".antigravity_tools", True)
    assert (cpa.name, cpa.root, cpa.exists) == (CPA, home / ".cli-proxy-api", True)

    a = _by_name(am.found)  # only accounts/*.json: not the index, not gui_config.json
    assert sorted(a) == sorted(f"{i}.json" for i in AM_IDS.values())
    alice = a[f"{AM_IDS['alice']}.json"]
    assert (alice.email, alice.refresh_token, alice.project, alice.disabled, alice.skip) == (
        "alice@example.com", "rt-alice@example.com", "proj-alice", False, None)
    assert "rt-alice" not in repr(alice) and "rt-alice" not in str(alice.describe())  # the token stays inside
    dead = a[f"{AM_IDS['dead']}.json"]
    assert dead.disabled and dead.disabled_note == "invalid_grant: Token has been expired or revoked."
    off = a[f"{AM_IDS['off']}.json"]
    assert off.disabled and off.disabled_note == "excluded from the proxy, manual" and off.skip is None
    assert a[f"{AM_IDS['broken']}.json"].skip == "not valid JSON (line 1, column 29)"
    assert a[f"{AM_IDS['notoken']}.json"].skip == "has no refresh token"

    c = {str(f.path.relative_to(cpa.root)): f for f in cpa.found}  # recursive, like CLIProxyAPI
    assert sorted(c) == ["antigravity-alice@example.com.json", "antigravity-bob@example.com.json",
                         "antigravity-carol@example.com.json", "claude-bob@example.com.json", "empty.json",
                         "notes.json", "team/antigravity.json"]
    bob = c["antigravity-bob@example.com.json"]
    assert (bob.source, bob.email, bob.refresh_token, bob.project, bob.disabled) == (
        CPA, "bob@example.com", "rt-bob@example.com", "proj-bob", False)
    assert c["antigravity-carol@example.com.json"].disabled
    assert c["team/antigravity.json"].email is None and c["team/antigravity.json"].skip is None
    assert c["claude-bob@example.com.json"].skip == 'a CLIProxyAPI "claude" credential, not an Antigravity one'
    assert c["notes.json"].skip == "not valid JSON (line 1, column 1)"
    assert c["empty.json"].skip == "empty file"
    assert samples.current() == samples.before  # read only


def test_abv_data_dir_and_missing_folders(tmp_path: Path) -> None:
    assert default_sources({"ABV_DATA_DIR": "  "}, tmp_path)[0] == (AM, tmp_path / ".antigravity_tools")
    assert default_sources({"ABV_DATA_DIR": str(tmp_path / "abv")}, tmp_path)[0] == (AM, tmp_path / "abv")
    am, cpa = scan(env={"ABV_DATA_DIR": str(tmp_path / "abv")}, home=tmp_path)
    assert not am.exists and not cpa.exists and am.found == [] and cpa.found == []
    (tmp_path / "abv").mkdir()
    (tmp_path / "abv" / "gui_config.json").write_text("{}")
    am = scan(env={"ABV_DATA_DIR": str(tmp_path / "abv")}, home=tmp_path)[0]
    assert am.exists and am.found == [] and am.note and "no accounts folder" in am.note


def test_a_path_given_is_recognised_by_what_it_holds(tmp_path: Path) -> None:
    home = tmp_path / "home"
    samples = write_samples(home)
    [am] = scan(samples.am)  # Antigravity-Manager's data folder
    assert am.name == AM and len(am.found) == len(AM_IDS)
    [accounts] = scan(samples.am / "accounts")  # its accounts folder alone: the files say whose
    assert {f.source for f in accounts.found if f.skip is None} == {AM}
    [one] = scan(samples.cpa / "antigravity-bob@example.com.json")
    assert one.name == "file" and one.found[0].email == "bob@example.com" and one.found[0].source == CPA
    [copied] = scan(samples.cpa / "team")
    assert copied.name == "folder" and copied.found[0].refresh_token == "rt-eve@example.com"
    [nothing] = scan(tmp_path / "nowhere")
    assert not nothing.exists and nothing.note == "no such file or folder"
    assert samples.current() == samples.before


def test_odd_files_get_a_reason_not_an_exception(tmp_path: Path) -> None:
    cases = {
        "list.json": ("[1, 2]", "not an account file (no JSON object)"),
        "other.json": ('{"name": "x"}', "not an Antigravity-Manager or CLIProxyAPI account file"),
        "typeless.json": ('{"type": 7}', "a CLIProxyAPI file without a usable type"),
        "bom.json": ('\ufeff{"type": "antigravity", "refresh_token": "rt-x", "email": "x@example.com"}', None),
        "index.json": ('{"version": "2.0", "accounts": []}', "Antigravity-Manager's index (its account files are read instead)"),
        "cpa-no-token.json": ('{"type": "antigravity", "email": "y@example.com"}', "has no refresh token"),
        "big.json": ("{" + " " * (1024 * 1024 + 10) + "}", "too large for an account file (1024 KiB)"),
    }
    for name, (text, skip) in cases.items():
        p = tmp_path / name
        p.write_text(text, encoding="utf-8")
        assert read_account_file(p).skip == skip, name
    assert read_account_file(tmp_path / "bom.json").email == "x@example.com"
    unreadable = tmp_path / "locked.json"
    unreadable.write_text("{}")
    unreadable.chmod(0)
    try:
        import os

        if os.geteuid() != 0:  # root reads anything
            assert (read_account_file(unreadable).skip or "").startswith("cannot be read: ")
    finally:
        unreadable.chmod(0o600)
