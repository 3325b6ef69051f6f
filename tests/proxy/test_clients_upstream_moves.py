"""The official SDKs and the client CLIs (pinned and newest) against Google's upstream as of
September 2026 (the fake's default catalog, issue #26): tiered Flash ids with thinkingLevel, an
account the quota summary shows weekly-spent (no request ever reaches it: checked after every
test from the fake's log), a retired model's notice answered by its replacement, a refused client
version as an error in each SDK's own shape, Claude's VALIDATED calling. The CLIs run as
`trayproxy connect` set them up (their own default models), in a new project folder nobody trusted, doing a
multi-step tool task (tests/connect/scenario.py) whose answer quotes a word only the tools saw."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from tests.clients import CLIENT_SETS, find_cli
from tests.connect.scenario import WORD, prompt
from tests.connect.scenario import responses as task_responses
from tests.connect.scenario import scenario as task_scenario
from tests.connect.test_clients_after_connect import RUN, clean_env, project, user_dir  # noqa: F401 (a fixture)
from tests.connect.test_service import OPTIONS
from tests.fakes.cloudcode import GENERATE, FakeCloudCode
from tests.fakes.replies import Call, Reply
from tests.helpers import make_controller
from trayproxy.connect import connect
from trayproxy.controller import Controller

SPENT = "spent@example.com"
BINARIES = {"claude-code": "claude", "codex": "codex", "gemini-cli": "gemini", "opencode": "opencode", "kilo": "kilo"}


def reply(call: Call) -> Reply:
    """A client's task (tests/connect/scenario.py) when its prompt names one, else an echo."""
    if "TASK-" in json.dumps(call.request.get("contents") or []):
        return task_scenario(call)
    return Reply.echo()


def responses_of(rec: Any) -> list[dict[str, Any]]:
    return task_responses(Call(rec.body["model"], rec.body["request"], False, False, lambda: "", "", 0.0))


def september_fake() -> FakeCloudCode:
    fake = FakeCloudCode()
    fake.add_account("pro@example.com", tier="PRO")
    spent = fake.add_account(SPENT, tier="ULTRA")  # the best tier: it would be picked first
    for group in ("gemini", "3p"):
        spent.set_window(group, "weekly", 0.0, reset_in=150 * 3600)  # while the 5-hour numbers read 100 %
    fake.default_reply = reply
    return fake


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[FakeCloudCode, Controller]]:
    fake = september_fake()
    with fake:
        ctl = make_controller(env=fake.env(), auth_mode="strict")
        try:
            for e in ("pro@example.com", SPENT):
                ctl.add_refresh_token(f"rt-{e}")
            ctl.start()
            yield fake, ctl
        finally:
            ctl.close()


@pytest.fixture(autouse=True)
def checked(stack: tuple[FakeCloudCode, Controller]) -> Iterator[None]:
    """After every test: no generation reached the weekly-spent account (unless AI credits were
    to pay for it), none sent both thinking fields or a level to a model without levels, every
    Claude call with tools was VALIDATED, and Google answered each with 200 (capacity answers,
    which move to the next host, and paid tries refused for want of credits aside)."""
    fake, ctl = stack
    before = len(fake.calls_to(GENERATE))
    yield
    for rec in fake.calls_to(GENERATE)[before:]:
        paid = rec.body.get("enabledCreditTypes") == ["GOOGLE_ONE_AI"]
        assert rec.account != SPENT or paid, rec.body["model"]
        req = rec.body["request"]
        tc = (req.get("generationConfig") or {}).get("thinkingConfig") or {}
        assert not ("thinkingLevel" in tc and "thinkingBudget" in tc), tc
        assert "thinkingLevel" not in tc or rec.body["model"].endswith("-tiered"), (rec.body["model"], tc)
        if rec.body["model"].startswith("claude") and req.get("tools"):
            assert req["toolConfig"]["functionCallingConfig"]["mode"] in ("VALIDATED", "ANY", "NONE")
        # (a stream's status is noted once the fake's handler has returned: None while it finishes)
        assert rec.status in (None, 200) or (rec.status == 429 and (paid or rec.host == "daily")), (
            rec.body["model"], rec.status)


# -- the SDKs ----------------------------------------------------------------------------------------


