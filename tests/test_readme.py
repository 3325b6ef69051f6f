"""The READMEs' trayproxy commands (English and German) are ones the CLI accepts as written."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from trayproxy.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
DOCS = ("README.md", "README.de.md", "installer/README.md")


def _commands(doc: str) -> list[str]:
    text = (ROOT / doc).read_text("utf-8")
    out: list[str] = []
    for block in re.findall(r"```(?:bash|sh)\n(.*?)```", text, re.S):
        for line in block.splitlines():
            line = re.split(r"\s[<|>]\s|\s#\s", line)[0].strip()  # redirections, pipes, comments
            line = re.split(r"&&|;", line)[-1].strip()  # `pip install -e . && trayproxy serve`
            m = re.search(r"(?:^|docker exec (?:-\w+ )*\S+ )(trayproxy(?: .*)?)$", line)
            if m:
                out.append(m.group(1).strip())
    return out


@pytest.mark.parametrize("doc", DOCS)
def test_readme_commands_parse(doc: str) -> None:
    cmds = _commands(doc)
    assert cmds, f"no trayproxy command found in {doc}"
    parser = build_parser()
    for cmd in cmds:
        try:
            parser.parse_args(shlex.split(cmd)[1:])
        except SystemExit as e:
            if e.code:
                raise AssertionError(f"{doc}: `{cmd}` is not a valid trayproxy command") from e


def test_the_german_quick_start_is_linked_and_packaged() -> None:
    assert "README.de.md" in (ROOT / "README.md").read_text("utf-8")
    assert "README.de.md" in (ROOT / "MANIFEST.in").read_text("utf-8")
