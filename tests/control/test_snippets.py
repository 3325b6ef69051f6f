from __future__ import annotations

from trayproxy.control.snippets import claude_code_setup, client_urls, snippets


def test_client_urls() -> None:
    assert client_urls("http://127.0.0.1:9000") == {
        "openai": "http://127.0.0.1:9000/v1",
        "anthropic": "http://127.0.0.1:9000",
        "gemini": "http://127.0.0.1:9000",
    }


def test_claude_code_setup() -> None:
    assert claude_code_setup("http://127.0.0.1:1", "sk-abc1234567") == (
        "export ANTHROPIC_BASE_URL=http://127.0.0.1:1\nexport ANTHROPIC_API_KEY=sk-abc1234567\n"
    )


def test_snippets_use_live_url_and_key() -> None:
    sn = {s.id: s for s in snippets("http://127.0.0.1:8045", "sk-live-key-123")}
    assert 'base_url="http://127.0.0.1:8045/v1"' in sn["openai"].text
    assert 'base_url="http://127.0.0.1:8045"' in sn["anthropic"].text
    assert 'base_url="http://127.0.0.1:8045"' in sn["gemini"].text
    assert "ANTHROPIC_BASE_URL=http://127.0.0.1:8045\n" in sn["claude-code"].text
    for s in sn.values():
        assert "sk-live-key-123" in s.text
        compile(s.text, s.id, "exec") if s.lang == "python" else None
