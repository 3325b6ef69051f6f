#!/usr/bin/env bash
# Run the display tests of the tray UI (browser: headless Chromium; gui: Xvfb + trayer + D-Bus).
# Installs what they need first when run as root on Debian; both kinds skip themselves otherwise.
# Screenshots land in test-artifacts/.
set -euo pipefail
cd "$(dirname "$0")/../.."
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && [ "${SKIP_APT:-0}" != 1 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    chromium xvfb trayer dunst dbus xdotool imagemagick xclip fonts-noto-cjk \
    gir1.2-gtk-3.0 gir1.2-ayatanaappindicator3-0.1 gir1.2-webkit2-4.1 \
    libgirepository1.0-dev libcairo2-dev pkg-config >/dev/null
fi
python3 -m pip install -q "PyGObject<3.51" "pywebview>=5" playwright
# Playwright drives Debian's /usr/bin/chromium; no `playwright install` (no browser download) needed.
exec python3 -m pytest tests/ui -m "gui or browser" -rs "$@"
