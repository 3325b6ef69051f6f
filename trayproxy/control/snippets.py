"""Ready-to-copy client setups with the live base URL and key (one source for tray and page)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Snippet", "client_urls", "claude_code_setup", "snippets"]


@dataclass(frozen=True)
class Snippet:
    id: str
    title: str
    lang: str
    text: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def client_urls(base_url: str) -> dict[str, str]:
    """Base URL per client family: OpenAI clients want the /v1 suffix, the others do not."""
    return {"openai": f"{base_url}/v1", "anthropic": base_url, "gemini": base_url}


def claude_code_setup(base_url: str, api_key: str) -> str:
    return f"export ANTHROPIC_BASE_URL={base_url}\nexport ANTHROPIC_API_KEY={api_key}\n"


def snippets(base_url: str, api_key: str) -> list[Snippet]:
    urls = client_urls(base_url)
    return [
        Snippet("claude-code", "Claude Code", "sh", claude_code_setup(base_url, api_key) + "claude\n"),
        Snippet(
            "openai",
            "OpenAI SDK (Python)",
            "python",
            "from openai import OpenAI\n\n"
            f'client = OpenAI(base_url="{urls["openai"]}", api_key="{api_key}")\n'
            "reply = client.chat.completions.create(\n"
            '    model="gemini-3-flash",\n'
            '    messages=[{"role": "user", "content": "Hello!"}],\n'
            ")\n"
            "print(reply.choices[0].message.content)\n",
        ),
        Snippet(
            "anthropic",
            "Anthropic SDK (Python)",
            "python",
            "import anthropic\n\n"
            f'client = anthropic.Anthropic(base_url="{urls["anthropic"]}", api_key="{api_key}")\n'
            "message = client.messages.create(\n"
            '    model="claude-sonnet-4-5",\n'
            "    max_tokens=1024,\n"
            '    messages=[{"role": "user", "content": "Hello!"}],\n'
            ")\n"
            "print(message.content[0].text)\n",
        ),
        Snippet(
            "gemini",
            "Gemini SDK (google-genai)",
            "python",
            "from google import genai\nfrom google.genai import types\n\n"
            "client = genai.Client(\n"
            f'    api_key="{api_key}",\n'
            f'    http_options=types.HttpOptions(base_url="{urls["gemini"]}"),\n'
            ")\n"
            'reply = client.models.generate_content(model="gemini-3-flash", contents="Hello!")\n'
            "print(reply.text)\n",
        ),
        Snippet(
            "gemini-cli",
            "Gemini CLI",
            "sh",
            f"export GOOGLE_GEMINI_BASE_URL={urls['gemini']}\nexport GEMINI_API_KEY={api_key}\ngemini\n",
        ),
    ]
