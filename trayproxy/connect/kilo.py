"""Kilo Code's CLI (npm `@kilocode/cli`, binary `kilo`): an OpenCode fork, connected the same way
(connect/opencode.py) in its own places.

- Config: `~/.config/kilo/` `config.json`, `kilo.json`, `kilo.jsonc`, `opencode.json`,
  `opencode.jsonc` (merged in that order, later wins); connect writes into the last that exists,
  else creates `kilo.jsonc` (what Kilo itself creates on its first start) with Kilo's `$schema`.
- Key: `~/.local/share/kilo/auth.json`, the same format as OpenCode's.
- Every `OPENCODE_*` variable is `KILO_*` here (`KILO_CONFIG`, `KILO_CONFIG_CONTENT`, ...).

Kilo changes its config once by itself: on its first run with a non-empty config it adds
`"permission": {"bash": "allow"}` (its "bash permission migration"). Undo keeps that change (it
is Kilo's, not connect's) and takes back connect's own.
"""

from __future__ import annotations

from trayproxy.connect.opencode import OpenCode

__all__ = ["Kilo"]


class Kilo(OpenCode):
    id = "kilo"
    title = "Kilo Code"
    binary_name = "kilo"
    newest_tested = "7.7.7"
    folder_name = "kilo"
    config_names = ("config.json", "kilo.json", "kilo.jsonc", "opencode.json", "opencode.jsonc")
    new_config = "kilo.jsonc"
    schema = "https://app.kilo.ai/config.json"
    env_prefix = "KILO"
