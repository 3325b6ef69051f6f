"""protocols/core/refusal.py: Google's notices inside a 200 told apart from answers, and held back
only while an answer could still be one."""

from __future__ import annotations

from typing import Any

import pytest

from trayproxy.protocols.core.refusal import RefusalWatch, classify_refusal

# The texts as quoted in the peers' issues (research notes §3.5).
VERSION_TEXTS = [
    "This version of Antigravity is no longer supported. Please update to receive the latest features!",
    "This version of Antigravity is no longer supported. Please upgrade to receive the latest features.",
    "Your current version of Antigravity is out of date. Please visit https://antigravity.google/download to "
    "download and install the latest version.",
    "Gemini 3.1 Pro is not available on this version. Please upgrade to the latest version.",
]
RETIRED_TEXTS = [
    ("Gemini 3 Pro is no longer available. Please switch to Gemini 3.1 Pro in the latest version of Antigravity.",
     "Gemini 3 Pro", "Gemini 3.1 Pro"),
    ("Gemini 3.5 Flash is no longer available. Please switch to Gemini 3.7 Flash in the latest version of "
     "Antigravity", "Gemini 3.5 Flash", "Gemini 3.7 Flash"),
    ("Gemini 3.5 Flash is no longer available. Please switch to Gemini 3.8 Flash…", "Gemini 3.5 Flash",
     "Gemini 3.8 Flash"),
]
ANSWERS = [
    "Hello! How can I help?", "Gemini 3 Flash is a fast model; Gemini 3.1 Pro is more capable.",
    "This version of the code is no longer supported by the vendor, so upgrade the library.",
    "Claude is not available on this machine, but you can use the API.",
    "The function is no longer available. Please switch to the new API.",
]


@pytest.mark.parametrize("text", VERSION_TEXTS)
def test_version_refusals(text: str) -> None:
    r = classify_refusal(text)
    assert r is not None and r.kind == "version"


def test_a_per_model_version_refusal_names_the_model() -> None:
    r = classify_refusal(VERSION_TEXTS[-1])
    assert r is not None and r.model == "Gemini 3.1 Pro" and r.replacement is None


@pytest.mark.parametrize("text,old,new", RETIRED_TEXTS)
def test_retired_models_name_their_replacement(text: str, old: str, new: str) -> None:
    r = classify_refusal(text)
    assert r is not None and r.kind == "retired" and r.model == old and r.replacement == new


@pytest.mark.parametrize("text", ANSWERS + ["", "x" * 700])
def test_answers_are_answers(text: str) -> None:
    assert classify_refusal(text) is None


def frame(*parts: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    cand: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}}
    if finish:
        cand["finishReason"] = finish
    return {"candidates": [cand]}


def watch(*frames: dict[str, Any]) -> tuple[list[bool], Any]:
    w = RefusalWatch()
    held = []
    for f in frames:
        w.feed(f)
        held.append(w.holding)
    return held, w.verdict()


def test_a_notice_split_across_chunks_is_held_to_the_end() -> None:
    held, r = watch(frame({"text": "Gemini 3.5 Fl"}), frame({"text": "ash is no longer available. Please "}),
                    frame({"text": "switch to Gemini 3.7 Flash."}, finish="STOP"))
    assert held == [True, True, True] and r is not None and r.replacement == "Gemini 3.7 Flash"


@pytest.mark.parametrize("first", [{"text": "Sure, here"}, {"text": "Thinking", "thought": True},
                                   {"functionCall": {"name": "Bash", "args": {}}}, {"text": "\n\n# Plan"}])
def test_ordinary_answers_are_not_held(first: dict[str, Any]) -> None:
    held, r = watch(frame(first), frame({"text": "This version of Antigravity is no longer supported."}))
    assert held == [False, False] and r is None


def test_an_answer_starting_like_a_notice_is_released_once_it_is_not_one() -> None:
    long = "Gemini 3 Flash and Gemini 3.1 Pro differ in speed, price and depth; " * 3
    held, r = watch(frame({"text": "Gemini"}), frame({"text": long}))
    assert held == [True, False] and r is None


def test_a_notice_cut_by_another_finish_reason_is_not_a_refusal() -> None:
    _, r = watch(frame({"text": VERSION_TEXTS[1]}, finish="MAX_TOKENS"))
    assert r is None
