"""The words and formats of the tray, its notifications and the settings page, in the person's
language (gettext catalogs managed with Babel; dates, times, numbers and durations from Babel's
CLDR data).

1. One catalog per language: `i18n/locales/<lang>/LC_MESSAGES/trayproxy.po`, compiled to `.mo`
   by the build (setup.py, or `python -m trayproxy.i18n.build compile`). Adding a language is one
   `.po` file: `languages()` lists every catalog found. The English source text is the message id,
   so English needs no catalog.
2. Which language: the `language` setting, or with "auto" the OS's (detect.py: LANGUAGE,
   LC_ALL, LC_MESSAGES, LANG; macOS and Windows preferences), matched to the nearest catalog
   ("de_AT" -> "de", "zh_Hans_CN" / "zh-SG" -> "zh_CN"), else English.
3. `translator(lang)` gives a `Translator`: `_(msgid, **fields)` and `n_(singular, plural, n,
   **fields)` with `{name}` fields, and the locale's formats. The Python code and the page's
   scripts use the same message ids: the page reads its catalog as JSON (`page_catalog`, served
   by the ControlServer), never a second dictionary.
4. The CLI speaks English whatever the OS says (`ENGLISH`): its output is read by scripts and
   pasted into bug reports.
"""

from __future__ import annotations

from trayproxy.i18n.translator import ENGLISH, Translator, languages, resolve, translator

__all__ = ["ENGLISH", "Translator", "languages", "resolve", "translator"]
