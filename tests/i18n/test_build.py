"""The catalogs, checked as CI does (trayproxy/i18n/build.py): the template holds exactly what the
code says, every language translates every message with the same fields, nothing is fuzzy; and the build
(what a wheel or an editable install runs) compiles them into the package."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import setuptools

from trayproxy.i18n import build

ROOT = Path(__file__).resolve().parents[2]


def test_catalogs_are_current_and_complete() -> None:
    problems = build.check()
    assert problems == [], "\n".join(problems)


def test_the_check_finds_what_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from babel.messages.catalog import Catalog

    stale = Catalog()
    stale.add("a message nobody wrote")
    monkeypatch.setattr(build, "template", lambda: stale)
    problems = build.check()
    assert any("no longer in the code" in p for p in problems)
    assert any("the code has 'Ready'" in p for p in problems)


def test_a_nested_call_the_extractor_misses_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    web = tmp_path / "trayproxy" / "ui" / "web"
    web.mkdir(parents=True)
    (web / "x.js").write_text('show(t("Outer {x}", { x: t("Inner words") }));\n')
    monkeypatch.setattr(build, "PACKAGE", tmp_path / "trayproxy")
    cat = build.extract()
    assert {m.id for m in cat if m.id} == {"Outer {x}"}  # Babel's JavaScript reader
    assert any("'Inner words' is not extracted" in p for p in build.unextracted(cat))


def test_html_messages_follow_the_page_rules() -> None:
    from trayproxy.i18n.extract import html_messages

    html = """<p data-i18n>Turn it on under <b data-i18n>Request   log</b>
      below.</p><input data-i18n-attr="placeholder,aria-label" placeholder="e.g. x" aria-label="Name"><br>
      <span>not marked</span><code data-i18n>&rarr; sk-</code>"""
    assert [m for _, m in html_messages(html)] == ["Request log", "Turn it on under {0} below.", "Name", "e.g. x",
                                                   "\u2192 sk-"]


def test_the_build_compiles_the_catalogs_into_the_package(tmp_path: Path) -> None:
    """setup.py's build_py (what a wheel and `pip install -e .` run) compiles every .po and ships
    the .mo with the page's files, from a tree that has no compiled catalog yet."""
    src = tmp_path / "src"
    shutil.copytree(ROOT / "trayproxy", src / "trayproxy", ignore=shutil.ignore_patterns("*.mo", "__pycache__"))
    for name in ("setup.py", "pyproject.toml", "README.md", "README.de.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    if int(setuptools.__version__.split(".")[0]) < 77:
        # The SPDX `license` fields need setuptools 77, which `python -m build` fetches for the
        # wheel (.ci/run, tests/installer/test_wheel.py); this checks build_py with the one here.
        text = (src / "pyproject.toml").read_text()
        (src / "pyproject.toml").write_text(re.sub(r"(?m)^license(-files)? = .*\n", "", text))
    res = subprocess.run([sys.executable, "setup.py", "-q", "build_py", "-d", str(tmp_path / "lib")], cwd=src,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    for lang in ("de", "zh_CN"):
        mo = tmp_path / "lib" / "trayproxy" / "i18n" / "locales" / lang / "LC_MESSAGES" / "trayproxy.mo"
        assert mo.is_file() and mo.read_bytes() == build_mo(src, lang)
    assert (tmp_path / "lib" / "trayproxy" / "ui" / "web" / "i18n.js").is_file()


def build_mo(src: Path, lang: str) -> bytes:
    from trayproxy.i18n.translator import compile_po

    return compile_po(src / "trayproxy" / "i18n" / "locales" / lang / "LC_MESSAGES" / "trayproxy.po")