def test_the_sdks_reach_tiered_flash_with_the_level_they_asked_for(stack) -> None:
    from google import genai
    from google.genai import types

    fake, ctl = stack
    oa = openai.OpenAI(base_url=ctl.status().openai_base_url, api_key=ctl.api_key(), max_retries=0)
    raw = oa.chat.completions.with_raw_response.create(model="gemini-3.8-flash-high",
                                                       messages=[{"role": "user", "content": "hi"}])
    assert raw.status_code == 200 and raw.parse().choices[0].message.content == "Echo: hi"
    assert raw.headers["x-trayproxy-model"] == "gemini-3.8-flash-tiered"
    assert fake.last().body["request"]["generationConfig"]["thinkingConfig"]["thinkingLevel"] == "HIGH"
    r = oa.responses.create(model="gemini-3.8-flash-tiered", input="plan", reasoning={"effort": "low"})
    assert r.output_text == "Echo: plan"
    assert fake.last().body["request"]["generationConfig"]["thinkingConfig"]["thinkingLevel"] == "LOW"
    an = anthropic.Anthropic(base_url=ctl.status().base_url, api_key=ctl.api_key(), max_retries=0)
    msg = an.messages.create(model="gemini-3.8-flash-tiered", max_tokens=16000,
                             thinking={"type": "enabled", "budget_tokens": 8000},
                             messages=[{"role": "user", "content": "think"}])
    assert "Echo: think" in msg.content[-1].text  # type: ignore[union-attr]
    assert fake.last().body["request"]["generationConfig"]["thinkingConfig"]["thinkingLevel"] == "MEDIUM"
    gc = genai.Client(api_key=ctl.api_key(), http_options={"base_url": ctl.status().base_url})
    out = gc.models.generate_content(model="gemini-3.8-flash-tiered", contents="deep",
                                     config=types.GenerateContentConfig(
                                         thinking_config=types.ThinkingConfig(thinking_level=types.ThinkingLevel.HIGH)))
    assert out.text == "Echo: deep"
    assert fake.last().body["request"]["generationConfig"]["thinkingConfig"]["thinkingLevel"] == "HIGH"
    assert out.usage_metadata is not None and out.usage_metadata.thoughts_token_count == 3900  # HIGH thought


def test_a_retired_model_answers_as_its_replacement_in_every_sdk(stack) -> None:
    from google import genai

    fake, ctl = stack
    oa = openai.OpenAI(base_url=ctl.status().openai_base_url, api_key=ctl.api_key(), max_retries=0)
    stream = oa.chat.completions.create(model="gemini-3.5-flash-low", stream=True,
                                        messages=[{"role": "user", "content": "still there?"}])
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "Echo: still there?"
    an = anthropic.Anthropic(base_url=ctl.status().base_url, api_key=ctl.api_key(), max_retries=0)
    raw = an.messages.with_raw_response.create(model="gemini-3.5-flash-low", max_tokens=100,
                                               messages=[{"role": "user", "content": "and now?"}])
    assert raw.headers["x-trayproxy-model"] == "gemini-3.7-flash-tiered"
    assert raw.parse().content[-1].text == "Echo: and now?"  # type: ignore[union-attr]
    gc = genai.Client(api_key=ctl.api_key(), http_options={"base_url": ctl.status().base_url})
    assert gc.models.generate_content(model="gemini-3.5-flash-low", contents="last").text == "Echo: last"
    sent = [r.body["model"] for r in fake.calls_to(GENERATE)]
    assert sent.count("gemini-3.5-flash-low") == 1  # the notice came once; the rest went to the replacement


def test_claude_with_tools_is_validated_and_count_tokens_names_models_id(stack) -> None:
    fake, ctl = stack
    an = anthropic.Anthropic(base_url=ctl.status().base_url, api_key=ctl.api_key(), max_retries=0)
    msg = an.messages.create(model="claude-sonnet-4-6", max_tokens=200, messages=[{"role": "user", "content": "x"}],
                             tools=[{"name": "lookup", "input_schema": {"type": "object", "properties": {}}}])
    assert msg.content
    assert fake.last().body["request"]["toolConfig"]["functionCallingConfig"]["mode"] == "VALIDATED"
    n = an.messages.count_tokens(model="claude-sonnet-4-6", messages=[{"role": "user", "content": "count"}])
    assert n.input_tokens > 0
    assert fake.last("countTokens").body["request"]["model"] == "models/claude-sonnet-4-6"


