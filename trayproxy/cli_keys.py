"""`trayproxy keys create|list|revoke`: client keys, one per client or person, with limits.

1. Changes go where every state change goes (cli_state.py): to the running instance, else into
   the files under the data dir's lock (through a Controller of the CLI's own, so PostgreSQL in
   shared mode hears of them too).
2. `create` prints the key alone on stdout, this once (it is stored only as its hash), and what
   it may do on stderr: `trayproxy keys create ci > key.txt` keeps only the key.
3. `list` shows every key (never a hash) with its limits, its state, and its usage from the
   request log (the shared log in shared mode).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from trayproxy.cli_state import _done, state_target
from trayproxy.clientkeys.record import parse_expiry

__all__ = ["add_parser", "cmd_keys", "format_keys", "limits_text"]


def add_parser(sub: Any) -> None:
    k = sub.add_parser("keys", help="client keys: one per client or person, with limits")
    ksub = k.add_subparsers(dest="keys_cmd", required=True)
    c = ksub.add_parser("create", help="make a key (printed once; only its hash is stored)")
    c.add_argument("name")
    c.add_argument("--models", nargs="+", metavar="PATTERN", help="model names it may use, e.g. 'gemini-*' 'claude-sonnet-*'")
    c.add_argument("--rpm", type=int, help="requests per minute")
    c.add_argument("--tpm", type=int, help="tokens per minute")
    c.add_argument("--daily-tokens", type=int, help="tokens per day (UTC)")
    c.add_argument("--expires", metavar="DATE", help="2027-01-31 (works through that day), 2027-01-31T18:00, 30d, 12h")
    ksub.add_parser("list", help="every key, its limits and usage")
    r = ksub.add_parser("revoke", help="stop a key at once (on every instance in shared mode)")
    r.add_argument("key", metavar="ID_OR_NAME")


def limits_text(k: dict[str, Any]) -> str:
    parts = []
    if k.get("rpm"):
        parts.append(f"{k['rpm']:,} req/min")
    if k.get("tpm"):
        parts.append(f"{k['tpm']:,} tokens/min")
    if k.get("daily_tokens"):
        parts.append(f"{k['daily_tokens']:,} tokens/day")
    if k.get("models"):
        parts.append("models " + " ".join(k["models"]))
    if k.get("expires_at"):
        parts.append("expires " + time.strftime("%Y-%m-%d %H:%M", time.localtime(k["expires_at"])))
    return ", ".join(parts) or "no limits"


def format_keys(keys: list[dict[str, Any]], usage: dict[str, dict[str, Any]]) -> str:
    if not keys:
        return "No client keys. Make one with `trayproxy keys create NAME` (the owner's key stays as it is)."
    lines = [f"{'id':<12} {'name':<20} {'state':<8} {'key':<12} {'requests':>9} {'tokens':>11}  limits"]
    for k in keys:
        u = usage.get(k["id"], {})
        tokens = int(u.get("input_tokens") or 0) + int(u.get("output_tokens") or 0)
        lines.append(f"{k['id']:<12} {k['name'][:20]:<20} {k['state']:<8} {k['prefix'] + '…':<12} "
                     f"{int(u.get('requests') or 0):>9,} {tokens:>11,}  {limits_text(k)}")
    return "\n".join(lines)


def _usage() -> dict[str, dict[str, Any]]:
    """Totals per key from the request log (the shared one in shared mode)."""
    from trayproxy.cli_logs import open_log

    rows = open_log().totals("key_id")
    return {str(r["key"]): r for r in rows if r.get("key")}


def cmd_keys(args: argparse.Namespace) -> int:
    if args.keys_cmd == "create":
        limits: dict[str, Any] = {}
        for name in ("rpm", "tpm", "daily_tokens"):
            if getattr(args, name) is not None:
                limits[name] = getattr(args, name)
        if args.models:
            limits["models"] = list(args.models)
        if args.expires:
            limits["expires_at"] = parse_expiry(args.expires)
        with state_target() as target:
            record, key = target.create_key(args.name, limits)
            print(key, flush=True)
            print(f"Created the key {record['name']!r} ({record['id']}; {limits_text(record)}). It is shown this "
                  "once: give it to its client now (only its hash is kept).", file=sys.stderr)
            if target.where:
                print(f"Applied by {target.where}.", file=sys.stderr)
        return 0
    with state_target() as target:
        if args.keys_cmd == "revoke":
            record = target.revoke_key(args.key)
            _done(target, f"Revoked the key {record['name']!r} ({record['id']}): it is refused from now on.")
            return 0
        keys = target.list_keys()
    print(format_keys(keys, _usage()))
    return 0
