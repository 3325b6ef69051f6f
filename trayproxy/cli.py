"""Command line: `trayproxy` (tray app) and its subcommands.

Only the tray command imports display libraries, and only when it runs: `serve`, `accounts`,
`config`, `key`, `doctor`, `logs` and `connect` work on a machine with no display at all.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Any

from trayproxy import __version__
from trayproxy.cli_accounts import add_retry_parser, format_accounts
from trayproxy.cli_state import (
    STATE_ACCOUNT_COMMANDS,
    accounts_command,
    config_set_command,
    key_command,
    user_errors,
)
from trayproxy.config import AUTH_MODES, ConfigError

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="trayproxy", description="Local LLM API gateway in your tray.")
    p.add_argument("--version", action="version", version=f"trayproxy {__version__}")
    sub = p.add_subparsers(dest="cmd")

    s = sub.add_parser("serve", help="run the proxy in the foreground, no tray, no window")
    s.add_argument("--port", type=int, help="port to listen on (default: config port, 8045)")
    s.add_argument("--lan", action="store_true", help="listen on all interfaces (turns on auth in auto mode)")
    s.add_argument("--auth-mode", choices=AUTH_MODES, help="override auth_mode for this run")
    s.add_argument("-v", "--verbose", action="store_true", help="log every request")

    a = sub.add_parser("accounts", help="manage Google accounts")
    asub = a.add_subparsers(dest="acmd", required=True)
    login = asub.add_parser("login", help="add an account by signing in with Google in a browser")
    login.add_argument("--no-browser", action="store_true",
                       help="open no browser here: print the sign-in address for a browser anywhere, then "
                            "paste the address it ends on (SSH, containers; chosen by itself without a display)")
    add = asub.add_parser("add", help="add an account from a refresh token (asked for when not given)")
    add.add_argument("--refresh-token", metavar="TOKEN",
                     help="visible to other local users; leave it out to paste it at a prompt or pipe it on stdin")
    asub.add_parser("list", help="show accounts, quota and state")
    rm = asub.add_parser("remove", help="remove an account")
    rm.add_argument("account", metavar="ID_OR_EMAIL")
    en = asub.add_parser("enable", help="put a disabled account back into rotation")
    en.add_argument("account", metavar="ID_OR_EMAIL")
    dis = asub.add_parser("disable", help="take an account out of rotation (kept, not removed)")
    dis.add_argument("account", metavar="ID_OR_EMAIL")
    asub.add_parser("refresh", help="refresh project, tier and quota of every account")
    add_retry_parser(asub)
    from trayproxy import cli_import

    cli_import.add_parser(asub)

    c = sub.add_parser("config", help="show or change settings")
    csub = c.add_subparsers(dest="ccmd", required=True)
    csub.add_parser("show", help="print the effective settings")
    cs = csub.add_parser("set", help="change one setting, e.g. `config set port 9000` (live in a running trayproxy)")
    cs.add_argument("key")
    cs.add_argument("value", nargs="?", help="for zai.api_key leave it out to be asked for it")
    csub.add_parser("path", help="print where config.json is")

    k = sub.add_parser("key", help="the proxy API key")
    ksub = k.add_subparsers(dest="kcmd", required=True)
    ksub.add_parser("show")
    ksub.add_parser("regenerate")
    kset = ksub.add_parser("set")
    kset.add_argument("value", nargs="?", help="leave it out to be asked for it (an argument is visible to other users)")

    sub.add_parser("doctor", help="check the installation and say what is wrong")
    from trayproxy import cli_models

    cli_models.add_parser(sub)
    lg = sub.add_parser("logs", help="recent requests from the monitor")
    lg.add_argument("-n", type=int, default=30, help="how many (default 30)")
    lg.add_argument("--errors", action="store_true", help="only failed requests")
    lg.add_argument("--refused", action="store_true",
                    help="requests the guards refused (no or wrong API key, a web page, a foreign Host), counted")
    lg.add_argument("--json", action="store_true", help="JSON instead of a table")

    au = sub.add_parser("autostart", help="start trayproxy at login")
    au.add_argument("action", choices=("enable", "disable", "status"))

    from trayproxy.connect.command import add_parser as add_connect_parser

    add_connect_parser(sub)
    return p


def _setup_logging(verbose: bool = False) -> None:
    """stderr, through applog's formatter: client text escaped, secrets redacted."""
    from trayproxy import applog

    applog.setup(console_level=logging.INFO if verbose else logging.WARNING, datefmt="%H:%M:%S")


# -- serve -----------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    _setup_logging(args.verbose)
    from trayproxy.serve import run_serve

    return run_serve(args)


# -- accounts --------------------------------------------------------------------------------


