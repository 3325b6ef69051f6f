"""The live catalog through real clients: an upstream whose catalog has moved on (Google's 2026
ids, retired ids with deprecatedModelIds, accounts that list different ids), driven by the
OpenAI / Anthropic / Google SDKs and by Gemini CLI, Claude Code and Codex. Old, new, dated and
foreign model names are all served with 200, and no generation request ever carries an id the
account that sent it does not list (the fake would answer 404 "Requested entity was not found")."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anthropic
import openai
import pytest

from tests.clients import claude_code_env, codex_env, find_cli, gemini_cli_env
from tests.fakes.catalog import AGENT_SORTS_2026, CATALOG_2026, DEPRECATED_2026, FREE_TIER_2026
from tests.fakes.cloudcode import GENERATE, FakeCloudCode
from tests.fakes.replies import Call, Reply
from tests.helpers import make_controller
from trayproxy.controller import Controller


def scenario(call: Call) -> Reply:
    contents = call.request.get("contents", [])
    last = contents[-1] if contents else {}
    responses = [p["functionResponse"] for p in last.get("parts", []) if "functionResponse" in p]
    if responses:
        return Reply.text(f"The tool said {json.dumps(responses[0].get('response'))}.")
    tools = [d["name"] for t in call.request.get("tools", []) for d in t.get("functionDeclarations", [])]
    for name, args in (("Bash", {"command": "echo hello-from-bash", "description": "Print a greeting"}),
                       ("shell", {"command": ["bash", "-lc", "echo hello-from-codex"]}),
                       ("exec_command", {"cmd": "echo hello-from-codex"})):
        if name in tools:
            return Reply.tool_call(name, args, thoughts="Run it." if call.thinking else None)
    return Reply.echo()


def moved_fake() -> FakeCloudCode:
    fake = FakeCloudCode()
    fake.use_catalog(CATALOG_2026, DEPRECATED_2026, default_model="gemini-3.8-flash-high", sorts=AGENT_SORTS_2026)
    fake.add_account("ultra@example.com", tier="ULTRA")
    fake.add_account("free@example.com", tier="FREE", models=FREE_TIER_2026)
    fake.default_reply = scenario
    return fake


@contextmanager
def started(fake: FakeCloudCode) -> Iterator[Controller]:
    """A started proxy on the two accounts of `moved_fake()` (the fake already running)."""
    ctl = make_controller(env=fake.env())
    try:
        for e in ("ultra@example.com", "free@example.com"):
            ctl.add_refresh_token(f"rt-{e}")
        ctl.start()
        yield ctl
    finally:
        ctl.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeCloudCode, Controller]]:
    from tests.conftest import MemoryKeyring, free_port
    from trayproxy.paths import AppPaths

    fake = moved_fake()
    home = tmp_path_factory.mktemp("catalog-home")  # its own accounts: nothing leaks to other modules
    with fake:
        ctl = Controller(AppPaths(home, home), secrets_backend=MemoryKeyring(), env=fake.env(),
                         overrides={"port": free_port(), "auth_mode": "strict"})
        for e in ("ultra@example.com", "free@example.com"):
            ctl.add_refresh_token(f"rt-{e}")
        ctl.start()
        try:
            yield fake, ctl
        finally:
            ctl.close()


@pytest.fixture(autouse=True)
def nothing_unlisted(stack: tuple[FakeCloudCode, Controller]) -> Iterator[None]:
    """After every test: each generation call carried an id its account lists, and none got 404."""
    fake, ctl = stack
    before = len(fake.calls_to(GENERATE))
    yield
    calls = fake.calls_to(GENERATE)[before:]
    for rec in calls:
        assert rec.account is not None
        assert rec.body["model"] in fake.account(rec.account).served(), (rec.account, rec.body["model"])
        assert rec.status != 404, rec.body["model"]
    ctl.pool.clear_cooldowns()


def accounts(ctl: Controller) -> dict[str, str]:
    return {a.email: a.id for a in ctl.store.all()}


def test_the_catalog_was_read_per_account_and_saved(stack) -> None:
    fake, ctl = stack
    ultra = ctl.store.by_email("ultra@example.com")
    free = ctl.store.by_email("free@example.com")
    assert ultra is not None and free is not None
    assert set(ultra.models) == set(CATALOG_2026) and set(free.models) == set(FREE_TIER_2026)
    assert ultra.deprecated_models["gemini-3.1-pro-high"] == "gemini-pro-agent"
    assert ultra.default_model == "gemini-3.8-flash-high" and ultra.model_order[0] == "gemini-pro-agent"
    q = ultra.models["claude-opus-4-6-thinking"]
    assert q.display_name == "Claude Opus 4.6 (Thinking)" and q.max_output_tokens == 64000 and q.max_tokens == 200000
    assert q.provider == "API_PROVIDER_ANTHROPIC_VERTEX"
    saved = json.loads(ctl.store.path.read_text())
    rec = next(a for a in saved["accounts"] if a["email"] == "free@example.com")
    assert set(rec["models"]) == set(FREE_TIER_2026) and rec["deprecated_models"]


@pytest.mark.parametrize("name, served_by", [
    ("gpt-4o-mini", "gemini-3.8-flash-high"),  # foreign, small
    ("gpt-5.1-codex", "gemini-pro-agent"),  # foreign, large
    ("o3", "gemini-pro-agent"),
    ("gemini-2.5-flash", "gemini-3.8-flash-high"),  # retired: Google's forwarding rule
    ("gemini-3.1-pro-high", "gemini-pro-agent"),  # retired: forwarding rule
    ("gemini-3-pro-high", "gemini-pro-agent"),  # retired twice: the rule chain
    ("gemini-3.8-flash-low", "gemini-3.8-flash-low"),  # new, served as is
    ("gemini-3.9-flash", "gemini-3.8-flash-high"),  # a version the catalog never had
    ("claude-sonnet-4-5-20250929", "claude-sonnet-4-6"),  # dated
    ("gpt-oss-120b", "gpt-oss-120b-medium"),
])
def test_openai_sdk_gets_200_for_old_new_dated_and_foreign_names(stack, name: str, served_by: str) -> None:
    fake, ctl = stack
    client = openai.OpenAI(base_url=ctl.status().openai_base_url, api_key=ctl.api_key(), max_retries=0)
    raw = client.chat.completions.with_raw_response.create(model=name, messages=[{"role": "user", "content": "hi"}])
    r = raw.parse()
    assert raw.status_code == 200 and r.choices[0].message.content == "Echo: hi"
    assert r.model == name  # the client sees its own name back
    assert raw.headers["x-trayproxy-model"] == served_by == fake.last().body["model"]
    assert raw.headers["x-trayproxy-account"] == accounts(ctl)["ultra@example.com"]  # best tier serves it


def test_openai_model_list_is_what_the_pool_serves_plus_aliases(stack) -> None:
    _, ctl = stack
    client = openai.OpenAI(base_url=ctl.status().openai_base_url, api_key=ctl.api_key(), max_retries=0)
    models = {m.id: m for m in client.models.list()}
    assert set(CATALOG_2026) <= set(models)
    assert "gemini-3-pro-high" not in CATALOG_2026 and "gemini-3-pro-high" in models  # a forwarded alias
    assert "claude-haiku-4-5" in models and "gpt-5.1-codex" in models  # common client names that resolve
    flash = models["gemini-3.8-flash-high"].model_dump()
    assert flash["display_name"] == "Gemini 3.8 Flash (High)" and flash["context_window"] == 1048576
    assert flash["max_output_tokens"] == 65536 and flash["owned_by"] == "google"
    assert models["claude-sonnet-4-6"].owned_by == "anthropic"
    alias = client.models.retrieve("gemini-2.5-flash").model_dump()
    assert alias["alias_of"] == "gemini-3.8-flash-high" and "Gemini 3.8 Flash (High)" in alias["display_name"]
    with pytest.raises(openai.NotFoundError) as ei:
        client.models.retrieve("llama3")
    assert "gemini-3.8-flash-high" in str(ei.value)


def test_an_unplaceable_name_is_a_404_in_each_protocol_listing_served_models(stack) -> None:
    from google import genai
    from google.genai import errors

    fake, ctl = stack
    before = len(fake.calls_to(GENERATE))
    oa = openai.OpenAI(base_url=ctl.status().openai_base_url, api_key=ctl.api_key(), max_retries=0)
    with pytest.raises(openai.NotFoundError) as e1:
        oa.chat.completions.create(model="llama3", messages=[{"role": "user", "content": "hi"}])
    assert e1.value.code == "model_not_found" and "Served now:" in e1.value.message and "gemini-pro-agent" in e1.value.message
    an = anthropic.Anthropic(base_url=ctl.status().base_url, api_key=ctl.api_key(), max_retries=0)
    with pytest.raises(anthropic.NotFoundError) as e2:
        an.messages.create(model="deepseek-chat", max_tokens=50, messages=[{"role": "user", "content": "hi"}])
    assert e2.value.body["error"]["type"] == "not_found_error" and "claude-sonnet-4-6" in e2.value.message
    gc = genai.Client(api_key=ctl.api_key(), http_options={"base_url": ctl.status().base_url})
    with pytest.raises(errors.ClientError) as e3:
        gc.models.generate_content(model="mistral-large", contents="hi")
    assert e3.value.code == 404 and "Models tab" in str(e3.value)
    assert len(fake.calls_to(GENERATE)) == before  # none of them reached the upstream


@pytest.mark.parametrize("name, served_by", [
    ("claude-opus-4-8", "claude-opus-4-6-thinking"),  # Claude Code's newest id
    ("claude-sonnet-4-5-20250929", "claude-sonnet-4-6"),
    ("claude-3-5-sonnet-20241022", "claude-sonnet-4-6"),
    ("claude-haiku-4-5-20251001", "gemini-3.8-flash-high"),  # small: a fast model
    ("gemini-3-flash", "gemini-3.8-flash-high"),
])
def test_anthropic_sdk_gets_200_and_the_served_id_in_the_header(stack, name: str, served_by: str) -> None:
    _, ctl = stack
    client = anthropic.Anthropic(base_url=ctl.status().base_url, api_key=ctl.api_key(), max_retries=0)
    raw = client.messages.with_raw_response.create(model=name, max_tokens=200,
                                                   messages=[{"role": "user", "content": "hello"}])
    msg = raw.parse()
    assert raw.status_code == 200 and msg.model == name and "Echo: hello" in msg.content[-1].text  # type: ignore[union-attr]
    assert raw.headers["x-trayproxy-model"] == served_by


def test_claude_codes_background_calls_survive_a_retired_background_model(stack) -> None:
    """background_model defaults to an id the catalogs list (no retired id among the built-in
    defaults); one the user set that Google since retired (gemini-2.5-flash) is resolved like any
    name (Google's forwarding rule), so background calls still work."""
    fake, ctl = stack
    assert ctl.config.background_model in CATALOG_2026
    client = anthropic.Anthropic(base_url=ctl.status().base_url, api_key=ctl.api_key(), max_retries=0)
    ctl.set_config("background_model", "gemini-2.5-flash")
    try:
        assert "gemini-2.5-flash" not in CATALOG_2026
        raw = client.messages.with_raw_response.create(
            model="claude-opus-4-8", max_tokens=50, system="Generate a concise, sentence-case title for this chat.",
            messages=[{"role": "user", "content": "Warmup"}])
    finally:
        ctl.set_config("background_model", "gemini-3.5-flash-lite")
    assert raw.status_code == 200 and raw.headers["x-trayproxy-model"] == "gemini-3.8-flash-high"
    assert fake.last().body["model"] == "gemini-3.8-flash-high"


def test_output_is_capped_to_the_served_models_limit(stack) -> None:
    """Claude Code asks for up to 64000 output tokens; gemini-3.5-flash-lite takes 32768, and
    Google refuses more with a 400: the catalog's limit is applied before sending."""
    fake, ctl = stack
    client = anthropic.Anthropic(base_url=ctl.status().base_url, api_key=ctl.api_key(), max_retries=0)
    with client.messages.stream(model="gemini-2.5-flash-lite", max_tokens=64000,
                                messages=[{"role": "user", "content": "long answer please"}]) as stream:
        text = stream.get_final_text()
    assert "Echo: long answer please" in text
    sent = fake.last().body
    assert sent["model"] == "gemini-3.5-flash-lite" and sent["request"]["generationConfig"]["maxOutputTokens"] == 32768


def test_anthropic_model_list_has_display_names_and_limits(stack) -> None:
    _, ctl = stack
    client = anthropic.Anthropic(base_url=ctl.status().base_url, api_key=ctl.api_key(), max_retries=0)
    page = client.models.list()
    by_id = {m.id: m for m in page.data}
    assert by_id["claude-opus-4-6-thinking"].display_name == "Claude Opus 4.6 (Thinking)"
    assert by_id["claude-opus-4-6-thinking"].model_dump()["max_tokens"] == 64000
    assert client.models.retrieve("claude-opus-4-8").display_name.endswith("(-> Claude Opus 4.6 (Thinking))")


def test_google_genai_with_old_and_new_names_and_its_model_list(stack) -> None:
    from google import genai

    fake, ctl = stack
    client = genai.Client(api_key=ctl.api_key(), http_options={"base_url": ctl.status().base_url})
    for name, served_by in (("gemini-3-flash", "gemini-3.8-flash-high"), ("gemini-2.5-flash", "gemini-3.8-flash-high"),
                            ("gemini-3-pro-preview", "gemini-pro-agent"), ("gemini-3.5-flash-lite", "gemini-3.5-flash-lite"),
                            ("gemini-2.5-flash-lite", "gemini-3.5-flash-lite")):
        r = client.models.generate_content(model=name, contents=f"Hello {name}")
        assert r.text == f"Echo: Hello {name}"
        assert fake.last().body["model"] == served_by
    listed = {m.name: m for m in client.models.list()}
    lite = listed["models/gemini-3.5-flash-lite"]
    assert lite.display_name == "Gemini 3.5 Flash Lite" and lite.output_token_limit == 32768
    assert lite.input_token_limit == 1048576
    got = client.models.get(model="gemini-3-flash")
    assert got.output_token_limit == 65536 and "Gemini 3.8 Flash (High)" in (got.display_name or "")


def test_accounts_resolve_by_their_own_catalog(stack) -> None:
    """The free account lists fewer ids: with the ultra account resting, the same names are
    served by the free account's own ids, and the monitor records what served them."""
    fake, ctl = stack
    ids = accounts(ctl)
    ctl.pool.cool_down(ids["ultra@example.com"], None, 600, "test: resting")
    client = openai.OpenAI(base_url=ctl.status().openai_base_url, api_key=ctl.api_key(), max_retries=0)
    for name, served_by in (("gemini-3-flash", "gemini-3.8-flash-low"), ("gpt-5.1-codex", "gemini-3.1-pro-low"),
                            ("gemini-3.1-pro-high", "gemini-3.1-pro-low")):
        raw = client.chat.completions.with_raw_response.create(model=name, messages=[{"role": "user", "content": "x"}])
        assert raw.status_code == 200 and raw.headers["x-trayproxy-model"] == served_by
        assert raw.headers["x-trayproxy-account"] == ids["free@example.com"]
    # the only Claude account rests: a Claude name gets a 429 with Retry-After, not a silent
    # answer from another family (the free account's best pro is for pools without Claude)
    an = anthropic.Anthropic(base_url=ctl.status().base_url, api_key=ctl.api_key(), max_retries=0)
    n = len(fake.calls_to(GENERATE))
    with pytest.raises(anthropic.RateLimitError) as ei:
        an.messages.create(model="claude-sonnet-4-5", max_tokens=100, messages=[{"role": "user", "content": "hi"}])
    assert 500 <= int(ei.value.response.headers["retry-after"]) <= 600
    assert len(fake.calls_to(GENERATE)) == n
    assert ctl.monitor is not None
    ctl.monitor.flush()
    rows = ctl.monitor.recent(limit=4)
    assert any(r["client_model"] == "gpt-5.1-codex" and r["upstream_model"] == "gemini-3.1-pro-low"
               and r["account_id"] == ids["free@example.com"] for r in rows)


def test_when_the_resolved_id_is_out_of_quota_a_sibling_serves_on_any_account(stack) -> None:
    """gemini-3-flash is retired; Google forwards it to gemini-3.8-flash-high. The ultra account
    runs out of quota for that id, then for its sibling: the free account serves the sibling."""
    fake, ctl = stack
    ids = accounts(ctl)
    fake.account("ultra@example.com").script(*[Reply.error(429, reason="QUOTA_EXHAUSTED", reset_delay="3600s")] * 2)
    client = openai.OpenAI(base_url=ctl.status().openai_base_url, api_key=ctl.api_key(), max_retries=0)
    raw = client.chat.completions.with_raw_response.create(model="gemini-3-flash", messages=[{"role": "user", "content": "y"}])
    assert raw.status_code == 200 and raw.headers["x-trayproxy-account"] == ids["free@example.com"]
    assert raw.headers["x-trayproxy-model"] == "gemini-3.8-flash-low"
    tried = [(r.account, r.body["model"]) for r in fake.calls_to(GENERATE)[-3:]]
    assert tried == [("ultra@example.com", "gemini-3.8-flash-high"), ("ultra@example.com", "gemini-3.8-flash-low"),
                     ("free@example.com", "gemini-3.8-flash-low")]


# -- the catalog moves while the proxy runs, and across restarts --------------------------------


def test_an_id_retired_after_the_catalog_was_read_is_refetched_and_served_elsewhere(tmp_path: Path) -> None:
    fake = moved_fake()
    with fake, started(fake) as ctl:
        fake.retire("gemini-3.5-flash-lite", "gemini-3.1-flash-lite")  # Google moves on
        client = openai.OpenAI(base_url=ctl.status().openai_base_url, api_key=ctl.api_key(), max_retries=0)
        raw = client.chat.completions.with_raw_response.create(
            model="gemini-3.5-flash-lite", messages=[{"role": "user", "content": "z"}])
        # the stale id got its 404 once; that account's catalog was re-read at once, Google's
        # new forwarding rule applied, and the same request was served
        assert raw.status_code == 200 and raw.headers["x-trayproxy-model"] == "gemini-3.1-flash-lite"
        # (the client tries each base URL on a 404, so the stale id may be seen once per host;
        # the fake notes a status once its handler returned, so only the finished ones are read)
        calls = fake.calls_to(GENERATE)
        assert calls[-1].body["model"] == "gemini-3.1-flash-lite"
        assert {(r.body["model"], r.status) for r in calls[:-1]} == {("gemini-3.5-flash-lite", 404)}
        ultra = ctl.store.by_email("ultra@example.com")
        assert ultra is not None and ultra.deprecated_models["gemini-3.5-flash-lite"] == "gemini-3.1-flash-lite"
        assert "gemini-3.5-flash-lite" not in ultra.models
        raw = client.chat.completions.with_raw_response.create(
            model="gemini-3.5-flash-lite", messages=[{"role": "user", "content": "z"}])
        assert raw.status_code == 200 and raw.headers["x-trayproxy-model"] == "gemini-3.1-flash-lite"
        # no second 404: the one new call already carried the new id
        assert [r.body["model"] for r in fake.calls_to(GENERATE)[len(calls):]] == ["gemini-3.1-flash-lite"]


def test_a_not_found_for_an_id_the_fresh_catalog_still_lists_moves_to_another_account(tmp_path: Path) -> None:
    fake = moved_fake()
    with fake, started(fake) as ctl:
        ultra = fake.account("ultra@example.com")
        # Google answers "not found" although the catalog lists the id (once per base URL)
        ultra.script(*[Reply.error(404, message="Requested entity was not found.")] * 3)
        reads = len(ultra.calls_to("fetchAvailableModels"))
        client = openai.OpenAI(base_url=ctl.status().openai_base_url, api_key=ctl.api_key(), max_retries=0)
        raw = client.chat.completions.with_raw_response.create(
            model="gemini-3.1-pro-low", messages=[{"role": "user", "content": "q"}])
        assert raw.status_code == 200 and raw.headers["x-trayproxy-model"] == "gemini-3.1-pro-low"
        assert raw.headers["x-trayproxy-account"] == accounts(ctl)["free@example.com"]
        assert len(ultra.calls_to("fetchAvailableModels")) == reads + 1  # re-read once, then moved on
        assert fake.accounts_used().count("ultra@example.com") <= 3  # no replanning loop


def test_a_family_name_moves_to_a_sibling_id_when_its_first_choice_is_out_of_quota(tmp_path: Path) -> None:
    fake = moved_fake()
    fake.account("ultra@example.com").set_quota("gemini-3.8-flash-high", 0.0, reset_in=7200)
    with fake, started(fake) as ctl:
        ids = accounts(ctl)
        client = openai.OpenAI(base_url=ctl.status().openai_base_url, api_key=ctl.api_key(), max_retries=0)
        # a name no account lists: the ultra account's best flash that has quota left
        raw = client.chat.completions.with_raw_response.create(
            model="gemini-3.9-flash", messages=[{"role": "user", "content": "q"}])
        assert raw.headers["x-trayproxy-model"] == "gemini-3.8-flash-low"
        assert raw.headers["x-trayproxy-account"] == ids["ultra@example.com"]
        # the id itself, asked by name: no stand-in, a 429 until the reset
        with pytest.raises(openai.RateLimitError) as ei:
            client.chat.completions.create(model="gemini-3.8-flash-high", messages=[{"role": "user", "content": "q"}])
        assert int(ei.value.response.headers["retry-after"]) > 7000
        assert all(r.body["model"] != "gemini-3.8-flash-high" for r in fake.calls_to(GENERATE))


def test_a_restart_serves_from_the_saved_catalog_at_once(tmp_path: Path) -> None:
    from tests.conftest import MemoryKeyring, free_port
    from trayproxy.paths import app_paths

    fake = moved_fake()
    keyring = MemoryKeyring()  # the same keychain across the restart
    with fake:
        ctl = Controller(app_paths(), secrets_backend=keyring, env=fake.env(), overrides={"port": free_port()})
        for e in ("ultra@example.com", "free@example.com"):
            ctl.add_refresh_token(f"rt-{e}")
        ctl.close()
        # the upstream's catalog call now fails: the saved catalog must be enough
        for acc in fake.accounts.values():
            acc.script(*[Reply.error(503)] * 20, method="fetchAvailableModels")
        again = Controller(app_paths(), secrets_backend=keyring, env=fake.env(), overrides={"port": free_port()})
        try:
            again.start()
            client = openai.OpenAI(base_url=again.status().openai_base_url, api_key=again.api_key(), max_retries=0)
            raw = client.chat.completions.with_raw_response.create(
                model="gemini-3.1-pro-high", messages=[{"role": "user", "content": "after restart"}])
            assert raw.status_code == 200 and raw.headers["x-trayproxy-model"] == "gemini-pro-agent"
            assert fake.last().body["model"] == "gemini-pro-agent"
        finally:
            again.close()


# -- the client CLIs ---------------------------------------------------------------------------


@pytest.mark.npm
def test_gemini_cli_with_an_old_model_name(stack, tmp_path: Path) -> None:
    gemini = find_cli("gemini")
    fake, ctl = stack
    env, work = gemini_cli_env(tmp_path, ctl.status().base_url, ctl.api_key())
    before = len(fake.calls_to(GENERATE))
    p = subprocess.run([gemini, "-p", "Say hello to the moved catalog", "-m", "gemini-2.5-flash"], cwd=work, env=env,
                       capture_output=True, text=True, timeout=180)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "Echo:" in p.stdout and "moved catalog" in p.stdout
    assert len(fake.calls_to(GENERATE)) > before


@pytest.mark.npm
def test_claude_code_with_its_own_model_names(stack, tmp_path: Path) -> None:
    claude = find_cli("claude")
    fake, ctl = stack
    env, work = claude_code_env(tmp_path, ctl.status().base_url, ctl.api_key())
    before = len(fake.calls_to(GENERATE))
    p = subprocess.run([claude, "-p", "Run the shell command `echo hello-from-bash` and tell me what it printed",
                        "--model", "claude-opus-4-8", "--allowedTools", "Bash", "--output-format", "json"],
                       cwd=work, env=env, capture_output=True, text=True, timeout=240)
    out = json.loads(p.stdout.strip().splitlines()[-1]) if p.stdout.strip() else {}
    assert p.returncode == 0 and not out.get("is_error"), (p.stdout[-2000:], p.stderr[-2000:])
    assert "hello-from-bash" in out["result"]
    later = fake.calls_to(GENERATE)[before:]
    assert any(r.body["model"] == "claude-opus-4-6-thinking" for r in later)


@pytest.mark.npm
def test_codex_with_a_gpt_codex_name(stack, tmp_path: Path) -> None:
    codex = find_cli("codex")
    fake, ctl = stack
    env, work = codex_env(tmp_path, ctl.status().openai_base_url, ctl.api_key(), "gpt-5.1-codex")
    before = len(fake.calls_to(GENERATE))
    p = subprocess.run([codex, "exec", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox",
                        "Run `echo hello-from-codex` in the shell and report its output"],
                       cwd=work, env=env, capture_output=True, text=True, timeout=240)
    assert p.returncode == 0, (p.stdout[-2000:], p.stderr[-3000:])
    later = fake.calls_to(GENERATE)[before:]
    assert later and all(r.body["model"] == "gemini-pro-agent" for r in later)
    assert any("functionResponse" in json.dumps(r.body) and "hello-from-codex" in json.dumps(r.body) for r in later)
