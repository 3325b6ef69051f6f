"""`trayproxy models [NAME ...]`: for each client model name, what it resolves to on each
account and why (mapping, exact, forwarded, family), from the catalogs saved with the accounts
(`--refresh` reads them from the upstream first). Also the lines `trayproxy doctor` prints
about the catalog and the model_mapping."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

__all__ = ["add_parser", "cmd_models", "doctor_lines", "format_rows"]


def add_parser(sub: Any) -> None:
    m = sub.add_parser("models", help="what each model name resolves to on each account, and why")
    m.add_argument("names", nargs="*", metavar="NAME",
                   help="client model names (default: your model_mapping names and common client names)")
    m.add_argument("--served", action="store_true", help="list the ids each account serves instead")
    m.add_argument("--refresh", action="store_true", help="read every account's catalog from the upstream first")
    m.add_argument("--json", action="store_true", help="machine-readable output")


def format_rows(rows: list[dict[str, Any]]) -> str:
    width = max((len(p["email"]) for r in rows for p in r["accounts"]), default=10)
    tw = max((len(p["target"] or "") for r in rows for p in r["accounts"]), default=10)
    lines: list[str] = []
    for r in rows:
        lines.append(r["name"])
        if not r["accounts"]:
            lines.append("  (no usable account)")
        for p in r["accounts"]:
            if p["target"]:
                lines.append(f"  {p['email']:<{width}}  -> {p['target']:<{tw}}  {p['how']:<9}  {p['why']}")
            else:
                lines.append(f"  {p['email']:<{width}}  -> {'(404)':<{tw}}  {'':<9}  {p['why']}")
    return "\n".join(lines)


def _served(accounts: list[Any]) -> str:
    lines = []
    for a in accounts:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(a.quota_updated)) if a.quota_updated else "never"
        lines.append(f"{a.email} (catalog read {when}, {len(a.models)} ids)")
        for mid, q in sorted(a.models.items()):
            left = "" if q.remaining is None else f"{q.remaining * 100:.0f}% left"
            limits = f"in {q.max_tokens or '?'} / out {q.max_output_tokens or '?'}"
            lines.append(f"  {mid:<28} {q.display_name or '':<30} {limits:<22} {left}")
        for old, new in sorted(a.deprecated_models.items()):
            lines.append(f"  {old:<28} retired, Google forwards it to {new}")
    return "\n".join(lines) if lines else "No accounts."


def cmd_models(args: argparse.Namespace) -> int:
    from trayproxy.accounts.model_report import default_names, mapping_warnings, resolution_rows
    from trayproxy.accounts.store import AccountStore, AccountStoreError
    from trayproxy.config import load_config
    from trayproxy.paths import app_paths
    from trayproxy.secrets import SecretStore

    paths = app_paths().ensure()
    if args.refresh:  # a change of state: through the running instance when one runs (cli_state)
        from trayproxy.cli_state import state_target

        with state_target(paths) as target:
            results, _ = target.refresh_accounts()
        for r in results:
            if r["error"]:
                print(f"{r['email']}: {r['error']}", file=sys.stderr)
    cfg = load_config(paths.config_file).config.with_env()
    try:
        accounts = AccountStore(paths.accounts_file, SecretStore(paths.secrets_file)).all()
    except AccountStoreError as e:
        print(f"trayproxy: {e}", file=sys.stderr)
        return 1
    if args.served:
        print(json.dumps({a.email: sorted(a.models) for a in accounts}, indent=1) if args.json else _served(accounts))
        return 0
    names = args.names or default_names(cfg.model_mapping)
    rows = resolution_rows(accounts, names, cfg.model_mapping)
    warnings = mapping_warnings(accounts, cfg.model_mapping)
    if args.json:
        print(json.dumps({"names": rows, "warnings": warnings}, indent=1))
        return 0
    if not any(not a.disabled and a.onboarded for a in accounts):
        print("No usable account: add one with `trayproxy accounts login`.")
        return 1
    print(format_rows(rows))
    for w in warnings:
        print(f"warning: {w}")
    unplaced = [r["name"] for r in rows if not r["served"]]
    return 1 if args.names and unplaced else 0


def doctor_lines(accounts: list[Any], mapping: dict[str, str]) -> list[str]:
    """`trayproxy doctor`: what the catalogs say and which mapping entries point nowhere."""
    from trayproxy.accounts.catalog import pool_models
    from trayproxy.accounts.model_report import mapping_warnings

    usable = [a for a in accounts if not a.disabled and a.onboarded]
    unread = [a.email for a in usable if a.quota_updated is None]
    served = pool_models(usable)
    out = [f"models:       {len(served)} ids served by {len(usable)} usable account(s)"
           + (f"; catalog never read for {', '.join(unread)} (run `trayproxy accounts refresh`)" if unread else "")]
    warnings = mapping_warnings(accounts, mapping)
    out.append("mapping:      " + ("ok" if not warnings else f"WARNING: {len(warnings)} entr{'y' if len(warnings) == 1 else 'ies'}"))
    out.extend(f"              {w}" for w in warnings)
    return out
