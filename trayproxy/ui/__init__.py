"""The desktop UI: the tray icon and its menu, the settings window (a child process) and the
settings page's files (web/, served by control/server.py).

Only the tray app imports this package (`trayproxy` with no command, through cli.cmd_tray);
pystray is imported by tray.py and pywebview only in the window's child process.
"""

__all__: list[str] = []
