"""`trayproxy serve`: the headless instance (no tray, no window, no display library).

1. Take the data dir's lock (control/local.py); when another instance holds it, say which one
   runs and how to reach it, and exit.
2. Start the Controller and a ControlServer (the CLI's way in, and the settings page for a
   browser on this machine), advertised in the 0600 instance file.
3. Start the proxy, or wait for a first account and start as soon as one is added.
4. Print what clients need: the base URLs, and with LAN access the addresses other machines
   use (with a warning when no key is required). A port in use says what to do.
5. Ctrl-C / SIGTERM stop everything and remove the instance file.
"""

from __future__ import annotations

import argparse
import ipaddress
import signal
import socket
import sys
import threading
from typing import TYPE_CHECKING, Any

from trayproxy import __version__
from trayproxy.config import ConfigError
from trayproxy.control.instance import remove_instance, write_instance
from trayproxy.control.local import LockHeld, claim
from trayproxy.paths import AppPaths, app_paths

if TYPE_CHECKING:
    from trayproxy.control.api import ControllerAPI, Status
    from trayproxy.control.server import ControlServer

__all__ = ["run_serve", "lan_addresses", "next_free_port"]


def lan_addresses() -> list[str]:
    """This machine's non-loopback IPv4 addresses, best guess first. Sends nothing."""
    found: list[str] = []
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # TEST-NET-1: picks the outbound interface, sends nothing
        found.append(probe.getsockname()[0])
    except OSError:
        pass
    finally:
        probe.close()
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    except OSError:
        infos = []
    for info in infos:
        found.append(str(info[4][0]))
    out: list[str] = []
    for a in found:
        try:
            ip = ipaddress.ip_address(a)
        except ValueError:
            continue
        if not (ip.is_loopback or ip.is_unspecified or ip.is_link_local) and a not in out:
            out.append(a)
    return out


def next_free_port(host: str, start: int, tries: int = 200) -> int | None:
    from trayproxy.ports import port_is_free

    for port in range(start + 1, min(65536, start + 1 + tries)):
        if port_is_free(host, port)[0]:
            return port
    return None


def _print_banner(ctl: ControllerAPI, st: Status) -> None:
    base = st.base_url
    host = ctl.bound_host or ctl.config.bind_host
    print(f"trayproxy {__version__} is listening on {host}:{st.port}", flush=True)
    print(f"  OpenAI clients:            {base}/v1")
    print(f"  Anthropic / Claude Code:   {base}")
    print(f"  Gemini clients:            {base}")
    if host == "0.0.0.0":
        addrs = lan_addresses()
        if addrs:
            print("  From other machines:       " + ", ".join(f"http://{a}:{st.port}" for a in addrs))
        else:
            print(f"  From other machines:       http://<this machine's address>:{st.port}")
        if st.auth_mode == "off":
            print("trayproxy: WARNING: LAN access is on and auth_mode is off: anyone on your network can use "
                  "your accounts. Run `trayproxy config set auth_mode all_except_health` (applied at once).",
                  file=sys.stderr, flush=True)
    print(f"  Active accounts: {st.active_accounts}" + (f"   upstreams: {', '.join(st.upstreams)}" if st.upstreams else ""))
    print(f"  Auth: {st.auth_mode}" + ("  (API key: `trayproxy key show`)" if st.auth_mode != "off" else ""))
    print("Press Ctrl-C to stop.", flush=True)


def _start_when_possible(ctl: ControllerAPI, stop: threading.Event) -> Status | None:
    """Start the proxy; with no usable account yet, say how to add one and start as soon as
    one is added (e.g. `trayproxy accounts login` in another terminal, which goes to us)."""
    from trayproxy.controller import NO_ACCOUNT_ERROR, StartError

    changed = threading.Event()
    ctl.subscribe(lambda st: changed.set())
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
                  "  `trayproxy accounts add` (paste a refresh token); the proxy starts as soon as it is added.\n"
                  "  Press Ctrl-C to quit.", file=sys.stderr, flush=True)
            told = True
        while not stop.is_set() and not changed.wait(0.5):
            pass
        changed.clear()
    return None


def _port_hint(ctl: ControllerAPI, args: argparse.Namespace) -> str:
    from trayproxy.ports import port_is_free

    cfg = ctl.config
    if port_is_free(cfg.bind_host, cfg.port)[0]:
        return ""
    nxt = next_free_port(cfg.bind_host, cfg.port)
    alt = str(nxt) if nxt else "N"
    return (f"\n  Port {cfg.port} is in use by another program. Use another port for this run with "
            f"`trayproxy serve --port {alt}`, or keep one with `trayproxy config set port {alt}`"
            + (f" ({nxt} is free now)." if nxt else "."))


def run_serve(args: argparse.Namespace) -> int:
    from trayproxy.control.server import ControlServer
    from trayproxy.controller import Controller, StartError

    paths = app_paths().ensure()
    try:
        lock = claim(paths)
    except LockHeld as e:
        print(f"trayproxy: {e}", file=sys.stderr)
        return 1
    overrides: dict[str, Any] = {}
    if args.port is not None:
        overrides["port"] = args.port
    if args.lan:
        overrides["allow_lan_access"] = True
    if args.auth_mode:
        overrides["auth_mode"] = args.auth_mode
    try:
        try:
            ctl = Controller(paths, overrides=overrides)
        except ConfigError as e:
            print(f"trayproxy: {e}", file=sys.stderr)
            return 2
        return _serve(ctl, paths, args, ControlServer, StartError)
    finally:
        lock.release()


def _serve(ctl: ControllerAPI, paths: AppPaths, args: argparse.Namespace, control_cls: type[ControlServer],
           start_error: type[Exception]) -> int:
    ctl.restart_hint = "restart `trayproxy serve`"
    if ctl.config_problem:
        print(f"trayproxy: warning: {ctl.config_problem}", file=sys.stderr)
    control = control_cls(ctl, kind="serve")
    stop = threading.Event()

    def _on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    try:
        ctl.engine.call(control.start())
        write_instance(paths.instance_file, control.url, kind="serve", cli_token=control.cli_token)
        try:
            st = _start_when_possible(ctl, stop)
        except start_error as e:
            print(f"trayproxy: {e}{_port_hint(ctl, args)}", file=sys.stderr)
            return 1
        if st is None:
            return 0
        _print_banner(ctl, st)
        while not stop.wait(3600):
            pass
        print("Stopping...", flush=True)
        return 0
    finally:
        remove_instance(paths.instance_file)
        try:
            ctl.engine.call(control.stop(), timeout=10)
        except Exception:
            pass
        ctl.close()
        if stop.is_set():
            print("Stopped.", flush=True)
