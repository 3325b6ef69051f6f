"""`trayproxy connect CLIENT [--undo] [--check]` and the one entry point the tray and the settings
page use (`run_for` with the running Controller)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from trayproxy.connect.service import CLIENTS, Result, check, connect, summary, undo

__all__ = ["add_parser", "cmd_connect", "run_for", "backup_root"]

ACTIONS = ("connect", "undo", "check")


def backup_root(data_dir: Path) -> Path:
    return data_dir / "connect-backups"


def add_parser(sub: Any) -> None:
    p = sub.add_parser("connect", help="write a client's settings to use the proxy, and prove it works",
                       description="Writes Claude Code's, Codex's or Gemini CLI's own settings files to use this "
                                   "proxy (after a backup), then proves it with a request through the proxy and, "
                                   "when the client is installed, one short prompt run by the client itself.")
    p.add_argument("client", choices=tuple(CLIENTS))
    g = p.add_mutually_exclusive_group()
    g.add_argument("--undo", action="store_true", help="restore the settings as they were before connect")
    g.add_argument("--check", action="store_true", help="only verify the current settings")
    p.add_argument("--port", type=int, help="the proxy's port (default: the configured port)")
    p.add_argument("--no-client-run", action="store_true", help="do not run the client itself, only the round trip")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def run_for(ctl: Any, client: str, action: str, *, run_client: bool = True) -> Result:
    """The tray's and the page's connect: the running instance's base URL and key."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    root = backup_root(ctl.paths.data_dir)
    if action == "undo":
        return undo(client, backup_root=root)
    base, key = ctl.status().base_url, ctl.api_key()
    if action == "check":
        return check(client, base_url=base, api_key=key, run_client=run_client)
    return connect(client, base_url=base, api_key=key, backup_root=root, run_client=run_client)


def cmd_connect(args: argparse.Namespace) -> int:
    from trayproxy.config import load_config
    from trayproxy.paths import app_paths
    from trayproxy.secrets import SecretStore

    paths = app_paths().ensure()
    root = backup_root(paths.data_dir)
    if args.undo:
        res = undo(args.client, backup_root=root)
    else:
        cfg = load_config(paths.config_file).config.with_env()
        base = f"http://127.0.0.1:{args.port or cfg.port}"
        key = SecretStore(paths.secrets_file).api_key()
        run_client = not args.no_client_run
        if args.check:
            res = check(args.client, base_url=base, api_key=key, run_client=run_client)
        else:
            res = connect(args.client, base_url=base, api_key=key, backup_root=root, run_client=run_client)
    if args.json:
        print(json.dumps(res.to_dict(), indent=1))
    else:
        out = sys.stdout if res.ok else sys.stderr
        for line in summary(res):
            print(line, file=out)
    return 0 if res.ok else 1