def test_daily_first_and_no_capacity_moves_to_the_next_host_for_the_sdks(stack) -> None:
    fake, ctl = stack
    oa = openai.OpenAI(base_url=ctl.status().openai_base_url, api_key=ctl.api_key(), max_retries=0)
    raw = oa.chat.completions.with_raw_response.create(model="gemini-3.8-flash-high",
                                                       messages=[{"role": "user", "content": "daily"}])
    assert raw.status_code == 200 and fake.last().host == "daily"  # the new id lives on daily first
    pro = ctl.store.by_email("pro@example.com")
    assert pro is not None and pro.catalog_host is not None and pro.catalog_host.endswith("/daily/v1internal")
    fake.account("pro@example.com").script(Reply.error(429, reason="MODEL_CAPACITY_EXCEEDED"))
    an = anthropic.Anthropic(base_url=ctl.status().base_url, api_key=ctl.api_key(), max_retries=0)
    msg = an.messages.create(model="claude-sonnet-4-6", max_tokens=50, messages=[{"role": "user", "content": "cap"}])
    assert msg.content[-1].text == "Echo: cap"  # type: ignore[union-attr]
    last_two = fake.calls_to(GENERATE)[-2:]
    assert [(r.host, r.status) for r in last_two] == [("daily", 429), ("prod", 200)]
    assert ctl.pool.cooldowns(pro.id) == {}  # Google's capacity, not the account: no rest


def test_google_one_ai_credits_pay_for_an_sdk_only_when_allowed(stack) -> None:
    fake, ctl = stack
    pro = fake.account("pro@example.com")
    pro.credits = 3
    pro.set_window("3p", "5h", 0.0, reset_in=2 * 3600)
    ctl.refresh_accounts()
    an = anthropic.Anthropic(base_url=ctl.status().base_url, api_key=ctl.api_key(), max_retries=0)
    body: dict[str, Any] = {"model": "claude-sonnet-4-6", "max_tokens": 50,
                            "messages": [{"role": "user", "content": "pay"}]}
    try:
        n = len(fake.calls_to(GENERATE))
        with pytest.raises(anthropic.RateLimitError):
            an.messages.create(**body)
        assert len(fake.calls_to(GENERATE)) == n  # off by default: nothing sent, a 429
        ctl.set_config("use_ai_credits", True)
        msg = an.messages.create(**body)
        assert msg.content[-1].text == "Echo: pay"  # type: ignore[union-attr]
        assert fake.last().body["enabledCreditTypes"] == ["GOOGLE_ONE_AI"] and fake.last().account == "pro@example.com"
        assert pro.credits == 2
    finally:
        ctl.set_config("use_ai_credits", False)
        pro.credits = 0
        pro.set_window("3p", "5h", 1.0)
        ctl.refresh_accounts()


def test_a_refused_client_version_is_an_error_in_each_sdks_shape_and_one_alarm(stack) -> None:
    from google import genai
    from google.genai import errors

    fake, ctl = stack
    fake.refuse_versions_below("3.0.0")
    try:
        oa = openai.OpenAI(base_url=ctl.status().openai_base_url, api_key=ctl.api_key(), max_retries=0)
        with pytest.raises(openai.APIStatusError) as e1:
            oa.chat.completions.create(model="gemini-3-flash", messages=[{"role": "user", "content": "hi"}])
        assert e1.value.status_code == 503 and "client version" in e1.value.message
        an = anthropic.Anthropic(base_url=ctl.status().base_url, api_key=ctl.api_key(), max_retries=0)
        with pytest.raises(anthropic.APIStatusError) as e2:
            with an.messages.stream(model="claude-sonnet-4-6", max_tokens=50,
                                    messages=[{"role": "user", "content": "hi"}]) as s:
                s.get_final_text()
        assert e2.value.status_code == 503 and "no longer supported" in e2.value.message
        gc = genai.Client(api_key=ctl.api_key(), http_options={"base_url": ctl.status().base_url})
        with pytest.raises(errors.ServerError) as e3:
            gc.models.generate_content(model="gemini-3-flash", contents="hi")
        assert e3.value.code == 503 and "client version" in str(e3.value)
        st = ctl.status().client_version
        assert st is not None and st["alarm"]["kind"] == "refused" and st["alarm"]["version"] == "2.9.1"
        banner = st["banner"]  # the page's banner: what happened, Google's words, what to do
        assert "2.9.1" in banner["said"] and "no longer supported" in banner["quote"] and "Settings" in banner["todo"]
    finally:
        fake.version_refusals.clear()
        fake.updater_version = "3.0.1"  # the updater has a newer one: learning it ends the alarm
        ctl.engine.call(ctl.identity.refresh())
    assert ctl.status().client_version["alarm"] is None  # type: ignore[index]
    assert oa.chat.completions.create(model="gemini-3-flash", messages=[{"role": "user", "content": "ok"}])


