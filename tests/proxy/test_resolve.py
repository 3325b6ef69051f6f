"""proxy.resolve: fitting a request to the served model's output limit (the end-to-end choice of
accounts and ids is in test_catalog_clients.py)."""

from __future__ import annotations

from trayproxy.accounts.store import Account, ModelQuota
from trayproxy.proxy.resolve import fit_output, output_cap


def test_max_output_is_capped_to_the_catalogs_limit_and_the_budget_kept_below_it() -> None:
    req = {"contents": [], "generationConfig": {"maxOutputTokens": 64000, "temperature": 0.2,
                                                 "thinkingConfig": {"thinkingBudget": 40000, "includeThoughts": True}}}
    out = fit_output(req, 32768)
    assert out["generationConfig"]["maxOutputTokens"] == 32768 and out["generationConfig"]["temperature"] == 0.2
    assert out["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 16384, "includeThoughts": True}
    assert req["generationConfig"]["maxOutputTokens"] == 64000  # the job's own request is untouched
    small = {"generationConfig": {"maxOutputTokens": 1000, "thinkingConfig": {"thinkingBudget": 500}}}
    assert fit_output(small, 32768) is small
    assert fit_output(req, None) is req and fit_output({"contents": []}, 100) == {"contents": []}
    within = fit_output({"generationConfig": {"maxOutputTokens": 50000, "thinkingConfig": {"thinkingBudget": 8000}}}, 32768)
    assert within["generationConfig"]["thinkingConfig"]["thinkingBudget"] == 8000


def test_output_cap_comes_from_the_accounts_catalog() -> None:
    acc = Account(id="a", email="a@e", models={"gemini-3.5-flash-lite": ModelQuota(max_output_tokens=32768)})
    assert output_cap(acc, "gemini-3.5-flash-lite") == 32768 and output_cap(acc, "other") is None