def cmd_accounts(args: argparse.Namespace) -> int:
    _setup_logging()
    if args.acmd == "import":  # through the running instance too (cli_import.py)
        from trayproxy.cli_import import import_command

        return import_command(args)
    if args.acmd in STATE_ACCOUNT_COMMANDS:  # changes go to the running instance, if one runs
        return accounts_command(args, format_accounts)
    from trayproxy.cli_state import state_target

    with state_target() as target:  # `list`: the running instance's live states, or the files
        print(format_accounts(target.list_accounts()))
    return 0


# -- config / key ----------------------------------------------------------------------------


def cmd_config(args: argparse.Namespace) -> int:
    from trayproxy.config import load_config
    from trayproxy.paths import app_paths

    paths = app_paths().ensure()
    if args.ccmd == "path":
        print(paths.config_file)
        return 0
    if args.ccmd == "set":
        return config_set_command(args)
    loaded = load_config(paths.config_file)
    if loaded.message:
        print(f"trayproxy: warning: {loaded.message}", file=sys.stderr)
    print(json.dumps(loaded.config.with_env().to_dict(), indent=2))
    return 0


def cmd_key(args: argparse.Namespace) -> int:
    return key_command(args)


# -- doctor / logs ---------------------------------------------------------------------------


def cmd_doctor(args: argparse.Namespace) -> int:
    from trayproxy.accounts.store import AccountStore, AccountStoreError
    from trayproxy.config import load_config
    from trayproxy.control.local import running_instance
    from trayproxy.paths import app_paths
    from trayproxy.ports import port_is_free
    from trayproxy.problems import port_advice, port_problem
    from trayproxy.secrets import API_KEY, SecretStore, SecretStoreError

    paths = app_paths().ensure()
    problems = 0
    print(f"trayproxy {__version__} on Python {sys.version.split()[0]}")
    print(f"config file:  {paths.config_file}")
    print(f"data dir:     {paths.data_dir}")
    loaded = load_config(paths.config_file)
    if loaded.message:
        problems += 1
        print(f"config:       PROBLEM: {loaded.message}")
    else:
        print("config:       ok")
    store = SecretStore(paths.secrets_file)
    if store.is_fallback:
        print(f"keyring:      FALLBACK: {store.fallback_reason}")
        print(f"              secrets are in {paths.secrets_file} (mode 0600). Install/unlock GNOME Keyring or KWallet to use the system keychain.")
    else:
        print(f"keyring:      {store.backend_name}")
    try:
        store.get(API_KEY)
    except SecretStoreError as e:
        problems += 1
        print(f"secrets:      PROBLEM: {e}")
    inst = running_instance(paths)
    if inst is not None:
        what = "trayproxy serve" if inst.kind == "serve" else "the tray app"
        print(f"instance:     {what} (pid {inst.pid}) owns this data dir; CLI changes go to it and apply at once")
    cfg = loaded.config.with_env()
    taken = None if inst is not None else port_problem(cfg.bind_host, cfg.port)
    if inst is not None:
        free = port_is_free(cfg.bind_host, cfg.port)[0]
        print(f"port:         {cfg.bind_host}:{cfg.port} " + ("free" if free else "in use by the running trayproxy"))
    elif taken is None:
        print(f"port:         {cfg.bind_host}:{cfg.port} free")
    else:
        problems += 1
        print(f"port:         {cfg.bind_host}:{cfg.port} PROBLEM: {port_advice(taken.to_dict())}")
    try:
        accounts = AccountStore(paths.accounts_file, store).all()
    except AccountStoreError as e:
        problems += 1
        print(f"accounts:     PROBLEM: {e}")
        accounts = []
    usable = [a for a in accounts if not a.disabled and a.onboarded]
    print(f"accounts:     {len(accounts)} ({len(usable)} usable)")
    for a in accounts:
        if a.disabled or not a.onboarded:
            print(f"              {a.email}: {a.disabled_reason or 'not onboarded'}"
                  + (f" ({a.disabled_link})" if a.disabled and a.disabled_link else ""))
        elif a.verify_at is not None:
            print(f"              {a.email}: needs verification: {a.verify_url or 'see the Accounts tab'}"
                  f" (then `trayproxy accounts retry {a.label}`)")
    if not usable and not (cfg.zai.enabled and cfg.zai.dispatch_mode != "off"):
        problems += 1
        print("              -> add an account: trayproxy accounts login (--no-browser over SSH)")
        from trayproxy.accounts.import_sources import scan

        for src in scan():  # the other tools' accounts: read, not checked (no network here)
            n = sum(1 for f in src.found if not f.skip)
            if n:
                print(f"              -> {src.name} has {n} account{'' if n == 1 else 's'} in "
                      f"{src.describe()['shown_root']}: trayproxy accounts import")
    from trayproxy.cli_models import doctor_lines

    print("\n".join(doctor_lines(accounts, cfg.model_mapping)))
    problems += _doctor_client(paths, cfg)
    display = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) or sys.platform in ("darwin", "win32")
    print(f"display:      {'yes' if display else 'none (use `trayproxy serve`)'}")
    return 1 if problems else 0


