"""The headless control plane: how the tray, the settings page and the CLI reach the running
instance. Nothing here imports a display library or anything under trayproxy.ui, so `trayproxy
serve` and every CLI command use it on a machine without a display.

1. server.py: ControlServer, the settings page's JSON API on loopback (plus the page's static
   files, read by path from ui/web/), with its route groups in cli_routes.py (`/api/cli/*`, the
   CLI's), models_routes.py (the Models tab) and connect/routes.py (the Connect buttons);
   events.py pushes changes to open pages, login.py runs one browser sign-in at a time.
2. instance.py: the 0600 instance file that advertises the ControlServer of the running instance.
3. local.py: who owns a data dir (the lock) and the CLI's client for the instance that does.

Import the module you need: importing the package loads nothing, so the CLI reading the instance
file never loads aiohttp.
"""

__all__: list[str] = []
