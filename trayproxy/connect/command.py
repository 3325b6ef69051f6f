"""`trayproxy connect CLIENT [--undo] [--check] [--trust home|all]`, `trayproxy connect --update`
(connect again every client that points at an old port or key) and the one entry point the tray
and the settings page use (`run_for` with the running Controller)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trayproxy.connect.gemini_cli import TRUST_CHOICES
from trayproxy.connect.service import CLIENTS, Result, check, connect, stale, status, summary, undo

if TYPE_CHECKING:
    from trayproxy.control.api import ControllerAPI

__all__ = ["add_parser", "cmd_connect", "run_for", "update_stale", "backup_root"]

ACTIONS = ("connect", "undo", "check")


def backup_root(data_dir: Path) -> Path:
    return data_dir / "connect-backups"


def add_parser(sub: Any) -> None:
    p = sub.add_parser("connect", help="write a client's settings to use the proxy, and prove it works",
                       description="Writes Claude Code's, Codex's, Gemini CLI's, OpenCode's or Kilo Code's own "
                                   "settings files to use this proxy (after a backup), then proves it with a request "
                                   "through the proxy and, when the client is installed, one short prompt run by the "
                                   "client itself in a new folder, as you would run it.")
    p.add_argument("client", nargs="?", choices=tuple(CLIENTS),
                   help="which client; without one, list the clients found here and whether they are connected")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--undo", action="store_true", help="restore the settings as they were before connect")
    g.add_argument("--check", action="store_true", help="only verify the current settings")
    g.add_argument("--update", action="store_true",
                   help="connect again every client connect wrote that points at an old port or key")
    p.add_argument("--trust", choices=TRUST_CHOICES,
                   help="gemini-cli: trust every folder under your home (or all folders), so Gemini CLI reads the "
                        "proxy's settings there; it then loads a project's own .gemini settings, MCP servers and "
                        ".env without asking")
    p.add_argument("--port", type=int, help="the proxy's port (default: the configured port)")
    p.add_argument("--no-client-run", action="store_true", help="do not run the client itself, only the round trip")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def run_for(ctl: ControllerAPI, client: str, action: str, *, run_client: bool = True,
            options: dict[str, str] | None = None) -> Result:
    """The tray's and the page's connect: the running instance's base URL and key. Runs in a
    worker thread; afterwards the Controller reads the clients again and pushes the news."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    root = backup_root(ctl.paths.data_dir)
    try:
        if action == "undo":
            return undo(client, backup_root=root)
        base, key = ctl.status().base_url, ctl.api_key()
        if action == "check":
            return check(client, base_url=base, api_key=key, run_client=run_client)
        return connect(client, base_url=base, api_key=key, backup_root=root, run_client=run_client, options=options)
    finally:  # every view (tray, page) hears which clients are connected now
        ctl.refresh_clients()


def update_stale(base_url: str, api_key: str, root: Path, *, run_client: bool = True,
                 env: Mapping[str, str] | None = None) -> list[Result]:
    """Connect again every client connect wrote that now points at another port or key (the
    proxy moved, or its key was made anew): each with its own backup, so undo goes back one step."""
    return [connect(cid, base_url=base_url, api_key=api_key, backup_root=root, run_client=run_client, env=env)
            for cid in stale(base_url=base_url, api_key=api_key, backup_root=root, env=env)]


