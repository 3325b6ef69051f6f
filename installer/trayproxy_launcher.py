"""Entry script of the PyInstaller build (see trayproxy.spec); not used by pip/pipx installs.

It lives outside the package on purpose: PyInstaller puts the entry script's directory on the
module search path, and `trayproxy/secrets.py` must never shadow the standard `secrets` module.

A frozen app has no `python -m`: `sys.executable` is this program. Child processes that the app
starts as `[sys.executable, "-m", "trayproxy.<module>", ...]` (the settings window) are routed
here to that module, so the same code works from source, from pipx and frozen.
"""

from __future__ import annotations

import multiprocessing
import runpy
import sys


def main() -> int:
    multiprocessing.freeze_support()  # a multiprocessing child of the frozen app stops here
    argv = sys.argv
    if getattr(sys, "frozen", False) and len(argv) >= 3 and argv[1] == "-m":
        module = argv[2]
        if module != "trayproxy" and not module.startswith("trayproxy."):
            print(f"trayproxy: -m {module}: only trayproxy modules can be run by this app", file=sys.stderr)
            return 2
        sys.argv = [argv[0], *argv[3:]]
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        return 0

    from trayproxy.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    raise SystemExit(main())