def _doctor_client(paths: Any, cfg: Any) -> int:
    """The client version Google is told and, when it refused it, what to do (the running
    instance's view when one runs, else what was saved). Returns 1 for a refusal."""
    from trayproxy.upstream.client_version import (
        choose_version,
        install_candidates,
        read_install_version,
        read_state,
        user_agent_for,
    )
    from trayproxy.upstream.words import doctor_lines as client_lines

    saved = read_state(paths.client_version_file)
    learned = saved.get("learned") if isinstance(saved.get("learned"), str) else None
    version, source = choose_version(cfg.client_version, learned, read_install_version(install_candidates()))
    alarm = saved.get("alarm") if isinstance(saved.get("alarm"), dict) else None
    if alarm and alarm.get("version") != version:
        alarm = None  # about a version no longer in use
    state = {"user_agent": user_agent_for(version), "source": source, "alarm": alarm}
    print("\n".join(client_lines(state)))
    return 1 if alarm else 0


def cmd_logs(args: argparse.Namespace) -> int:
    """The request log (every text field's control characters escaped by the monitor), or with
    --refused the guards' refusals counted per kind, origin and status."""
    import shutil

    from trayproxy.monitor import Monitor
    from trayproxy.monitor.report import format_refused, format_table
    from trayproxy.paths import app_paths

    paths = app_paths().ensure()
    if not paths.monitor_db.exists():
        print("[]" if args.json else "No requests recorded yet.")
        return 0
    mon = Monitor(paths.monitor_db)
    width = shutil.get_terminal_size((120, 24)).columns
    if args.refused:
        refused = mon.refused(limit=args.n)
        if args.json:
            print(json.dumps(refused, indent=1))
        else:
            print(format_refused(refused, width=width) if refused else "No request was refused.")
        return 0
    rows = mon.recent(limit=args.n, status="error" if args.errors else None)
    if args.json:
        print(json.dumps(rows, indent=1, default=str))
        return 0
    print(format_table(list(reversed(rows)), width=width) if rows else "No requests recorded yet.")
    total = sum(int(r["count"]) for r in mon.refused(limit=1000))
    if total:
        print(f"\n{total} request{'s' if total != 1 else ''} refused by the guards (no or wrong API key, web "
              "pages, foreign Host): trayproxy logs --refused")
    return 0


def cmd_autostart(args: argparse.Namespace) -> int:
    try:
        from trayproxy import autostart
    except ImportError:
        print("trayproxy: autostart is not available in this build", file=sys.stderr)
        return 2
    return autostart.cli(args.action)


def cmd_tray(args: argparse.Namespace) -> int:
    display = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) or sys.platform in ("darwin", "win32")
    if not display:
        print("trayproxy: no display found; run the proxy headless with `trayproxy serve`", file=sys.stderr)
        return 2
    from trayproxy.ui.app import run_tray_app

    return run_tray_app()


def cmd_connect(args: argparse.Namespace) -> int:
    from trayproxy.connect.command import cmd_connect as run

    return run(args)


def main(argv: list[str] | None = None) -> int:
    from trayproxy import cli_models

    parser = build_parser()
    args = parser.parse_args(argv)
    from trayproxy.cli_notes import route_notices

    route_notices(args.cmd)  # the no-keychain notice: once, as `trayproxy: note: ...`
    handlers = {
        "serve": cmd_serve,
        "accounts": cmd_accounts,
        "config": cmd_config,
        "key": cmd_key,
        "doctor": cmd_doctor,
        "models": cli_models.cmd_models,
        "logs": cmd_logs,
        "autostart": cmd_autostart,
        "connect": cmd_connect,
        None: cmd_tray,
    }
    try:
        return handlers[args.cmd](args)
    except user_errors() as e:  # a corrupt file, a refused change, a bad value: no traceback
        return _user_error(e)
    except KeyboardInterrupt:
        print("trayproxy: interrupted", file=sys.stderr)
        return 130


def _user_error(e: BaseException) -> int:
    from trayproxy.control.local import ControlError
    from trayproxy.secrets import SecretStoreError

    print(f"trayproxy: {e.args[0] if e.args else e}", file=sys.stderr)
    if isinstance(e, ControlError):
        return 2 if 400 <= e.status < 500 else 1
    return 2 if isinstance(e, (ConfigError, SecretStoreError, KeyError)) else 1


if __name__ == "__main__":
    raise SystemExit(main())
