"""Languages, matched and spoken: the OS's preference or the setting, plural forms, the locale's
formats, and the page's catalog built from the same compiled catalog."""

from __future__ import annotations

import time

from trayproxy.i18n import ENGLISH, languages, resolve, translator
from trayproxy.i18n.detect import effective_language, os_languages
from trayproxy.i18n.translator import language_name, page_catalog


def test_shipped_languages_and_matching() -> None:
    assert languages()[:1] == ["en"] and {"de", "zh_CN"} <= set(languages())
    assert resolve("de_AT.UTF-8") == "de" and resolve("de-CH") == "de"
    assert resolve("zh_CN.UTF-8") == "zh_CN" and resolve("zh-Hans-SG") == "zh_CN" and resolve("zh") == "zh_CN"
    assert resolve("zh_TW") == "en"  # Traditional Chinese is not the Simplified catalog
    assert resolve("C") == "en" and resolve("xx_YY") == "en" and resolve("") == "en"


def test_os_language_order() -> None:
    assert os_languages({"LANGUAGE": "fr:de", "LANG": "en_US.UTF-8"}, "linux") == ["fr", "de"]  # gettext order
    assert os_languages({"LC_ALL": "C", "LC_MESSAGES": "zh_CN.UTF-8", "LANG": "de_DE"}, "linux") == ["zh_CN"]
    assert effective_language("auto", {"LANGUAGE": "fr:de"}, "linux") == "de"  # first one we speak
    assert effective_language("auto", {"LANG": "en_GB.UTF-8", "LANGUAGE": "en:de"}, "linux") == "en"
    assert effective_language("auto", {"LANG": "C.UTF-8"}, "linux") == "en"
    assert effective_language("zh_CN", {"LANG": "de_DE"}, "linux") == "zh_CN"  # the setting wins


def test_messages_plurals_and_formats() -> None:
    de, zh = translator("de"), translator("zh_CN")
    assert de._("Stopped") == "Gestoppt" and zh._("Stopped") == "已停止"
    assert de.n_("{n} account ready", "{n} accounts ready", 1) == "1 Konto bereit"
    assert de.n_("{n} account ready", "{n} accounts ready", 1200) == "1.200 Konten bereit"
    assert zh.n_("{n} account ready", "{n} accounts ready", 3) == "3 个账号就绪"
    assert ENGLISH.n_("{n} account ready", "{n} accounts ready", 2) == "2 accounts ready"
    assert de.percent(0.72) == "72\xa0%" and ENGLISH.percent(0.72) == "72%"
    assert ENGLISH.duration(45) == "45 sec" and ENGLISH.duration(12 * 60) == "12 min"
    assert ENGLISH.duration(3 * 3600 + 19 * 60) == "3 hr 19 min" and de.duration(3 * 3600 + 19 * 60) == "3 Std. 19 Min."
    assert zh.duration(3 * 3600 + 19 * 60) == "3小时19分钟" and ENGLISH.duration(2 * 86400 + 4 * 3600) == "2 days 4 hr"
    ts = time.mktime((2026, 12, 7, 14, 5, 0, 0, 0, -1))
    assert de.clock(ts) == "14:05" and zh.clock(ts) == "14:05" and ENGLISH.clock(ts).replace("\u202f", " ") == "2:05 PM"


def test_the_page_catalog_is_the_compiled_one() -> None:
    de = page_catalog("de")
    assert de["lang"] == "de" and de["html_lang"] == "de" and de["plural"] == "(n != 1)"
    assert de["messages"]["Stopped"] == "Gestoppt"
    assert de["messages"]["{n} account ready"] == ["{n} Konto bereit", "{n} Konten bereit"]
    zh = page_catalog("zh_CN")
    assert zh["html_lang"] == "zh-CN" and zh["plural"] == "0" and zh["messages"]["{n} account ready"] == ["{n} 个账号就绪"]
    assert page_catalog("en")["messages"] == {}
    assert {"code": "de", "name": "Deutsch"} in de["languages"] and language_name("zh_CN") == "中文 (简体)"
