"""A message said later, in the language of whoever shows it: `N_(msgid, **fields)`.

Pure code below the views (model resolution, say) has no person to speak to, yet what it explains
reaches the tray and the page. It returns a `Message`: the catalog's message id and its fields
(strings, or Messages in turn). The CLI prints `message.text()` (English); the ControlServer sends
`message.to_dict()` and the page says it with `t()` from the same catalog (app.js `tp.say`).
`N_` is a keyword of the extractor (build.py), so its message ids are in the catalogs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

from trayproxy.i18n.translator import ENGLISH, Translator

__all__ = ["Message", "N_"]

Field = Union[str, "Message"]


@dataclass(frozen=True)
class Message:
    msgid: str
    fields: tuple[tuple[str, Field], ...] = ()

    def text(self, tr: Translator = ENGLISH) -> str:
        return tr._(self.msgid, **{k: v.text(tr) if isinstance(v, Message) else v for k, v in self.fields})

    def to_dict(self) -> dict[str, Any]:
        return {"msgid": self.msgid,
                "fields": {k: v.to_dict() if isinstance(v, Message) else v for k, v in self.fields}}

    def __str__(self) -> str:
        return self.text()


def N_(msgid: str, **fields: Field) -> Message:  # noqa: N802 (gettext's name for a deferred message)
    return Message(msgid, tuple(fields.items()))
