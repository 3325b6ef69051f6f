"""`trayproxy accounts import [PATH]`: accounts from Antigravity-Manager and CLIProxyAPI.

1. Look (the running instance when one runs, else this process under the data dir's lock; see
   cli_state.py): the tools' folders, or PATH (a folder or one file), each account checked with
   a real refresh (accounts/importer.py).
2. Show every file found on its own line: the e-mail, whether its token refreshes, and for each
   one that cannot be imported, why (revoked, already here, the same account twice, not an
   account file, not JSON, ...). Importable ones are numbered.
3. Ask which to import (all, none, or numbers), unless --yes (all) or --dry-run (none).
4. Import them and print one result line each; disabled accounts stay disabled. The source files
   are only read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

__all__ = ["add_parser", "import_command", "format_scan", "format_results", "parse_choice"]


def add_parser(asub: Any) -> None:
    p = asub.add_parser(
        "import", help="bring accounts over from Antigravity-Manager or CLIProxyAPI (their files are only read)",
        description="Finds Antigravity-Manager's accounts (~/.antigravity_tools, or $ABV_DATA_DIR) and "
                    "CLIProxyAPI's Antigravity credentials (~/.cli-proxy-api), or those at PATH, checks each "
                    "with Google, and imports the ones you choose. Nothing in the source files is changed.")
    p.add_argument("path", nargs="?", metavar="PATH",
                   help="a folder (either tool's, or any holding their files) or one account file")
    p.add_argument("-y", "--yes", action="store_true", help="import every importable account without asking")
    p.add_argument("--dry-run", action="store_true", help="only show what would be imported")


def _who(c: dict[str, Any]) -> str:
    return str(c.get("email") or Path(c["path"]).name)


def format_scan(scan: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """The lines to show, and the importable candidates in the order they are numbered."""
    lines = ["Looked in:"]
    width = max((len(s["name"]) for s in scan["sources"]), default=0)
    for s in scan["sources"]:
        if not s["exists"]:
            what = s.get("note") or "not found"
        else:
            n = s["files"]
            what = f"{n} file{'' if n == 1 else 's'}" + (f" ({s['note']})" if s.get("note") else "")
        lines.append(f"  {s['name']:<{width}}  {s['shown_root']}: {what}")
    ready: list[dict[str, Any]] = []
    rows = scan["candidates"]
    if rows:
        lines.append("Found:")
    for c in rows:
        if c["importable"]:
            ready.append(c)
            mark = f"{len(ready)}."
        else:
            mark = "-"
        lines.append(f"  {mark:>3} {_who(c)}: {c['message']}")
        lines.append(f"      {c['source']}, {c['shown_path']}")
    return "\n".join(lines), ready


def parse_choice(answer: str, count: int) -> list[int] | None:
    """Indexes (0-based) chosen by an answer: empty / y / all = every one, n / none = none,
    else numbers and ranges ("1,3 5-7"). None when it is not understood."""
    a = answer.strip().lower()
    if a in ("", "y", "yes", "all", "a"):
        return list(range(count))
    if a in ("n", "no", "none", "q"):
        return []
    out: list[int] = []
    for part in a.replace(",", " ").split():
        lo, sep, hi = part.partition("-")
        if not lo.isdigit() or (sep and not hi.isdigit()):
            return None
        first, last = int(lo), int(hi) if sep else int(lo)
        if not 1 <= first <= last <= count:
            return None
        out += [i - 1 for i in range(first, last + 1) if i - 1 not in out]
    return out


def _ask(ready: list[dict[str, Any]], stdin: TextIO, out: TextIO) -> list[dict[str, Any]] | None:
    n = len(ready)
    question = (f"Import {'it' if n == 1 else f'all {n}'}? [Y/n" + ("" if n == 1 else ", or numbers like 1,3") + "]: ")
    for _ in range(3):
        print(question, end="", file=out, flush=True)
        line = stdin.readline()
        if not line:  # end of input: nobody to answer
            print(file=out)
            return None
        picked = parse_choice(line, n)
        if picked is not None:
            return [ready[i] for i in picked]
        print(f"  Answer y, n, or numbers from 1 to {n}.", file=out)
    return []


def format_results(results: list[dict[str, Any]]) -> tuple[str, bool]:
    """The result lines, and whether every chosen account is now in trayproxy."""
    lines: list[str] = []
    ok = True
    for r in results:
        who = r.get("email") or r.get("shown_path") or r["key"]
        text = f"{who}: {r['message']}"
        if r["result"] == "imported_disabled":
            text += f" (`trayproxy accounts enable {r['email']}` puts it in rotation)"
        lines.append(text)
        ok = ok and r["result"] in ("imported", "imported_disabled", "already", "duplicate")
    done = sum(r["result"] in ("imported", "imported_disabled") for r in results)
    lines.append(f"Imported {done} of {len(results)}. The source files were only read: nothing in them changed.")
    return "\n".join(lines), ok


def import_command(args: argparse.Namespace, *, stdin: TextIO | None = None, out: TextIO | None = None) -> int:
    from trayproxy.cli_state import state_target

    stdin = stdin or sys.stdin
    out = out or sys.stdout
    path = str(Path(args.path).expanduser().resolve()) if args.path else None
    with state_target() as target:
        if target.where:
            print(f"Looking through {target.where}...", file=out, flush=True)
        scan = target.scan_imports(path)
        text, ready = format_scan(scan)
        print(text, file=out)
        if not scan["candidates"]:
            print("No account files found." + ("" if path else " Give the folder they are in: "
                                               "trayproxy accounts import PATH"), file=out)
            return 1 if path else 0
        if not ready:
            print("Nothing to import.", file=out)
            return 0
        if args.dry_run:
            print(f"{len(ready)} could be imported (--dry-run: nothing was).", file=out)
            return 0
        chosen = ready if args.yes else _ask(ready, stdin, out)
        if chosen is None:
            print("Nothing imported: no answer (end of input). Pass --yes to import without asking.", file=out)
            return 2
        if not chosen:
            print("Nothing imported.", file=out)
            return 0
        results = target.import_accounts([c["key"] for c in chosen], path)
        text, ok = format_results(results)
        print(text + (f" Applied by {target.where}." if target.where else ""), file=out)
    return 0 if ok else 1
