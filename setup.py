"""The build compiles the translation catalogs (.po -> .mo, Babel) before the package is put
together, so a wheel and an editable install (`pip install -e .`) both carry the compiled
catalogs the app loads. Everything else is in pyproject.toml."""

from __future__ import annotations

import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildWithCatalogs(build_py):
    def run(self) -> None:
        sys.path.insert(0, str(ROOT))
        try:
            from trayproxy.i18n.build import compile_all

            compile_all()
        finally:
            sys.path.remove(str(ROOT))
        super().run()


setup(cmdclass={"build_py": BuildWithCatalogs})
