"""The language the person's OS speaks, as a list of tags in order of preference.

1. macOS: the system preference (NSLocale's preferredLanguages through PyObjC, which pystray
   brings, else `defaults read -g AppleLanguages`): apps started from the Dock have no LANG, and a
   terminal's LANG says nothing about the menu bar's language.
2. Windows: the user's UI language (GetUserDefaultUILanguage), as a tag.
3. Everywhere, then: LANGUAGE (a colon list), LC_ALL, LC_MESSAGES, LANG, in gettext's order;
   "C" and "POSIX" name no language.
`effective_language(setting)` is what the app speaks: the setting when it names a language, else
the first OS preference a catalog matches, else English.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Mapping

from trayproxy.i18n.translator import SOURCE, languages, resolve

__all__ = ["os_languages", "effective_language"]

log = logging.getLogger("trayproxy.i18n")


def _from_env(env: Mapping[str, str]) -> list[str]:
    out: list[str] = []
    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(var, "")
        for tag in value.split(":") if var == "LANGUAGE" else [value]:
            tag = tag.split(".")[0].split("@")[0]
            if tag and tag not in ("C", "POSIX"):
                out.append(tag)
        if out and var != "LANGUAGE":
            break
    return out


def _macos() -> list[str]:
    try:
        from Foundation import NSLocale  # type: ignore[import-not-found, unused-ignore]

        return [str(x) for x in NSLocale.preferredLanguages()]
    except Exception:
        pass
    try:
        res = subprocess.run(["defaults", "read", "-g", "AppleLanguages"], capture_output=True, text=True,
                             timeout=5, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return []
    return [part.strip().strip('",') for part in res.stdout.strip("()\n ").split("\n") if part.strip().strip('",')]


def _windows() -> list[str]:
    try:
        import ctypes
        import locale

        langid = ctypes.windll.kernel32.GetUserDefaultUILanguage()  # type: ignore[attr-defined, unused-ignore]
        tag = locale.windows_locale.get(int(langid))
        return [tag] if tag else []
    except Exception:
        return []


def os_languages(env: Mapping[str, str] | None = None, platform: str = sys.platform) -> list[str]:
    """The OS's languages, most preferred first (may be empty: then English)."""
    env = os.environ if env is None else env
    first: list[str] = []
    if platform == "darwin":
        first = _macos()
    elif platform == "win32":
        first = _windows()
    return first + _from_env(env)


def effective_language(setting: str | None, env: Mapping[str, str] | None = None,
                       platform: str = sys.platform) -> str:
    """The shipped language to speak: the setting ("de", "zh_CN"), or with "auto" / nothing the
    first OS preference a catalog matches, else English."""
    available = languages()
    if setting and setting != "auto":
        return resolve(setting, available)
    for tag in os_languages(env, platform):
        lang = resolve(tag, available)
        if lang != SOURCE or tag.lower().startswith("en"):
            return lang
    return SOURCE
