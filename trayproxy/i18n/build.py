"""The catalogs' build steps, with Babel: `python -m trayproxy.i18n.build extract|update|compile|check`.

1. extract: every message of the tray, the notifications and the page into
   i18n/locales/trayproxy.pot: Python `_()` / `n_()` calls (tr._, tr.n_), the page's scripts'
   `t()` / `tn()` calls, and index.html's `data-i18n` elements (extract.py). Without line numbers,
   so moving code does not churn the catalogs.
2. update: each language's .po brought in line with the template (new messages empty, gone
   ones dropped; a changed message is marked fuzzy, which `check` refuses until it is reviewed).
3. compile: each .po to its .mo, which is what the app loads (setup.py runs this when a wheel or
   an editable install is built).
4. check (CI, tests/i18n/test_catalogs.py): the template holds exactly what the code says now,
   and every language translates every message, none fuzzy, with the same `{fields}`.
Adding a language: `python -m trayproxy.i18n.build init fr`, translate the .po, compile.
"""

from __future__ import annotations

import argparse
import datetime
import io
import re
import sys
from collections.abc import Iterable
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from trayproxy import __version__
from trayproxy.i18n.translator import DOMAIN, LOCALES

__all__ = ["extract", "template", "update", "compile_all", "check", "main"]

PACKAGE = Path(__file__).resolve().parents[1]
POT = LOCALES / f"{DOMAIN}.pot"
# (method map, keywords): Python's `_` / `n_` / `N_` (a deferred Message, i18n/message.py), the page
# scripts' `t` / `tn`, index.html's data-i18n
SOURCES = [
    ([("i18n/build.py", "ignore"), ("i18n/extract.py", "ignore"), ("**.py", "python")], {"_": None, "n_": (1, 2), "N_": None}),
    ([("ui/web/**.js", "javascript"), ("ui/web/**.html", "trayproxy.i18n.extract:extract_html")],
     {"t": None, "tn": (1, 2)}),
]
STAMP = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)  # a fixed date: no churn
_FIELD = re.compile(r"\{(\w*)\}")


def extract() -> Catalog:
    """Everything the code says now, as a template catalog."""
    cat = Catalog(project="trayproxy", version=__version__, fuzzy=False, charset="utf-8", creation_date=STAMP,
                  copyright_holder="the trayproxy authors", msgid_bugs_address="")
    for methods, keywords in SOURCES:
        for filename, lineno, message, comments, context in extract_from_dir(
                str(PACKAGE), methods, {}, keywords=keywords, comment_tags=("i18n:",), strip_comment_tags=True):
            cat.add(message, None, [(f"trayproxy/{filename}", lineno)], auto_comments=comments, context=context)
    return cat


def _write(catalog: Catalog, path: Path) -> None:
    buf = io.BytesIO()
    write_po(buf, catalog, width=100, include_lineno=False, omit_header=False, sort_output=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = buf.getvalue()
    if not path.exists() or path.read_bytes() != data:
        path.write_bytes(data)


def _read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, locale=locale)


def template() -> Catalog:
    return _read(POT)


def _po_files() -> list[tuple[str, Path]]:
    return [(p.parent.parent.name, p) for p in sorted(LOCALES.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))]


def update() -> None:
    pot = extract()
    _write(pot, POT)
    for lang, po in _po_files():
        cat = _read(po, lang)
        cat.update(pot, no_fuzzy_matching=False)
        cat.obsolete.clear()
        _write(cat, po)


def init(lang: str) -> Path:
    po = LOCALES / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    if po.exists():
        raise SystemExit(f"{po} exists already")
    cat = Catalog(locale=lang, project="trayproxy", version=__version__, charset="utf-8")
    cat.update(template())
    _write(cat, po)
    return po


def compile_all() -> list[Path]:
    out = []
    for lang, po in _po_files():
        cat = _read(po, lang)
        buf = io.BytesIO()
        write_mo(buf, cat)
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.read_bytes() != buf.getvalue():
            mo.write_bytes(buf.getvalue())
        out.append(mo)
    return out


def _ids(cat: Catalog) -> set[str]:
    return {m.id if isinstance(m.id, str) else m.id[0] for m in cat if m.id}


def _fields(texts: Iterable[str]) -> set[str]:
    return {f for t in texts for f in _FIELD.findall(t)}


_LITERAL_CALL = re.compile(r'\b(?:t|tn|_|n_|N_)\(\s*"((?:[^"\\]|\\.)*)"')


def unextracted(cat: Catalog) -> list[str]:
    """Literal t("...") / _("...") calls the extractor did not see (Babel's JavaScript reader skips
    a call nested in another call's arguments): hoist them into a variable."""
    ids = _ids(cat)
    out = []
    for path in sorted([*PACKAGE.glob("ui/web/*.js"), *PACKAGE.rglob("*.py")]):
        if path.name in ("build.py", "extract.py"):
            continue
        for m in _LITERAL_CALL.finditer(path.read_text("utf-8")):
            text = m.group(1)
            # a message written as adjacent literals: its first one begins an id
            if "\\" not in text and text not in ids and not any(i.startswith(text) for i in ids):
                out.append(f"{path.relative_to(PACKAGE.parent)}: {text!r} is not extracted (a call nested in another?)")
    return out


def check() -> list[str]:
    """What is wrong with the catalogs (empty: all good)."""
    problems: list[str] = []
    now = extract()
    problems.extend(unextracted(now))
    pot = template()
    new, gone = _ids(now) - _ids(pot), _ids(pot) - _ids(now)
    for msg in sorted(new):
        problems.append(f"trayproxy.pot is stale: the code has {msg!r} (run `python -m trayproxy.i18n.build update`)")
    for msg in sorted(gone):
        problems.append(f"trayproxy.pot is stale: {msg!r} is no longer in the code")
    for lang, po in _po_files():
        cat = _read(po, lang)
        have = {m.id if isinstance(m.id, str) else m.id[0]: m for m in cat if m.id}
        for m in now:
            if not m.id:
                continue
            key = m.id if isinstance(m.id, str) else m.id[0]
            t = have.get(key)
            if t is None:
                problems.append(f"{lang}: {key!r} is missing")
                continue
            strings = [t.string] if isinstance(t.string, str) else list(t.string or [])
            if t.fuzzy:
                problems.append(f"{lang}: {key!r} is fuzzy (review it)")
            if not strings or not all(strings):
                problems.append(f"{lang}: {key!r} is not translated")
                continue
            source = [m.id] if isinstance(m.id, str) else list(m.id)
            want = _fields(source) - {"n"}
            for s in strings:
                got = _fields([s]) - {"n"}
                if got != want:
                    problems.append(f"{lang}: {key!r} has fields {sorted(got)}, the source {sorted(want)}")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m trayproxy.i18n.build", description=__doc__.split("\n")[0])
    ap.add_argument("step", choices=("extract", "update", "compile", "check", "init"))
    ap.add_argument("lang", nargs="?")
    args = ap.parse_args(argv)
    if args.step == "extract":
        _write(extract(), POT)
    elif args.step == "update":
        update()
    elif args.step == "compile":
        for mo in compile_all():
            print(mo.relative_to(PACKAGE.parent))
    elif args.step == "init":
        if not args.lang:
            ap.error("init needs a language, e.g. fr")
        print(init(args.lang))
    else:
        problems = check()
        for p in problems:
            print(p, file=sys.stderr)
        if problems:
            return 1
        print("catalogs: complete")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
