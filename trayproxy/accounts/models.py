"""Model resolution: the name a client sends -> the id one account actually serves, and why.

Per account, in this order (the first step that places the name wins):
1. mapping    the user's `model_mapping`, exact entries first, then `*` wildcards (most literal
              characters, then longest pattern, then alphabetical); the target is then placed
              by steps 2-4 like any other name, so a retired target still lands somewhere real;
2. exact      the name itself, when the account's catalog lists it; a name with an effort
              suffix whose tiered id the account lists (`gemini-3.8-flash-high` ->
              `gemini-3.8-flash-tiered`, level HIGH: Google answers 404 for the suffixed id there);
3. forwarded  Google's own rule for a retired id (`deprecatedModelIds`, followed up to 5 hops);
4. family     a rule by family against what this account serves, never against a fixed list
              (ids out of quota or cooling down on the account come last):
              Gemini flash / flash-lite / pro / image by family then newest version; Claude
              opus / sonnet / haiku (haiku and other small names go to a fast model); OpenAI
              names by size (`gpt-*-mini`, `o*-mini` -> flash; `gpt-5*`, `*-codex`, `o1/o3/o4`
              -> the best pro; `gpt-oss*` -> a served gpt-oss). `-thinking` and effort suffixes
              (`-high`, `-low`, ...) are kept where the family has such variants. A tiered id
              (`gemini-3.8-flash-tiered`: one id, effort by thinkingLevel) has every effort, so
              `gemini-3.8-flash-high` goes to it with the level HIGH (`Resolution.level`), not to
              an older Flash whose id happens to end in `-high`.
Nothing places it -> None: the caller answers 404 listing some served models.

An account whose catalog has never been read resolves against DEFAULT_CATALOG (how ends in
"default"); the live catalog replaces it at the first fetchAvailableModels. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from trayproxy.i18n.message import N_, Message
from trayproxy.protocols.core.model_rules import level_for_effort, takes_level

__all__ = [
    "VALID_MODEL_RE", "DEFAULT_CATALOG", "COMMON_NAMES", "Resolution", "resolve", "mapping_entry",
    "model_family", "quota_key", "valid_pattern", "newest_of_family", "name_from_display",
]

# Names that reach an upstream URL or envelope must look like model ids; nothing else passes.
VALID_MODEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-:@/]{0,127}$")
_PATTERN_RE = re.compile(r"^[A-Za-z0-9*][A-Za-z0-9._\-:@/*]{0,127}$")

# What an account is assumed to serve before its catalog has been read once (the ids Google's
# catalogs listed in September 2026, upstream-as-it-is §7; no retired ids). Defaults only: the
# live catalog always wins.
DEFAULT_CATALOG: tuple[str, ...] = (
    "gemini-3.8-flash-tiered", "gemini-3.7-flash-tiered", "gemini-3-flash", "gemini-3.5-flash-lite",
    "gemini-3.1-flash-lite", "gemini-3-flash-agent", "gemini-pro-agent", "gemini-3.1-pro-low",
    "gemini-3.1-flash-image", "claude-sonnet-4-6", "claude-opus-4-6-thinking", "gpt-oss-120b-medium",
)

# Names clients commonly send that are not catalog ids; listed by /v1/models as aliases
# wherever they resolve, and used by `trayproxy models` when no name is given.
COMMON_NAMES: tuple[str, ...] = (
    "claude-opus-4-8", "claude-opus-4-6", "claude-sonnet-4-5", "claude-sonnet-4-5-20250929",
    "claude-haiku-4-5", "claude-haiku-4-5-20251001", "gemini-3-flash", "gemini-3-pro", "gemini-2.5-flash",
    "gemini-2.5-pro", "gemini-2.5-flash-lite", "gpt-5", "gpt-5.1-codex", "gpt-5-mini", "gpt-4o", "gpt-4o-mini",
    "o3", "o4-mini",
)

_MAX_HOPS = 5
_EFFORTS = ("minimal", "low", "medium", "high", "xhigh")
_DATE_RE = re.compile(r"^\d{6,8}$")


@dataclass(frozen=True)
class Resolution:
    """`target` is the id sent upstream; `how` is mapping / exact / forwarded / family (with
    " default" when placed against DEFAULT_CATALOG); `why` says it in words; `rank` orders
    resolutions of one name across accounts (0 the name or a rule for it, 1 a family match,
    2 another family because this account has none of the asked one); `pinned` when the id
    itself was asked for, so a busy account means waiting, not a sibling id; `level` the
    thinking level the name asked for, when the target takes levels (LOW / MEDIUM / HIGH)."""

    target: str
    how: str
    words: Message  # `why`, in whichever language shows it (the page's, or English for the CLI)
    rank: int = 0
    pinned: bool = False  # the id itself was asked for (or mapped to): no sibling may stand in
    level: str | None = None

    @property
    def why(self) -> str:
        return self.words.text()


# -- names -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Name:
    vendor: str  # gemini | claude | openai | oss | other
    family: str  # flash | lite | pro | image | opus | sonnet | haiku | fast | big | oss | ""
    version: tuple[int, ...]  # () = unversioned (newest, e.g. gemini-pro-agent)
    effort: str | None
    thinking: bool
    preview: bool
    size: str | None = None  # gpt-oss size, e.g. 120b
    tiered: bool = False  # one id for every effort (thinkingLevel)


@lru_cache(maxsize=2048)
def _parse(name: str) -> _Name:
    low = name.lower()
    tokens = low.split("-")
    effort = next((t for t in reversed(tokens) if t in _EFFORTS), None)
    thinking = "thinking" in tokens
    preview = "preview" in tokens or "exp" in tokens
    if tokens[0] == "gemini":
        version: tuple[int, ...] = ()
        if len(tokens) > 1 and re.fullmatch(r"\d+(\.\d+)*", tokens[1]):
            version = tuple(int(x) for x in tokens[1].split("."))
        fam = ("image" if "image" in tokens else "lite" if "lite" in tokens else "flash" if "flash" in tokens
               else "pro" if "pro" in tokens or "ultra" in tokens else "")
        return _Name("gemini", fam, version, effort, thinking, preview, tiered="tiered" in tokens)
    if tokens[0] == "claude":
        fam = next((t for t in ("opus", "sonnet", "haiku") if t in tokens), "")
        nums = tuple(int(t) for t in tokens if t.isdigit() and not _DATE_RE.match(t))
        return _Name("claude", fam, nums, effort, thinking, preview)
    if low.startswith("gpt-oss"):
        size = next((t for t in tokens if re.fullmatch(r"\d+b", t)), None)
        return _Name("oss", "oss", (), effort, thinking, preview, size)
    small = any(t in ("mini", "nano", "lite", "small", "fast", "instant", "haiku", "flash") for t in tokens)
    if re.match(r"^(gpt|chatgpt|o\d|codex|text-davinci|davinci|babbage)", low):
        if small or re.match(r"^(gpt-4o|gpt-4-turbo|gpt-4$|gpt-3\.5|chatgpt-4o)", low):
            return _Name("openai", "fast", (), effort, thinking, preview)
        return _Name("openai", "big", (), effort, thinking, preview)
    return _Name("other", "fast" if small else "", (), effort, thinking, preview)


def model_family(model: str) -> str:
    """'claude' or 'gemini' (or 'other'): whose signatures a model accepts."""
    m = model.lower()
    if "claude" in m:
        return "claude"
    if "gemini" in m:
        return "gemini"
    return "other"


# -- the family rule -------------------------------------------------------------------------


def _effort_score(asked: str | None, have: str | None, tiered: bool = False) -> int:
    if tiered:  # takes any effort as a thinking level
        return 0
    if asked is None:
        return {"high": 0, None: 0, "xhigh": 0, "medium": 1, "low": 2, "minimal": 3}.get(have, 1)
    if have == asked:
        return 0
    if have is None:
        return 1
    return 2 + abs(_EFFORTS.index(asked) - _EFFORTS.index(have)) if have in _EFFORTS else 3


def _best(asked: _Name, family: str, vendor: str, served: Sequence[str], order: Sequence[str],
          resting: Collection[str] = ()) -> str | None:
    pos = {m: i for i, m in enumerate(order)}
    cands = [m for m in served if _parse(m).vendor == vendor and _parse(m).family == family]
    if not cands:
        return None

    def key(m: str) -> tuple[int, int, int, tuple[int, ...], int, int, str]:
        p = _parse(m)
        newest = tuple(-v for v in (p.version + (0, 0, 0))[:3]) if p.version else (-10_000,)
        effort = _effort_score(asked.effort, p.effort, p.tiered)
        # thinking or not as asked (a resting id is not swapped for its thinking twin); then an id
        # that can answer now; the effort the client named, when a variant has exactly it (a
        # tiered id has every effort); then the newest version; then the nearest effort
        exact = int(bool(asked.effort) and p.effort != asked.effort and not p.tiered)
        return (int(p.thinking != asked.thinking), int(m in resting), exact, (int(p.preview), *newest), effort,
                pos.get(m, len(pos)), m)

    return min(cands, key=key)


# Which families to try, in order, for each asked family; the rank says how close each is.
_GEMINI_FAST = (("gemini", "flash", 1), ("gemini", "lite", 1), ("gemini", "pro", 2))
_GEMINI_PRO = (("gemini", "pro", 1), ("claude", "sonnet", 2), ("claude", "opus", 2))
_CHAINS: dict[tuple[str, str], tuple[tuple[str, str, int], ...]] = {
    ("gemini", "flash"): (("gemini", "flash", 1), ("gemini", "lite", 1)),
    ("gemini", "lite"): (("gemini", "lite", 1), ("gemini", "flash", 1)),
    ("gemini", "pro"): (("gemini", "pro", 1),),
    ("gemini", "image"): (("gemini", "image", 1),),
    ("claude", "opus"): (("claude", "opus", 1), ("claude", "sonnet", 1), ("gemini", "pro", 2)),
    ("claude", "sonnet"): (("claude", "sonnet", 1), ("claude", "opus", 1), ("gemini", "pro", 2)),
    ("claude", "haiku"): _GEMINI_FAST,
    ("openai", "fast"): _GEMINI_FAST,
    ("openai", "big"): _GEMINI_PRO,
    ("oss", "oss"): (("oss", "oss", 1),),
    ("other", "fast"): _GEMINI_FAST,
}
_WORDS = {"flash": "flash", "lite": "flash-lite", "pro": "pro", "image": "image", "opus": "Claude Opus",
          "sonnet": "Claude Sonnet", "oss": "gpt-oss"}


def _family(name: str, served: Sequence[str], order: Sequence[str],
            resting: Collection[str] = ()) -> tuple[str, Message, int] | None:
    asked = _parse(name)
    chain = _CHAINS.get((asked.vendor, asked.family))
    if chain is None:
        return None
    for vendor, family, rank in chain:
        if asked.vendor == "oss":
            oss = [m for m in served if _parse(m).vendor == "oss"]
            same = [m for m in oss if _parse(m).size == asked.size] or oss
            found = _best(asked, "oss", "oss", same, order, resting)
        else:
            found = _best(asked, family, vendor, served, order, resting)
        if found is None:
            continue
        what = _WORDS.get(family, family)
        if asked.vendor == "claude" and asked.family == "haiku" or asked.family == "fast":
            why = N_("a small/fast model name: the best {what} this account serves", what=what)
        elif asked.vendor == "openai":
            why = N_("a large OpenAI model name: the best {what} this account serves", what=what)
        elif rank == 2:
            why = N_("this account serves no {family}: its best {what}",
                     family=_WORDS.get(asked.family, asked.family), what=what)
        else:
            why = N_("{family} family: the best {what} this account serves",
                     family=_WORDS.get(asked.family, asked.family), what=what)
        return found, why, rank
    return None


# -- resolution ------------------------------------------------------------------------------


def _specificity(pattern: str) -> tuple[int, int, str]:
    literal = len(pattern) - pattern.count("*")
    return (-literal, -len(pattern), pattern)


@lru_cache(maxsize=512)
def _wildcard_re(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(p) for p in pattern.split("*")) + "$", re.IGNORECASE)


def valid_pattern(pattern: str) -> bool:
    """A model_mapping key: a model name, possibly with `*` wildcards."""
    return bool(_PATTERN_RE.match(pattern)) and ".." not in pattern


def mapping_entry(name: str, mapping: Mapping[str, str]) -> tuple[str, str] | None:
    """The (pattern, target) of the user's model_mapping that applies to `name`, if any."""
    if name in mapping:
        return name, mapping[name]
    for p in sorted((p for p in mapping if "*" in p), key=_specificity):
        if _wildcard_re(p).match(name):
            return p, mapping[p]
    return None


