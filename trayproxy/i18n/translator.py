"""Catalogs and the Translator: messages in one language, and that locale's formats.

1. `languages()` lists the catalogs shipped in i18n/locales (each `<lang>/LC_MESSAGES/trayproxy.po`
   with its compiled `.mo`), plus English, the source language.
2. `resolve(tag)` matches what the OS or the setting names ("de_AT.UTF-8", "zh-Hans-CN",
   "zh_SG") to a shipped catalog by language and script, else English. Traditional Chinese
   ("zh_TW", script Hant) does not fall back to the Simplified catalog.
3. `translator(lang)` loads the compiled catalog (cached). A source checkout whose `.mo` is missing
   or older than its `.po` compiles the `.po` in memory with Babel, so a fresh edit shows at once.
4. A Translator formats with `{name}` fields, picks plural forms with the catalog's own rule, and
   formats numbers, percentages, times, dates and durations the locale's way (Babel, CLDR): the
   page does the same with Intl from the same CLDR data.
"""

from __future__ import annotations

import datetime as _dt
import functools
import gettext
import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime, format_time
from babel.numbers import format_decimal, format_percent
from babel.units import format_unit

__all__ = ["Translator", "ENGLISH", "languages", "resolve", "translator", "LOCALES", "DOMAIN", "SOURCE"]

log = logging.getLogger("trayproxy.i18n")
LOCALES = Path(__file__).resolve().parent / "locales"
DOMAIN = "trayproxy"
SOURCE = "en"  # the message ids are English: English needs no catalog


def _po(lang: str) -> Path:
    return LOCALES / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def _mo(lang: str) -> Path:
    return _po(lang).with_suffix(".mo")


def languages() -> list[str]:
    """English and every shipped catalog ("de", "zh_CN", ...), English first."""
    found = {p.parent.parent.name for p in LOCALES.glob(f"*/LC_MESSAGES/{DOMAIN}.[pm]o")}
    return [SOURCE, *sorted(found - {SOURCE})]


def _key(tag: str) -> tuple[str, str, str] | None:
    """(language, script, territory) of a tag, the script filled in from CLDR's likely subtags."""
    tag = tag.split(".")[0].split("@")[0].replace("-", "_").strip()
    if not tag or tag in ("C", "POSIX"):
        return None
    try:
        loc = Locale.parse(tag)
    except (ValueError, UnknownLocaleError):
        try:
            loc = Locale.parse(tag.split("_")[0])
        except (ValueError, UnknownLocaleError):
            return None
    script = loc.script
    if not script:
        from babel.core import get_global

        likely = get_global("likely_subtags").get(loc.language, "")
        parts = likely.split("_")
        script = parts[1] if len(parts) > 2 else ""
    return loc.language, script or "", loc.territory or ""


def resolve(tag: str | None, available: list[str] | None = None) -> str:
    """The shipped language nearest to `tag` (a setting, or a name from the OS), else English."""
    if not tag:
        return SOURCE
    langs = available if available is not None else languages()
    want = _key(tag)
    if want is None:
        return SOURCE
    keyed = [(lang, _key(lang)) for lang in langs]
    same = [lang for lang, k in keyed if k is not None and k[:2] == want[:2]]
    if not same:
        return SOURCE
    exact = [lang for lang in same if (_key(lang) or ("", "", ""))[2] == want[2]]
    return (exact or same)[0]


def _html_lang(lang: str) -> str:
    return lang.replace("_", "-")


@functools.cache
def _compiled(lang: str) -> bytes | None:
    """The language's compiled catalog (.mo bytes), None for English or when there is none."""
    if lang == SOURCE:
        return None
    po, mo = _po(lang), _mo(lang)
    try:
        if mo.is_file() and (not po.is_file() or mo.stat().st_mtime >= po.stat().st_mtime):
            return mo.read_bytes()
        if po.is_file():
            return compile_po(po)
    except (OSError, ValueError) as e:
        log.warning("the %s catalog could not be read (%s); English it is", lang, e)
    return None


def _translations(lang: str) -> gettext.NullTranslations:
    data = _compiled(lang)
    return gettext.GNUTranslations(io.BytesIO(data)) if data else gettext.NullTranslations()


