"""kill -9 during config and account saves loses nothing: after a SIGKILL at a random moment of
a save loop, config.json, accounts.json and the secrets fallback file are each either the old or
the new version, complete and valid JSON, and load cleanly.

The child process alternates two full versions (A and B) of every file as fast as it can; the
parent waits for its "ready" line (first A and B written), lets it run a random while, and kills
it. Any kill point must pass, so the test does not depend on timing."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROUNDS = 12
CHILD = r"""
import os, sys
from trayproxy.accounts.store import Account, AccountStore
from trayproxy.config import Config, save_config, set_value
from trayproxy.paths import app_paths
from trayproxy.secrets import SecretStore

import keyring.backends.null
paths = app_paths().ensure()
secrets = SecretStore(paths.secrets_file, backend=keyring.backends.null.Keyring())  # the file fallback
assert secrets.is_fallback
store = AccountStore(paths.accounts_file, secrets)

def config(variant, port):
    cfg = set_value(Config(), "port", port)
    for i in range(150):
        cfg = set_value(cfg, f"model_mapping.alias-{i}", variant)
    return cfg

A, B = config("gemini-2.5-flash", 9001), config("gemini-3-flash", 9002)
accounts = [Account.new(f"user{i}@example.com", now=1_700_000_000.0) for i in range(40)]
n = 0
while True:
    for variant, cfg in (("A", A), ("B", B)):
        save_config(paths.config_file, cfg)
        for acc in accounts:
            acc.project = f"proj-{variant}"
        for i, acc in enumerate(accounts[:3]):  # each put saves accounts.json and the secrets file
            store.put(acc, refresh_token=f"rt-{variant}-{i}")
        for acc in accounts[3:]:
            store._accounts[acc.id] = acc
        store.save()
    n += 1
    if n == 1:
        print("ready", flush=True)
"""


def _check(home: Path) -> tuple[str, str]:
    from trayproxy.accounts.store import AccountStore
    from trayproxy.config import load_config
    from trayproxy.paths import app_paths
    from trayproxy.secrets import SecretStore

    paths = app_paths()
    raw = json.loads(paths.config_file.read_text("utf-8"))  # complete, valid JSON
    port = raw["port"]
    assert port in (9001, 9002), raw
    want = "gemini-2.5-flash" if port == 9001 else "gemini-3-flash"
    assert set(raw["model_mapping"].values()) == {want} and len(raw["model_mapping"]) == 150, "mixed config"
    loaded = load_config(paths.config_file)
    assert loaded.message is None and loaded.config.port == port

    acc_raw = json.loads(paths.accounts_file.read_text("utf-8"))
    projects = {a["project"] for a in acc_raw["accounts"]}
    assert len(projects) == 1, f"accounts.json mixes versions: {projects}"
    import keyring.backends.null

    secrets = SecretStore(paths.secrets_file, backend=keyring.backends.null.Keyring())
    store = AccountStore(paths.accounts_file, secrets)
    assert len(store.all()) in (3, 40)
    sec = json.loads(paths.secrets_file.read_text("utf-8"))  # valid JSON
    tokens = {v for k, v in sec.items() if v.startswith("rt-")}
    assert tokens and all(t.startswith(("rt-A-", "rt-B-")) for t in tokens)
    return ("A" if port == 9001 else "B"), projects.pop()


@pytest.mark.parametrize("seed", range(ROUNDS))
def test_kill9_during_saves_loses_nothing(seed: int, trayproxy_home: Path) -> None:
    rng = random.Random(seed)
    env = dict(os.environ, TRAYPROXY_HOME=str(trayproxy_home), PYTHONPATH=str(Path(__file__).parents[2]))
    proc = subprocess.Popen([sys.executable, "-c", CHILD], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.strip() == "ready", (line, proc.stderr.read() if proc.stderr else "")
        time.sleep(rng.uniform(0, 0.3))  # where the kill lands; every point must pass
        proc.send_signal(signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    _check(trayproxy_home)
