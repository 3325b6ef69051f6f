"""Where trayproxy keeps its files.

`TRAYPROXY_HOME` puts everything (config, accounts, secrets fallback, monitor DB, logs) in one
directory. Otherwise the platform's conventional config and data dirs are used (platformdirs).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

__all__ = ["AppPaths", "app_paths"]

APP_NAME = "trayproxy"


@dataclass(frozen=True)
class AppPaths:
    config_dir: Path
    data_dir: Path

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.json"

    @property
    def accounts_file(self) -> Path:
        return self.data_dir / "accounts.json"

    @property
    def secrets_file(self) -> Path:
        """Fallback secret store, used only when no OS keychain works."""
        return self.data_dir / "secrets.json"

    @property
    def monitor_db(self) -> Path:
        return self.data_dir / "monitor.db"

    @property
    def client_version_file(self) -> Path:
        """The client version learned from Antigravity's updater, and Google's last refusal of it."""
        return self.data_dir / "client_version.json"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "trayproxy.log"

    @property
    def instance_file(self) -> Path:
        """Where a running tray app advertises its ControlServer (single-instance check)."""
        return self.data_dir / "instance.json"

    @property
    def lock_file(self) -> Path:
        """Held (flock) by the one process that owns this data dir's state (see control/local.py)."""
        return self.data_dir / "trayproxy.lock"

    def ensure(self) -> AppPaths:
        """Create the dirs (mode 0700). A directory the user made is left as it is: only what
        trayproxy creates is tightened (a shared TRAYPROXY_HOME keeps the user's mode)."""
        for d in (self.config_dir, self.data_dir):
            if d.is_dir():
                continue
            d.mkdir(parents=True, exist_ok=True)
            try:
                d.chmod(0o700)
            except OSError:
                pass
        return self


def app_paths(env: dict[str, str] | None = None) -> AppPaths:
    env = dict(os.environ) if env is None else env
    home = env.get("TRAYPROXY_HOME")
    if home:
        root = Path(home).expanduser().resolve()
        return AppPaths(config_dir=root, data_dir=root)
    return AppPaths(
        config_dir=Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
        data_dir=Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
    )