def _running_tray(paths: Any) -> tuple[str, str] | None:
    """The base URL and key of the tray app running on this data dir (it may listen on another
    port than the config says, e.g. after a port change), or None."""
    import urllib.request

    from trayproxy.control.instance import read_instance  # stdlib only: no display library

    inst = read_instance(paths.instance_file)
    if inst is None:
        return None
    req = urllib.request.Request(inst.origin + "/api/state", headers={"X-Trayproxy-Token": inst.token})
    try:
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(req, timeout=10) as r:
            state = json.loads(r.read())
        return str(state["status"]["base_url"]), str(state["api_key"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _list(args: argparse.Namespace, root: Path, paths: Any) -> int:
    from trayproxy.config import load_config

    live = None if args.port else _running_tray(paths)
    if live is not None:
        base, key = live
    else:
        from trayproxy.secrets import SecretStore

        cfg = load_config(paths.config_file).config.with_env()
        base, key = f"http://127.0.0.1:{args.port or cfg.port}", SecretStore(paths.secrets_file).api_key()
    rows = status(base_url=base, backup_root=root, api_key=key)
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    for r in rows:
        inst = r["installed"] or {}
        found = f"{inst.get('version') or '?'} ({inst['binary']})" if inst.get("binary") else "not installed"
        state = "connected" if r["connected"] else "not connected"
        print(f"{r['title']:<12} {state:<14} {found}" + ("   undo available" if r["can_undo"] else ""))
        if r.get("stale") == "port":
            print(f"{'':<12} ⚠ points at {r['points_at']}, the proxy is at {base}: trayproxy connect {r['client']}")
        elif r.get("stale") == "key":
            print(f"{'':<12} ⚠ carries an old key: trayproxy connect {r['client']}")
        if inst.get("newer_than_tested"):
            print(f"{'':<12} note: newer than the newest version tested ({inst['newest_tested']})")
    if any(r.get("stale") for r in rows):
        print("Fix them all with `trayproxy connect --update`.")
    print(f"Connect one with `trayproxy connect {'|'.join(CLIENTS)}`.")
    return 0


def _ask_trust(args: argparse.Namespace) -> dict[str, str] | None:
    """Gemini CLI's folder trust: the --trust choice, or, on a terminal, the user's answer."""
    if args.client != "gemini-cli":
        return None
    if args.trust:
        return {"trust": args.trust}
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return None
    from trayproxy.connect.base import check_folder
    from trayproxy.connect.gemini_cli import GeminiCli

    gem = GeminiCli()
    env = dict(os.environ)
    if gem.trusted(env, check_folder(env) / "project"):
        return None
    print("Gemini CLI reads the proxy's settings only in folders you trust, and `gemini -p` stops in any other.\n"
          "Trust every folder under your home now? Gemini CLI then loads a project's own .gemini settings, MCP\n"
          "servers and .env there without asking (undo takes it back). [y/N] ", end="", flush=True)
    return {"trust": "home"} if sys.stdin.readline().strip().lower() in ("y", "yes", "j", "ja") else None


def cmd_connect(args: argparse.Namespace) -> int:
    from trayproxy.config import load_config
    from trayproxy.paths import app_paths
    from trayproxy.secrets import SecretStore

    paths = app_paths().ensure()
    root = backup_root(paths.data_dir)
    if args.update:
        live = None if args.port else _running_tray(paths)
        if live is None:
            cfg = load_config(paths.config_file).config.with_env()
            live = f"http://127.0.0.1:{args.port or cfg.port}", SecretStore(paths.secrets_file).api_key()
        results = update_stale(live[0], live[1], root, run_client=not args.no_client_run)
        if not results:
            print("Every client connect wrote points at this proxy; nothing to update.")
        for res in results:
            for line in summary(res):
                print(line, file=sys.stdout if res.ok else sys.stderr)
        return 0 if all(r.ok for r in results) else 1
    if args.client is None:
        if args.undo or args.check:
            print("trayproxy: name the client to undo or check, e.g. `trayproxy connect codex --check`", file=sys.stderr)
            return 2
        return _list(args, root, paths)
    if args.undo:
        res = undo(args.client, backup_root=root)
    else:
        live = None if args.port else _running_tray(paths)
        if live is not None:
            base, key = live
        else:
            cfg = load_config(paths.config_file).config.with_env()
            base = f"http://127.0.0.1:{args.port or cfg.port}"
            key = SecretStore(paths.secrets_file).api_key()
        run_client = not args.no_client_run
        if args.check:
            res = check(args.client, base_url=base, api_key=key, run_client=run_client)
        else:
            res = connect(args.client, base_url=base, api_key=key, backup_root=root, run_client=run_client,
                          options=_ask_trust(args))
    if args.json:
        print(json.dumps(res.to_dict(), indent=1))
    else:
        out = sys.stdout if res.ok else sys.stderr
        for line in summary(res):
            print(line, file=out)
    return 0 if res.ok else 1
