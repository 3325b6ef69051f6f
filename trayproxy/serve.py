"""`trayproxy serve`: the headless instance (no tray, no window, no display library).

1. Take the data dir's lock (control/local.py); when another instance holds it, say which one
   runs and how to reach it, and exit.
2. Start the Controller and a ControlServer (the CLI's way in, and the settings page for a
   browser on this machine), advertised in the 0600 instance file.
3. Bind the proxy at once, account or not: a port in use is reported now (with the program
   holding it and a free port to use), not after the first sign-in, and /healthz answers while
   the first account is awaited, so a container is healthy, not restarted in a loop. Until an
   account is added, API requests get a 503 that says so; the account serves as soon as it is
   added (`trayproxy accounts login|add|import` go to this instance).
4. Print what clients need: the base URLs, and with LAN access the addresses other machines
   use (with a warning when no key is required); while no account exists, how to add one, in a
   container with the `docker exec` way in.
5. Ctrl-C / SIGTERM stop everything and remove the instance file.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
import signal
import socket
import sys
import threading
from typing import TYPE_CHECKING, Any

from trayproxy import __version__
from trayproxy.config import ConfigError
from trayproxy.control.instance import remove_instance, write_instance
from trayproxy.control.local import LockHeld, claim
from trayproxy.controller import NO_ACCOUNT_ERROR
from trayproxy.paths import AppPaths, app_paths

if TYPE_CHECKING:
    from trayproxy.control.api import ControllerAPI, Status
    from trayproxy.control.server import ControlServer

__all__ = ["run_serve", "lan_addresses", "in_container", "way_in", "waiting_message"]


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


def in_container(env: dict[str, str] | None = None, *, interactive: bool | None = None) -> bool:
    """Whether a person reaches this process from outside its container: TRAYPROXY_CONTAINER
    says so when set (installer/Dockerfile sets 1; 0 says no); else the marker files Docker and
    Podman leave, unless serve runs in a terminal (someone's shell inside the container, who
    needs no `docker exec`)."""
    env = dict(os.environ) if env is None else env
    said = env.get("TRAYPROXY_CONTAINER")
    if said is not None:
        return said.strip().lower() not in ("", "0", "false", "no")
    if interactive is None:
        interactive = sys.stdin is not None and sys.stdin.isatty()
    return not interactive and (os.path.exists("/.dockerenv") or os.path.exists("/run/.containerenv"))


def way_in(container: bool, hostname: str | None = None) -> str:
    """How a person runs a trayproxy command against this instance: as is, or through
    `docker exec` (Docker names a container's host after its id, which `docker exec` takes)."""
    if not container:
        return "trayproxy"
    host = hostname if hostname is not None else socket.gethostname()
    name = host if re.fullmatch(r"[0-9a-f]{12}", host) else "<container>"
    return f"docker exec -it {name} trayproxy"


def waiting_message(container: bool, hostname: str | None = None) -> str:
    """What `serve` says while it has no account: that it answers /healthz, and how to add one."""
    cmd = way_in(container, hostname)
    login = f"{cmd} accounts login --no-browser" if container else f"{cmd} accounts login"
    rows = [
        (login, "sign in with Google in any browser, then paste the address it ends on" if container
         else "sign in with Google (over SSH or without a display: any browser, paste back where it ends)"),
        (f"{cmd} accounts add", "paste a refresh token"),
        (f"{cmd} accounts import" + (" /path" if container else ""),
         "bring accounts over from Antigravity-Manager or CLIProxyAPI"
         + (" (mount their folder into the container)" if container else "")),
    ]
    width = max(len(c) for c, _ in rows)
    lines = [f"trayproxy: {NO_ACCOUNT_ERROR}. Waiting for one: /healthz answers, API requests get 503 until then.",
             "  Add an account; the proxy uses it at once:"]
    lines += [f"    {c:<{width}}  {what}" for c, what in rows]
    return "\n".join(lines)


def _wait_for_first_account(ctl: ControllerAPI, st: Status) -> None:
    """While nothing can answer, say how to add an account, and say so once one is usable."""
    if st.active_accounts or st.upstreams:
        return
    print(waiting_message(in_container()), file=sys.stderr, flush=True)
    told = threading.Event()

    def on_status(now: Status) -> None:
        if (now.active_accounts or now.upstreams) and not told.is_set():
            told.set()
            print(f"trayproxy: an account is ready; serving with {now.active_accounts} active account"
                  f"{'' if now.active_accounts == 1 else 's'}.", flush=True)

    ctl.subscribe(on_status)


def _port_hint(ctl: ControllerAPI, error: Exception) -> str:
    """The port problem in full (who holds it, which port is free) or the error as it was."""
    from trayproxy.problems import port_advice

    p = ctl.status().problem
    if p and p.get("kind") == "port":
        return port_advice(p, serve=True)
    return str(error)


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
            st = ctl.start(without_account=True)
        except start_error as e:
            print(f"trayproxy: could not start: {_port_hint(ctl, e)}", file=sys.stderr, flush=True)
            return 1
        _print_banner(ctl, st)
        _wait_for_first_account(ctl, st)
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