def _place(name: str, served: Sequence[str], deprecated: Mapping[str, str], order: Sequence[str],
           resting: Collection[str] = ()) -> Resolution | None:
    if name in served:
        return Resolution(name, "exact", N_("this account serves it"), pinned=True)
    p = _parse(name)
    if p.effort is not None and p.vendor == "gemini" and name.lower().endswith("-" + p.effort):
        tiered = name[: -len(p.effort)] + "tiered"
        if tiered in served:
            return Resolution(tiered, "exact", N_("this account serves it as one tiered id"), pinned=True)
    hops, cur = [name], name
    while cur in deprecated and len(hops) <= _MAX_HOPS:
        cur = deprecated[cur]
        if cur in hops:
            break
        hops.append(cur)
        if cur in served:
            forwarded = Resolution(cur, "forwarded", N_("Google forwards {hops}", hops=" -> ".join(hops)))
            if cur not in resting:
                return forwarded
            sibling = _family(cur, served, order, resting)
            if sibling is None or sibling[0] in resting:
                return forwarded
            return Resolution(sibling[0], "family", N_(
                "Google forwards {hops}, which cannot answer on this account now; {why}",
                hops=" -> ".join(hops), why=sibling[1]), sibling[2])
    fam = _family(cur, served, order, resting)
    if fam is None and cur != name:
        fam = _family(name, served, order, resting)
    if fam is None:
        return None
    target, why, rank = fam
    if cur != name:
        why = N_("Google forwards {hops}, which this account does not serve; {why}", hops=" -> ".join(hops), why=why)
    return Resolution(target, "family", why, rank)


