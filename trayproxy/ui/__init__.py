"""The desktop UI: tray icon and menu, settings page (ControlServer + web/), settings window.

Importing this package imports no display library: pystray, GTK and pywebview are imported
only inside the functions that need them, so `trayproxy serve` works on a headless machine.
"""

__all__: list[str] = []