# -- the client CLIs, as `trayproxy connect` sets them up -------------------------------------------
# Each client (pinned and newest npm release) with nothing set but what connect writes, in a new
# project folder nobody trusted, does the multi-step tool task of tests/connect/scenario.py.


def _task(stack: tuple[FakeCloudCode, Controller], home: Path, client: str, clients: str) -> tuple[Any, list[Any]]:
    binary = find_cli(BINARIES[client], clients)
    fake, ctl = stack
    env = clean_env(home, binary)
    res = connect(client, base_url=ctl.status().base_url, api_key=ctl.api_key(), backup_root=home / "bk", env=env,
                  options=OPTIONS.get(client), run_client=False)
    assert res.ok, res.to_dict()
    work = project(env)
    before = len(fake.calls_to(GENERATE))
    p = subprocess.run(RUN[client](binary, prompt(client, str(work / "notes.txt"))), cwd=work,
                       env={**env, "PWD": str(work)}, capture_output=True, text=True, timeout=420,
                       stdin=subprocess.DEVNULL)
    assert p.returncode == 0, (p.stdout[-2000:], p.stderr[-3000:])
    return p, fake.calls_to(GENERATE)[before:]


@pytest.mark.npm
@pytest.mark.parametrize("clients", CLIENT_SETS)
@pytest.mark.parametrize("client", list(BINARIES))
def test_each_cli_does_a_tool_task_on_the_september_catalog(stack, user_dir: Path, client: str,  # noqa: F811
                                                            clients: str) -> None:
    p, calls = _task(stack, user_dir, client, clients)
    assert WORD in p.stdout, (p.stdout[-2000:], p.stderr[-2000:])
    assert any(responses_of(c) for c in calls)  # the tools ran and their results went back up
    assert {c.account for c in calls} == {"pro@example.com"}  # never the weekly-spent (and better-tier) one


@pytest.mark.npm
@pytest.mark.parametrize("clients", CLIENT_SETS)
@pytest.mark.parametrize("client", list(BINARIES))
def test_each_cli_gets_the_replacements_answer_when_its_model_is_retired(user_dir: Path, client: str,  # noqa: F811
                                                                         clients: str) -> None:
    """The id the CLI's own default model resolves to answers its first request with Google's
    retirement notice: the CLI still does its task (the replacement answers), never sees the notice."""
    find_cli(BINARIES[client], clients)
    fake = september_fake()
    retired: dict[str, str] = {}

    def first_call_retires(call: Call) -> Reply:
        if not retired and "TASK-" in json.dumps(call.request.get("contents") or []):
            pairs = {"claude-opus-4-6-thinking": ("Claude Sonnet 4.6", "claude-sonnet-4-6"),
                     "gemini-pro-agent": ("Gemini 3.7 Flash", "gemini-3.7-flash-tiered")}
            new = pairs.get(call.model) or (("Claude Opus 4.6 (Thinking)", "claude-opus-4-6-thinking")
                                            if call.model.startswith("claude") else ("Gemini Pro Agent", "gemini-pro-agent"))
            retired[call.model] = new[1]
            return Reply.refusal(f"{fake.models[call.model].display_name} is no longer available. Please switch "
                                 f"to {new[0]} in the latest version of Antigravity.")
        return reply(call)

    fake.default_reply = first_call_retires
    with fake:
        ctl = make_controller(env=fake.env(), auth_mode="strict")
        try:
            ctl.add_refresh_token("rt-pro@example.com")
            ctl.start()
            p, calls = _task((fake, ctl), user_dir, client, clients)
            assert WORD in p.stdout and "no longer available" not in p.stdout, p.stdout[-2000:]
            old = next(iter(retired))
            acc = ctl.store.by_email("pro@example.com")
            assert acc is not None and acc.retired.get(old) == retired[old]
            assert [c.body["model"] for c in calls].count(old) == 1  # the notice once; then the replacement
        finally:
            ctl.close()
