"""CLI commands that change state: accounts add/remove/enable/disable/login/refresh, config set,
key set/regenerate, the z.ai key.

1. `open_owner` (control/local.py) decides where the change goes: to the running instance (tray
   app or `serve`) through its ControlServer, so it is live at once and the running proxy never
   writes over it; or, when none runs, straight into the files, holding the data dir's lock.
2. Both ways go through one small `Target` interface, so each command is written once.
3. Secrets are read from a prompt (or stdin when piped) when not given; one given as an
   argument still works, with a note that other local users can see it.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from trayproxy.config import ConfigError, parse_cli_value
from trayproxy.control.local import ControlClient, ControlError, open_owner
from trayproxy.paths import AppPaths, app_paths

if TYPE_CHECKING:
    from trayproxy.accounts.store import Account
    from trayproxy.control.api import ControllerAPI

__all__ = ["Target", "LocalTarget", "RemoteTarget", "state_target", "read_secret",
           "accounts_command", "config_set_command", "key_command", "STATE_ACCOUNT_COMMANDS"]

STATE_ACCOUNT_COMMANDS = frozenset({"add", "remove", "enable", "disable", "retry", "login", "refresh"})


# -- reading secrets -------------------------------------------------------------------------


def read_secret(given: str | None, prompt: str, what: str) -> str:
    """The secret from the argument (with a warning), a hidden prompt, or one line of stdin."""
    if given is not None:
        print(f"trayproxy: note: a {what} on the command line is visible to other users of this "
              "machine (process list) and stays in your shell history; leave it out next time and "
              "paste it when asked, or pipe it on stdin.", file=sys.stderr)
        return given.strip()
    if sys.stdin.isatty():
        return getpass.getpass(prompt).strip()
    return sys.stdin.readline().strip()


# -- targets ---------------------------------------------------------------------------------


class Target(ABC):
    """Where a state change goes. `where` is said after the change ("" for the files)."""

    where = ""
    paths: AppPaths

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def set_config(self, key: str, value: Any) -> str | None: ...

    @abstractmethod
    def set_api_key(self, key: str) -> None: ...

    @abstractmethod
    def regenerate_api_key(self) -> str: ...

    @abstractmethod
    def set_zai_key(self, key: str | None) -> None: ...

    @abstractmethod
    def add_refresh_token(self, token: str) -> dict[str, Any]: ...

    @abstractmethod
    def account(self, action: str, who: str) -> dict[str, Any]: ...

    @abstractmethod
    def list_accounts(self) -> list[dict[str, Any]]: ...

    @abstractmethod
    def refresh_accounts(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]: ...

    @abstractmethod
    def scan_imports(self, path: str | None) -> dict[str, Any]: ...

    @abstractmethod
    def import_accounts(self, keys: list[str], path: str | None) -> list[dict[str, Any]]: ...

    def oauth_config(self) -> Any:
        from trayproxy.config import load_config

        return load_config(self.paths.config_file).config.with_env().oauth


def _account(acc: Account) -> dict[str, Any]:
    from trayproxy.control.cli_routes import account_json

    return account_json(acc)


class LocalTarget(Target):
    """No instance runs: edit the files, holding the data dir's lock for the whole command."""

    def __init__(self, paths: AppPaths) -> None:
        self.paths = paths
        self._ctl: ControllerAPI | None = None

    @property
    def ctl(self) -> ControllerAPI:
        if self._ctl is None:
            from trayproxy.controller import Controller

            self._ctl = Controller(self.paths)
        return self._ctl

    def close(self) -> None:
        if self._ctl is not None:
            self._ctl.close()

    def _secrets(self) -> Any:
        from trayproxy.secrets import SecretStore

        return SecretStore(self.paths.secrets_file)

    def set_config(self, key: str, value: Any) -> str | None:
        from trayproxy.config import load_config, save_config, set_value

        loaded = load_config(self.paths.config_file)
        if loaded.message:
            print(f"trayproxy: note: {loaded.message}; writing the file afresh with your change",
                  file=sys.stderr)
        save_config(self.paths.config_file, set_value(loaded.config, key, value))
        return None

    def set_api_key(self, key: str) -> None:
        self._secrets().set_api_key(key)

    def regenerate_api_key(self) -> str:
        return str(self._secrets().regenerate_api_key())

    def set_zai_key(self, key: str | None) -> None:
        from trayproxy.secrets import ZAI_KEY

        store = self._secrets()
        if key:
            store.set(ZAI_KEY, key)
        else:
            store.delete(ZAI_KEY)

    def add_refresh_token(self, token: str) -> dict[str, Any]:
        return _account(self.ctl.add_refresh_token(token))

    def account(self, action: str, who: str) -> dict[str, Any]:
        if action == "remove":
            return _account(self.ctl.remove_account(who))
        if action == "retry":
            return _account(self.ctl.retry_account(who))
        return _account(self.ctl.set_account_enabled(who, action == "enable"))

    def list_accounts(self) -> list[dict[str, Any]]:
        return list(self.ctl.list_accounts())

    def refresh_accounts(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        res = [{"email": a.email, "error": err} for a, err in self.ctl.refresh_accounts()]
        return res, self.ctl.list_accounts()

    def scan_imports(self, path: str | None) -> dict[str, Any]:
        return self.ctl.scan_imports(path)

    def import_accounts(self, keys: list[str], path: str | None) -> list[dict[str, Any]]:
        return self.ctl.import_accounts(keys, path)


class RemoteTarget(Target):
    """An instance runs: ask it (its ControlServer's /api/cli routes)."""

    def __init__(self, paths: AppPaths, client: ControlClient) -> None:
        self.paths = paths
        self.client = client
        inst = client.instance
        name = "trayproxy serve" if inst.kind == "serve" else "trayproxy tray app"
        self.where = f"the running {name} (pid {inst.pid})"

    def close(self) -> None:
        pass

    def set_config(self, key: str, value: Any) -> str | None:
        note = self.client.call("cli/config", {"key": key, "value": value}).get("note")
        return str(note) if note else None

    def set_api_key(self, key: str) -> None:
        self.client.call("cli/key", {"key": key})

    def regenerate_api_key(self) -> str:
        return str(self.client.call("cli/key/regenerate", {})["key"])

    def set_zai_key(self, key: str | None) -> None:
        self.client.call("cli/zai/key", {"key": key})

    def add_refresh_token(self, token: str) -> dict[str, Any]:
        return dict(self.client.call("cli/accounts/add", {"refresh_token": token})["account"])

    def account(self, action: str, who: str) -> dict[str, Any]:
        return dict(self.client.call(f"cli/accounts/{action}", {"account": who})["account"])

    def list_accounts(self) -> list[dict[str, Any]]:
        return list(self.client.call("cli/accounts")["accounts"])

    def refresh_accounts(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        out = self.client.call("cli/accounts/refresh", {})
        return list(out["results"]), list(out["accounts"])

    def scan_imports(self, path: str | None) -> dict[str, Any]:
        return dict(self.client.call("cli/accounts/import/scan", {"path": path}))

    def import_accounts(self, keys: list[str], path: str | None) -> list[dict[str, Any]]:
        return list(self.client.call("cli/accounts/import", {"keys": keys, "path": path})["results"])


@contextmanager
def state_target(paths: AppPaths | None = None) -> Iterator[Target]:
    paths = (paths or app_paths()).ensure()
    lock, inst = open_owner(paths)
    target: Target = RemoteTarget(paths, ControlClient(inst)) if inst is not None else LocalTarget(paths)
    try:
        yield target
    finally:
        try:
            target.close()
        finally:
            if lock is not None:
                lock.release()


def _onboarded(acc: dict[str, Any]) -> str:
    """", onboarded just now" when trayproxy ran Google's onboarding for this sign-in."""
    at = acc.get("onboarded_at")
    return ", onboarded just now" if at and time.time() - at < 600 else ""


def _done(target: Target, text: str) -> None:
    print(text + (f" Applied by {target.where}." if target.where else ""))


# -- commands --------------------------------------------------------------------------------


def _login(target: Target, args: argparse.Namespace) -> dict[str, Any]:
    """Sign in from this terminal (cli_login.py), then hand the refresh token to the target."""
    from trayproxy.cli_login import login_refresh_token, no_browser_reason

    no_browser = bool(getattr(args, "no_browser", False))
    if not no_browser and (why := no_browser_reason()):
        print(f"trayproxy: {why}, so no browser is opened here (as with --no-browser).", file=sys.stderr)
        no_browser = True
    return target.add_refresh_token(login_refresh_token(target.oauth_config(), no_browser=no_browser))


def accounts_command(args: argparse.Namespace, format_accounts: Any) -> int:
    with state_target() as target:
        if args.acmd == "add":
            token = read_secret(getattr(args, "refresh_token", None), "Refresh token (input hidden): ",
                                "refresh token")
            if not token:
                print("trayproxy: no refresh token given", file=sys.stderr)
                return 2
            acc = target.add_refresh_token(token)
            _done(target, f"Added {acc['email']} (tier {acc['tier'] or 'unknown'}{_onboarded(acc)}, "
                          f"project {acc['project']}).")
        elif args.acmd == "login":
            acc = _login(target, args)
            _done(target, f"Signed in as {acc['email']} (tier {acc['tier'] or 'unknown'}{_onboarded(acc)}, "
                          f"project {acc['project']}).")
        elif args.acmd == "retry":
            acc = target.account("retry", args.account)
            row = next((r for r in target.list_accounts() if r["id"] == acc["id"]), None)
            _done(target, f"{acc['email']}: {row['state'] if row else 'ok'}")
        elif args.acmd in ("remove", "enable", "disable"):
            acc = target.account(args.acmd, args.account)
            verb = {"remove": "Removed", "enable": "Enabled", "disable": "Disabled"}[args.acmd]
            extra = f" `trayproxy accounts enable {acc['id'][:8]}` puts it back." if args.acmd == "disable" else ""
            _done(target, f"{verb} {acc['email']}.{extra}")
        elif args.acmd == "refresh":
            results, rows = target.refresh_accounts()
            for r in results:
                print(f"{r['email']}: {r['error'] or 'ok'}")
            print(format_accounts(rows))
    return 0


def config_set_command(args: argparse.Namespace) -> int:
    if args.key == "zai.api_key":
        key = read_secret(args.value, "z.ai API key (input hidden; empty removes it): ", "z.ai API key")
        if any(c.isspace() for c in key):
            print("trayproxy: the z.ai API key cannot contain spaces or line breaks", file=sys.stderr)
            return 2
        with state_target() as target:
            target.set_zai_key(key or None)
            _done(target, "z.ai API key stored." if key else "z.ai API key removed.")
        return 0
    if args.value is None:
        print(f"trayproxy: config set {args.key} needs a value", file=sys.stderr)
        return 2
    value = parse_cli_value(args.key, args.value)
    with state_target() as target:
        note = target.set_config(args.key, value)
        _done(target, f"{args.key} = {json.dumps(value)}")
        if note:
            print(note)
    return 0


def key_command(args: argparse.Namespace) -> int:
    if args.kcmd == "show":
        from trayproxy.secrets import SecretStore

        paths = app_paths().ensure()
        print(SecretStore(paths.secrets_file).api_key())
        return 0
    with state_target() as target:
        if args.kcmd == "regenerate":
            key = target.regenerate_api_key()
            print(key)
            if target.where:
                print(f"The old key stopped working at once ({target.where}).", file=sys.stderr)
        else:
            value = read_secret(args.value, "New API key (input hidden): ", "API key")
            target.set_api_key(value)
            _done(target, "API key updated.")
    return 0


def user_errors() -> tuple[type[BaseException], ...]:
    """Errors whose message is for the user as is: printed without a traceback."""
    from trayproxy.accounts.service import AccountError
    from trayproxy.accounts.store import AccountStoreError
    from trayproxy.control.local import LockHeld
    from trayproxy.secrets import SecretStoreError

    return (ConfigError, ControlError, LockHeld, AccountError, AccountStoreError, SecretStoreError, KeyError)