def resolve(
    name: str,
    served: Iterable[str] | None,
    *,
    deprecated: Mapping[str, str] | None = None,
    mapping: Mapping[str, str] | None = None,
    order: Sequence[str] = (),
    resting: Collection[str] = (),
) -> Resolution | None:
    """Where `name` goes on an account serving `served` (None: its catalog was never read).
    A family rule prefers ids not in `resting` (out of quota or cooling down on this account):
    a name the client did not pin to one id is served by a sibling that can answer now."""
    if name.lower().startswith("models/"):
        name = name[7:]
    default = served is None
    ids: Sequence[str] = DEFAULT_CATALOG if served is None else served if isinstance(served, (list, tuple)) else list(served)
    dep = deprecated or {}
    entry = mapping_entry(name, mapping or {})
    if entry is not None:
        pattern, target = entry
        placed = _place(target, ids, dep, order, resting)
        if placed is None:
            return None
        rule = N_("model_mapping {pattern} -> {target}", pattern=repr(pattern), target=target)
        why = rule if placed.target == target else N_("{rule}; {why}", rule=rule, why=placed.words)
        r = Resolution(placed.target, "mapping", why, 0, placed.pinned)
    else:
        placed = _place(name, ids, dep, order, resting)
        if placed is None:
            return None
        r = placed
    asked = entry[1] if entry is not None else name
    level = level_for_effort(_parse(asked).effort) if takes_level(r.target) and r.target != asked else None
    if level is not None:
        r = Resolution(r.target, r.how, N_("{why}; thinking level {level} from the name", why=r.words, level=level),
                       r.rank, r.pinned, level)
    if default:
        return Resolution(r.target, r.how + " default", N_(
            "{why} (built-in defaults: the account's catalog has not been read yet)", why=r.words), r.rank, r.pinned,
            r.level)
    return r


def newest_of_family(model: str, served: Iterable[str]) -> bool:
    """Whether `model` is newer than every id of its family in `served` (the newest ids are the
    ones Google's version gate hides; a retired id is older than what replaced it)."""
    p = _parse(model)
    if not p.version or p.vendor != "gemini":
        return False
    same = [_parse(m).version for m in served if _parse(m).vendor == p.vendor and _parse(m).family == p.family]
    return all(v < p.version for v in same if v)


def name_from_display(display: str) -> str:
    """A display name ("Gemini 3.7 Flash", "Claude Sonnet 4.6") as a model name the rules can
    place ("gemini-3.7-flash", "claude-sonnet-4-6")."""
    words = re.findall(r"[A-Za-z]+|\d+(?:\.\d+)*", display.lower())
    if words and words[0] == "claude":
        words = [w.replace(".", "-") for w in words]
    return "-".join(words)


def quota_key(model: str, available: Iterable[str]) -> str | None:
    """The name under which an account reports quota for `model`, if it reports it at all."""
    return model if model in set(available) else None
