"""What client model names resolve to on each account, and which mapping entries are suspect:
the data behind `trayproxy models`, `trayproxy doctor` and the settings page's Models section.
Pure: accounts and the mapping in, plain data out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from trayproxy.accounts.catalog import pool_models, resolve_for
from trayproxy.accounts.models import COMMON_NAMES, VALID_MODEL_RE, valid_pattern
from trayproxy.accounts.store import Account
from trayproxy.i18n.message import N_

__all__ = ["default_names", "resolution_rows", "mapping_warnings", "check_mapping_entry"]


def default_names(mapping: Mapping[str, str]) -> list[str]:
    """The names worth showing: the user's exact mapping names, then common client names."""
    exact = [k for k in mapping if "*" not in k]
    return list(dict.fromkeys(exact + list(COMMON_NAMES)))


def resolution_rows(accounts: Sequence[Account], names: Iterable[str], mapping: Mapping[str, str]) -> list[dict[str, Any]]:
    """One row per name: for each usable account, the id it would send and why (None: cannot)."""
    usable = [a for a in accounts if not a.disabled and a.onboarded]
    rows = []
    for name in names:
        per: list[dict[str, Any]] = []
        for acc in usable:
            r = resolve_for(acc, name, mapping)
            words = r.words if r else N_("no rule places it on this account")
            per.append({"account_id": acc.id, "email": acc.email, "target": r.target if r else None,
                        "how": r.how if r else None, "why": words.text(), "why_words": words.to_dict()})
        rows.append({"name": name, "accounts": per, "served": any(p["target"] for p in per)})
    return rows


def check_mapping_entry(pattern: str, target: str) -> str | None:
    """Why a model_mapping entry cannot be saved, or None when it is well-formed."""
    if not pattern.strip() or not valid_pattern(pattern.strip()):
        return (f"{pattern!r} is not a model name or pattern: use letters, digits, . _ - : @ / and * "
                "(for example gpt-* or claude-*-thinking)")
    t = target.strip()
    if not t or not VALID_MODEL_RE.match(t) or ".." in t or "/" in t or "*" in t:
        return f"{target!r} is not a model id: the target must be one name, such as gemini-3-flash"
    return None


def mapping_warnings(accounts: Sequence[Account], mapping: Mapping[str, str]) -> list[str]:
    """Mapping entries whose target no usable account serves (with where they land instead)."""
    usable = [a for a in accounts if not a.disabled and a.onboarded]
    if not usable or not any(a.quota_updated is not None or a.models for a in usable):
        return []  # no catalog read yet: nothing to judge against
    served = pool_models(usable)
    out = []
    for pattern, target in sorted(mapping.items()):
        problem = check_mapping_entry(pattern, target)
        if problem:
            out.append(f"model_mapping {pattern!r}: {problem}")
            continue
        if target in served:
            continue
        lands = sorted({r.target for a in usable if (r := resolve_for(a, target, {})) is not None})
        if lands:
            out.append(f"model_mapping {pattern!r} -> {target}: no account serves {target}; "
                       f"it is resolved to {', '.join(lands)} instead")
        else:
            out.append(f"model_mapping {pattern!r} -> {target}: no account serves {target} and no rule "
                       "places it; requests for it get a 404")
    return out