def compile_po(po: Path) -> bytes:
    """A .po file compiled to .mo bytes (Babel), fuzzy entries left out like msgfmt does."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as f:
        catalog = read_po(f)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    return buf.getvalue()


@dataclass(frozen=True)
class Translator:
    lang: str  # a shipped language: "en", "de", "zh_CN"
    trans: gettext.NullTranslations
    locale: Locale

    @property
    def html_lang(self) -> str:
        return _html_lang(self.lang)

    # -- messages ----------------------------------------------------------------------------
    def _(self, msgid: str, **fields: Any) -> str:
        text = self.trans.gettext(msgid)
        return text.format(**fields) if fields else text

    def n_(self, singular: str, plural: str, n: int, **fields: Any) -> str:
        """The plural form for n; `{n}` in the text is n formatted for the locale."""
        text = self.trans.ngettext(singular, plural, n)
        return text.format(n=self.number(n), **fields)

    # -- formats -----------------------------------------------------------------------------
    def number(self, n: float) -> str:
        return format_decimal(n, locale=self.locale)

    def percent(self, fraction: float) -> str:
        return format_percent(fraction, locale=self.locale)

    def clock(self, ts: float) -> str:
        """A time of day, short ("14:05", "2:05 PM")."""
        return format_time(_dt.datetime.fromtimestamp(ts), "short", locale=self.locale)

    def date(self, ts: float) -> str:
        return format_date(_dt.datetime.fromtimestamp(ts), "medium", locale=self.locale)

    def datetime(self, ts: float) -> str:
        return format_datetime(_dt.datetime.fromtimestamp(ts), "medium", locale=self.locale)

    def _unit(self, value: int, unit: str) -> str:
        return format_unit(value, f"duration-{unit}", length="short", locale=self.locale)

    def duration(self, seconds: float) -> str:
        """How long, as precise as a person needs it: "45 sec" under 90 s, "12 min" under 90 min,
        "3 hr 19 min" under two days, then "2 days 4 hr" (page.js `duration` does the same)."""
        s = max(0, int(seconds + 0.999))
        if s < 90:
            return self._unit(s, "second")
        if s < 5400:
            return self._unit((s + 59) // 60, "minute")
        if s < 48 * 3600:
            h, m = s // 3600, (s % 3600) // 60
            if not m:
                return self._unit(h, "hour")
            return self._("{hours} {minutes}", hours=self._unit(h, "hour"), minutes=self._unit(m, "minute"))
        d, h = s // 86400, (s % 86400) // 3600
        if not h:
            return self._unit(d, "day")
        return self._("{days} {hours}", days=self._unit(d, "day"), hours=self._unit(h, "hour"))

    def page_catalog(self) -> dict[str, Any]:
        return page_catalog(self.lang)


@functools.cache
def translator(lang: str | None = None) -> Translator:
    """The Translator for a shipped language (`resolve` first for anything else)."""
    code = resolve(lang) if lang else SOURCE
    return Translator(code, _translations(code), Locale.parse(code))


ENGLISH = translator(SOURCE)


@functools.cache
def page_catalog(lang: str) -> dict[str, Any]:
    """What the settings page needs to speak `lang`: its translated messages (a plural one as the
    list of its forms, under the singular id), the catalog's plural rule, and the languages to
    offer. Read from the same compiled catalog the tray uses."""
    from babel.messages.mofile import read_mo

    messages: dict[str, Any] = {}
    plural = "(n != 1)"
    data = _compiled(lang)
    if data:
        catalog = read_mo(io.BytesIO(data))
        plural = catalog.plural_expr
        for m in catalog:
            if not m.id or not m.string:
                continue
            if isinstance(m.id, (tuple, list)):
                messages[m.id[0]] = list(m.string)
            else:
                messages[m.id] = m.string
    return {
        "lang": lang,
        "html_lang": _html_lang(lang),
        "plural": plural,
        "messages": messages,
        "languages": [{"code": code, "name": language_name(code)} for code in languages()],
    }


def language_name(lang: str) -> str:
    """A language's name in that language ("Deutsch", "中文 (简体)"), for the Settings choice."""
    loc = Locale.parse(lang)
    if loc.script:  # zh_CN: the script says it, the country does not need to
        loc = Locale(loc.language, script=loc.script)
    name = loc.get_display_name() or lang
    return name[0].upper() + name[1:]
