"""Command line: `trayproxy` (tray app) and its subcommands.

Only the tray command imports display libraries, and only when it runs: `serve`, `accounts`,
`config`, `key`, `doctor` and `logs` work on a machine with no display at all.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
import webbrowser
from typing import Any

from trayproxy import __version__
from trayproxy.config import AUTH_MODES, ConfigError, parse_cli_value

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
    asub.add_parser("login", help="add an account by signing in with the browser")
    add = asub.add_parser("add", help="add an account from a refresh token")
    add.add_argument("--refresh-token", required=True, metavar="TOKEN")
    asub.add_parser("list", help="show accounts, quota and state")
    rm = asub.add_parser("remove", help="remove an account")
    rm.add_argument("account", metavar="ID_OR_EMAIL")
    asub.add_parser("refresh", help="refresh project, tier and quota of every account")

    c = sub.add_parser("config", help="show or change settings")
    csub = c.add_subparsers(dest="ccmd", required=True)
    csub.add_parser("show", help="print the effective settings")
    cs = csub.add_parser("set", help="change one setting, e.g. `config set port 9000`")
    cs.add_argument("key")
    cs.add_argument("value")
    csub.add_parser("path", help="print where config.json is")

    k = sub.add_parser("key", help="the proxy API key")
    ksub = k.add_subparsers(dest="kcmd", required=True)
    ksub.add_parser("show")
    ksub.add_parser("regenerate")
    kset = ksub.add_parser("set")
    kset.add_argument("value")

    sub.add_parser("doctor", help="check the installation and say what is wrong")
    lg = sub.add_parser("logs", help="recent requests from the monitor")
    lg.add_argument("-n", type=int, default=30, help="how many (default 30)")
    lg.add_argument("--errors", action="store_true", help="only failed requests")
    lg.add_argument("--json", action="store_true", help="JSON instead of a table")

    au = sub.add_parser("autostart", help="start trayproxy at login")
    au.add_argument("action", choices=("enable", "disable", "status"))
    return p


def _controller(**overrides: Any) -> Any:
    from trayproxy.controller import Controller
    from trayproxy.paths import app_paths

    return Controller(app_paths(), overrides={k: v for k, v in overrides.items() if v is not None})


def _setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )


# -- serve -----------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    _setup_logging(args.verbose)
    from trayproxy.controller import StartError

    overrides: dict[str, Any] = {}
    if args.port is not None:
        overrides["port"] = args.port
    if args.lan:
        overrides["allow_lan_access"] = True
    if args.auth_mode:
        overrides["auth_mode"] = args.auth_mode
    try:
        ctl = _controller(**overrides)
    except ConfigError as e:
        print(f"trayproxy: {e}", file=sys.stderr)
        return 2
    if ctl.config_problem:
        print(f"trayproxy: warning: {ctl.config_problem}", file=sys.stderr)
    stop = threading.Event()

    def _on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    try:
        st = _start_when_possible(ctl, stop)
    except StartError as e:
        print(f"trayproxy: {e}", file=sys.stderr)
        ctl.close()
        return 1
    if st is None:
        ctl.close()
        return 0
    base = st.base_url
    cfg = ctl.config
    print(f"trayproxy {__version__} is listening on {cfg.bind_host}:{st.port}", flush=True)
    print(f"  OpenAI clients:            {base}/v1")
    print(f"  Anthropic / Claude Code:   {base}")
    print(f"  Gemini clients:            {base}")
    print(f"  Active accounts: {st.active_accounts}" + (f"   upstreams: {', '.join(st.upstreams)}" if st.upstreams else ""))
    print(f"  Auth: {st.auth_mode}" + ("  (API key: `trayproxy key show`)" if st.auth_mode != "off" else ""))
    print("Press Ctrl-C to stop.", flush=True)
    while not stop.wait(3600):
        pass
    print("Stopping...", flush=True)
    ctl.close()
    print("Stopped.", flush=True)
    return 0


def _start_when_possible(ctl: Any, stop: threading.Event) -> Any:
    """Start the proxy; with no usable account yet, say how to add one and start as soon as
    one appears (e.g. `trayproxy accounts login` in another terminal)."""
    from trayproxy.controller import NO_ACCOUNT_ERROR, StartError

    told = False
    while not stop.is_set():
        try:
            return ctl.start()
        except StartError as e:
            if str(e) != NO_ACCOUNT_ERROR:
                raise
        if not told:
            print(f"trayproxy: {NO_ACCOUNT_ERROR}.", file=sys.stderr)
            print("  Add one in another terminal with `trayproxy accounts login` (browser sign-in) or\n"
                  "  `trayproxy accounts add --refresh-token TOKEN`; the proxy starts as soon as it is added.\n"
                  "  Press Ctrl-C to quit.", file=sys.stderr, flush=True)
            told = True
        if stop.wait(2.0):
            break
        try:
            ctl.reload()
        except Exception as e:  # a half-written file from the other terminal: try again
            logging.getLogger("trayproxy").debug("reload failed: %s", e)
    return None


# -- accounts --------------------------------------------------------------------------------


def _fmt_time(ts: float | None) -> str:
    if not ts:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


def format_accounts(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "No accounts yet. Add one with `trayproxy accounts login` or `trayproxy accounts add --refresh-token T`."
    lines: list[str] = []
    for r in rows:
        lines.append(f"{r['email']}  [{r['id'][:8]}]  tier: {r['tier'] or 'unknown'}  state: {r['state']}")
        for name, m in r["models"].items():
            rem = "?" if m["remaining"] is None else f"{round(m['remaining'] * 100):3d}%"
            extra = f"  resets {_fmt_time(m['reset_time'])}" if m["reset_time"] else ""
            if m["cooldown_until"]:
                extra += f"  cooling down until {time.strftime('%H:%M:%S', time.localtime(m['cooldown_until']))}"
            lines.append(f"    {name:<32} {rem}{extra}")
    return "\n".join(lines)


def cmd_accounts(args: argparse.Namespace) -> int:
    _setup_logging()
    ctl = _controller()
    try:
        if args.acmd == "list":
            print(format_accounts(ctl.list_accounts()))
        elif args.acmd == "add":
            acc = ctl.add_refresh_token(args.refresh_token)
            print(f"Added {acc.email} (tier {acc.tier or 'unknown'}, project {acc.project}).")
        elif args.acmd == "login":
            def show(url: str) -> None:
                print("Opening your browser to sign in with Google. If it does not open, visit:\n" + url, flush=True)
                webbrowser.open(url)

            acc = ctl.login(show)
            print(f"Signed in as {acc.email} (tier {acc.tier or 'unknown'}).")
        elif args.acmd == "remove":
            acc = ctl.remove_account(args.account)
            print(f"Removed {acc.email}.")
        elif args.acmd == "refresh":
            for acc, err in ctl.refresh_accounts():
                print(f"{acc.email}: {err or 'ok'}")
            print(format_accounts(ctl.list_accounts()))
        return 0
    except Exception as e:
        from trayproxy.accounts.service import AccountError

        if isinstance(e, (AccountError, KeyError)):
            print(f"trayproxy: {e.args[0] if e.args else e}", file=sys.stderr)
            return 1
        raise
    finally:
        ctl.close()


# -- config / key ----------------------------------------------------------------------------


def cmd_config(args: argparse.Namespace) -> int:
    from trayproxy.config import load_config, save_config, set_value
    from trayproxy.paths import app_paths

    paths = app_paths().ensure()
    if args.ccmd == "path":
        print(paths.config_file)
        return 0
    loaded = load_config(paths.config_file)
    if loaded.message:
        print(f"trayproxy: warning: {loaded.message}", file=sys.stderr)
    if args.ccmd == "show":
        print(json.dumps(loaded.config.with_env().to_dict(), indent=2))
        return 0
    if args.key == "zai.api_key":
        from trayproxy.secrets import ZAI_KEY, SecretStore

        store = SecretStore(paths.secrets_file)
        if args.value:
            store.set(ZAI_KEY, args.value.strip())
            print("z.ai API key stored in the keychain.")
        else:
            store.delete(ZAI_KEY)
            print("z.ai API key removed.")
        return 0
    try:
        value = parse_cli_value(args.key, args.value)
        new = set_value(loaded.config, args.key, value)
    except ConfigError as e:
        print(f"trayproxy: {e}", file=sys.stderr)
        return 2
    save_config(paths.config_file, new)
    print(f"{args.key} = {json.dumps(value)}")
    return 0


def cmd_key(args: argparse.Namespace) -> int:
    from trayproxy.paths import app_paths
    from trayproxy.secrets import SecretStore, SecretStoreError

    paths = app_paths().ensure()
    store = SecretStore(paths.secrets_file)
    if args.kcmd == "show":
        print(store.api_key())
    elif args.kcmd == "regenerate":
        print(store.regenerate_api_key())
    else:
        try:
            store.set_api_key(args.value)
        except SecretStoreError as e:
            print(f"trayproxy: {e}", file=sys.stderr)
            return 2
        print("API key updated.")
    return 0


# -- doctor / logs ---------------------------------------------------------------------------


def cmd_doctor(args: argparse.Namespace) -> int:
    from trayproxy.accounts.store import AccountStore, AccountStoreError
    from trayproxy.config import load_config
    from trayproxy.paths import app_paths
    from trayproxy.proxy.server import port_is_free
    from trayproxy.secrets import SecretStore

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
    cfg = loaded.config.with_env()
    free, why = port_is_free(cfg.bind_host, cfg.port)
    print(f"port:         {cfg.bind_host}:{cfg.port} " + ("free" if free else f"IN USE ({why})"))
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
            print(f"              {a.email}: {a.disabled_reason or 'not onboarded'}")
    if not usable and not (cfg.zai.enabled and cfg.zai.dispatch_mode != "off"):
        problems += 1
        print("              -> add an account: trayproxy accounts login")
    display = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) or sys.platform in ("darwin", "win32")
    print(f"display:      {'yes' if display else 'none (use `trayproxy serve`)'}")
    return 1 if problems else 0


def cmd_logs(args: argparse.Namespace) -> int:
    from trayproxy.monitor import Monitor
    from trayproxy.monitor.report import format_table
    from trayproxy.paths import app_paths

    paths = app_paths().ensure()
    if not paths.monitor_db.exists():
        print("No requests recorded yet.")
        return 0
    mon = Monitor(paths.monitor_db)
    rows = mon.recent(limit=args.n, status="error" if args.errors else None)
    if args.json:
        print(json.dumps(rows, indent=1, default=str))
    else:
        import shutil

        width = shutil.get_terminal_size((120, 24)).columns
        print(format_table(list(reversed(rows)), width=width) if rows else "No requests recorded yet.")
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


def main(argv: list[str] | None = None) -> int:
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
        "logs": cmd_logs,
        "autostart": cmd_autostart,
        None: cmd_tray,
    }
    return handlers[args.cmd](args)


if __name__ == "__main__":
    raise SystemExit(main())
