#!/usr/bin/env bash
# Build the one-folder PyInstaller app into dist/trayproxy/ (work files in build/pyinstaller/).
# Both are git-ignored. Usage: installer/build_pyinstaller.sh   (PYTHON=... to pick the interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

if ! "$PY" -m PyInstaller --version >/dev/null 2>&1; then
  echo "build_pyinstaller: PyInstaller is missing: $PY -m pip install pyinstaller" >&2
  exit 2
fi
if ! "$PY" -c "import aiohttp, orjson, platformdirs, keyring, PIL, trayproxy" 2>/dev/null; then
  echo "build_pyinstaller: install trayproxy and its dependencies first: $PY -m pip install -e ." >&2
  exit 2
fi

# Hooks import packages while analysing; pystray's default backend needs a display, the dummy
# one does not. This affects the build only, not the built app.
export PYSTRAY_BACKEND=dummy
start=$(date +%s)
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath dist --workpath build/pyinstaller installer/trayproxy.spec
echo "build_pyinstaller: built in $(( $(date +%s) - start ))s"

case "$(uname -s)" in
  MINGW*|MSYS*|CYGWIN*) exe=dist/trayproxy/trayproxy-cli.exe ;;
  *) exe=dist/trayproxy/trayproxy ;;
esac
"$exe" --version
du -sh dist/trayproxy
