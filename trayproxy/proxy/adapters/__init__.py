"""One adapter per client protocol route; the generic handler (proxy/handler.py) runs them all.

| adapter | routes |
|---|---|
| `CHAT` | POST /v1/chat/completions |
| `COMPLETIONS` | POST /v1/completions |
| `RESPONSES` | POST /v1/responses, the Responses WebSocket (GET /v1/responses) |
| `COMPACT` | POST /v1/responses/compact |
| `MESSAGES`, `COUNT_TOKENS` | POST /v1/messages, /v1/messages/count_tokens |
| `GEMINI` | POST /v1beta/models/{model}:generateContent, :streamGenerateContent, :countTokens |
| `IMAGES` | POST /v1/images/generations |
"""

from __future__ import annotations

from trayproxy.proxy.adapters.anthropic import CountTokens, Messages
from trayproxy.proxy.adapters.base import Adapter, Call, model_name
from trayproxy.proxy.adapters.gemini import Gemini, model_and_method
from trayproxy.proxy.adapters.images import Images
from trayproxy.proxy.adapters.openai import Chat, Completions
from trayproxy.proxy.adapters.responses import Compact, Responses

__all__ = ["Adapter", "Call", "model_name", "model_and_method", "CHAT", "COMPLETIONS", "RESPONSES", "COMPACT",
           "MESSAGES", "COUNT_TOKENS", "GEMINI", "IMAGES"]

CHAT: Adapter = Chat()
COMPLETIONS: Adapter = Completions()
RESPONSES: Adapter = Responses()
COMPACT: Adapter = Compact()
MESSAGES: Adapter = Messages()
COUNT_TOKENS: Adapter = CountTokens()
GEMINI: Adapter = Gemini()
IMAGES: Adapter = Images()
