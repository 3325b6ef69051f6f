"""Installing without a clone: the wheel `python -m build` makes, installed into a clean venv
(no editable checkout, no PYTHONPATH, run from an empty folder), has complete metadata and its
`trayproxy serve` answers /healthz with no account yet, then stops on SIGTERM and frees the port.

Runs when TRAYPROXY_TEST_VENV names such a venv (`.ci/run` builds the wheel, checks it with twine
and installs it there: that needs PyPI for the dependencies, so it is no test of its own), and
skips otherwise.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.helpers import wait_for_health
from trayproxy import __version__

VENV = os.environ.get("TRAYPROXY_TEST_VENV")
pytestmark = pytest.mark.skipif(not VENV, reason="TRAYPROXY_TEST_VENV is not set (.ci/run sets it)")
ROOT = Path(__file__).resolve().parents[2]


def _bin(name: str) -> Path:
    return Path(VENV or "") / ("Scripts" if sys.platform == "win32" else "bin") / name


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DISPLAY", "WAYLAND_DISPLAY", "VIRTUAL_ENV")}
    env.update({"TRAYPROXY_HOME": str(tmp_path / "home"), "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
                "TRAYPROXY_CONTAINER": "0"})
    return env


def test_the_installed_package_is_the_wheel_with_its_metadata(tmp_path: Path) -> None:
    code = ("import json, trayproxy, importlib.metadata as m, pathlib\n"
            "md = m.metadata('trayproxy')\n"
            "web = pathlib.Path(trayproxy.__file__).parent / 'ui' / 'web'\n"
            "print(json.dumps({'file': trayproxy.__file__, 'version': md['Version'], 'license': md['License-Expression'],"
            " 'urls': md.get_all('Project-URL'), 'classifiers': md.get_all('Classifier'),"
            " 'summary': md['Summary'], 'readme': md['Description-Content-Type'], 'body': len(md.get_payload() or ''),"
            " 'page': sorted(p.name for p in web.iterdir()), 'typed': (web.parent.parent / 'py.typed').exists()}))\n")
    p = subprocess.run([str(_bin("python")), "-c", code], env=_env(tmp_path), cwd=tmp_path, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    info = json.loads(p.stdout)
    assert Path(info["file"]).resolve().is_relative_to(Path(VENV or "").resolve())  # not this checkout
    assert not Path(info["file"]).resolve().is_relative_to(ROOT)
    assert info["version"] == __version__ and info["license"] == "MIT" and info["typed"]
    assert info["readme"] == "text/markdown" and info["body"] > 2000 and info["summary"]
    assert any(u.startswith("Source, https://") for u in info["urls"])
    assert "Programming Language :: Python :: 3 :: Only" in info["classifiers"]
    assert {"index.html", "app.js", "import.js"} <= set(info["page"])
    v = subprocess.run([str(_bin("trayproxy")), "--version"], env=_env(tmp_path), cwd=tmp_path, capture_output=True,
                       text=True, timeout=60)
    assert v.stdout.strip() == f"trayproxy {__version__}"


def test_serve_from_the_wheel_answers_health_and_stops(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen([str(_bin("trayproxy")), "serve", "--port", str(port)], env=_env(tmp_path), cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_health(port, proc, timeout=60)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert f"http://127.0.0.1:{port}/v1" in out and "Stopped." in out
    assert "No available account" in err and "trayproxy accounts import" in err
    with socket.socket() as s:  # the port is free again (as a new server binds it: TIME_WAIT allowed)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen()
