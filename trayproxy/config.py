"""Typed configuration: defaults, validation, atomic load/save, schema version, env overrides.

config.json never holds a secret (the API key, refresh tokens and the z.ai key live in the
SecretStore). A file that is not valid JSON, or holds values that make no sense, is never
silently reset and never rewritten behind the user's back: a copy is kept, the problem is
reported with the file and line (every time it is loaded, until the file is fixed), and the app
goes on failing closed: the security settings it could not read take their safest values
(auth_mode strict, LAN access off), the rest their defaults. A file with a setting trayproxy
does not know fails closed the same way: `"auth-mode": "strict"` is a misspelled security
setting, and running with the default (no key) would be the opposite of what it says.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trayproxy.fileio import atomic_write

__all__ = [
    "AUTH_MODES",
    "SCHEDULING_MODES",
    "ZAI_DISPATCH_MODES",
    "DEFAULT_CLOUDCODE_BASE_URLS",
    "DEFAULT_CLIENT_VERSION_URL",
    "Config",
    "ZaiConfig",
    "MonitorConfig",
    "OAuthConfig",
    "ConfigError",
    "LoadResult",
    "load_config",
    "save_config",
    "set_value",
    "fail_closed_config",
]

CONFIG_VERSION = 1
AUTH_MODES = ("off", "strict", "all_except_health", "auto")
SCHEDULING_MODES = ("cache_first", "balance", "performance_first")
ZAI_DISPATCH_MODES = ("off", "exclusive", "pooled", "fallback")
# The daily host first: Google serves new ids there before prod and sandbox (upstream-as-it-is §7).
DEFAULT_CLOUDCODE_BASE_URLS = (
    "https://daily-cloudcode-pa.googleapis.com/v1internal",
    "https://cloudcode-pa.googleapis.com/v1internal",
    "https://daily-cloudcode-pa.sandbox.googleapis.com/v1internal",
)
# Antigravity's updater manifest: where the client version Google accepts is learned (CPA reads it).
DEFAULT_CLIENT_VERSION_URL = (
    "https://antigravity-hub-auto-updater-974169037036.us-central1.run.app/manifest/latest-arm64-mac.yml")


class ConfigError(ValueError):
    """A setting cannot be used. The message names the file/key and says what is expected."""


@dataclass
class ZaiConfig:
    enabled: bool = False
    base_url: str = "https://api.z.ai/api/anthropic"
    dispatch_mode: str = "off"
    models: dict[str, str] = field(
        default_factory=lambda: {"opus": "glm-4.7", "sonnet": "glm-4.7", "haiku": "glm-4.5-air"}
    )


@dataclass
class MonitorConfig:
    enabled: bool = True
    retention_days: int = 30
    max_rows: int = 100_000
    store_bodies: bool = False


@dataclass
class OAuthConfig:
    # Google's installed-app client the reference uses; installed-app secrets are public by design.
    client_id: str = "1071006060591-tmhssin2h21lcre235vtolojh4g403ep.apps.googleusercontent.com"
    client_secret: str = "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"
    auth_url: str = "https://accounts.google.com/o/oauth2/v2/auth"
    token_url: str = "https://oauth2.googleapis.com/token"
    userinfo_url: str = "https://www.googleapis.com/oauth2/v2/userinfo"


@dataclass
class Config:
    version: int = CONFIG_VERSION
    port: int = 8045
    allow_lan_access: bool = False
    auth_mode: str = "auto"
    request_timeout: int = 120  # s: the first event, and any time without one (keep-alives do not count)
    request_deadline: int = 1800  # s: a request's whole life, across accounts and hosts, streams included
    model_mapping: dict[str, str] = field(default_factory=dict)
    scheduling: str = "balance"
    auto_start: bool = False
    language: str = "auto"  # the tray's and the page's language: "auto" (the OS's) or "de", "zh_CN", ...
    max_body_mb: int = 100
    quota_refresh_minutes: int = 15
    background_model: str = "gemini-3.5-flash-lite"
    upstream_proxy: str = ""
    cloudcode_base_urls: list[str] = field(default_factory=lambda: list(DEFAULT_CLOUDCODE_BASE_URLS))
    client_version: str = ""  # the Antigravity version to report; "" learns it (upstream/client_version.py)
    client_version_url: str = DEFAULT_CLIENT_VERSION_URL  # the updater manifest it is learned from ("": none)
    use_ai_credits: bool = False  # Google One AI credits pay when every account's quota is spent
    # where Google's grounding redirect links are resolved (web search results); tests point it
    # at the fake upstream
    grounding_redirect_url: str = "https://vertexaisearch.cloud.google.com/grounding-api-redirect/"
    oauth: OAuthConfig = field(default_factory=OAuthConfig)
    zai: ZaiConfig = field(default_factory=ZaiConfig)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)

    # -- derived ---------------------------------------------------------------------------
    @property
    def bind_host(self) -> str:
        return "0.0.0.0" if self.allow_lan_access else "127.0.0.1"

    @property
    def effective_auth_mode(self) -> str:
        """`auto` asks for the key on every route but the health check, local or LAN: other
        local users and pages on any loopback port are not to be trusted (THREAT_MODEL.md
        §5.1); `connect` and the copied snippets send the key."""
        if self.auth_mode == "auto":
            return "all_except_health"
        return self.auth_mode

    def with_env(self, env: dict[str, str] | None = None) -> Config:
        """A copy with environment overrides applied (env wins over config.json)."""
        env = dict(os.environ) if env is None else env
        c = dataclasses.replace(
            self,
            oauth=dataclasses.replace(self.oauth),
            zai=dataclasses.replace(self.zai),
            monitor=dataclasses.replace(self.monitor),
        )
        if env.get("TRAYPROXY_CLOUDCODE_BASE_URLS"):
            c.cloudcode_base_urls = [
                u.strip().rstrip("/") for u in env["TRAYPROXY_CLOUDCODE_BASE_URLS"].split(",") if u.strip()
            ]
        if env.get("TRAYPROXY_OAUTH_TOKEN_URL"):
            c.oauth.token_url = env["TRAYPROXY_OAUTH_TOKEN_URL"]
        if env.get("TRAYPROXY_OAUTH_USERINFO_URL"):
            c.oauth.userinfo_url = env["TRAYPROXY_OAUTH_USERINFO_URL"]
        if env.get("TRAYPROXY_OAUTH_AUTH_URL"):
            c.oauth.auth_url = env["TRAYPROXY_OAUTH_AUTH_URL"]
        if env.get("TRAYPROXY_ZAI_BASE_URL"):
            c.zai.base_url = env["TRAYPROXY_ZAI_BASE_URL"]
        if env.get("TRAYPROXY_CLIENT_VERSION"):
            c.client_version = env["TRAYPROXY_CLIENT_VERSION"].strip()
        if "TRAYPROXY_CLIENT_VERSION_URL" in env:
            c.client_version_url = env["TRAYPROXY_CLIENT_VERSION_URL"].strip()
        if env.get("TRAYPROXY_GROUNDING_REDIRECT_URL"):
            c.grounding_redirect_url = env["TRAYPROXY_GROUNDING_REDIRECT_URL"]
        return c

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# -- validation ------------------------------------------------------------------------------


def _check_int(key: str, v: Any, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise ConfigError(f"{key} must be a whole number between {lo} and {hi} (got {v!r})")
    if not lo <= v <= hi:
        raise ConfigError(f"{key} must be between {lo} and {hi} (got {v})")
    return v


def _check_bool(key: str, v: Any) -> bool:
    if not isinstance(v, bool):
        raise ConfigError(f"{key} must be true or false (got {v!r})")
    return v


def _check_choice(key: str, v: Any, choices: tuple[str, ...]) -> str:
    if v not in choices:
        raise ConfigError(f"{key} must be one of {', '.join(choices)} (got {v!r})")
    return str(v)


def _check_str(key: str, v: Any) -> str:
    if not isinstance(v, str):
        raise ConfigError(f"{key} must be text (got {v!r})")
    return v


def _check_url(key: str, v: Any, *, allow_empty: bool = False) -> str:
    s = _check_str(key, v).strip()
    if not s and allow_empty:
        return ""
    if not (s.startswith("http://") or s.startswith("https://") or s.startswith("socks5")):
        raise ConfigError(f"{key} must be a URL starting with http:// or https:// (got {v!r})")
    return s.rstrip("/")


def _check_version(key: str, v: Any) -> str:
    s = _check_str(key, v).strip()
    parts = s.split(".")
    if s and not (len(parts) == 3 and all(p.isdigit() and len(p) <= 6 for p in parts)):
        raise ConfigError(f"{key} must be a version like 2.9.1, or empty to learn it (got {v!r})")
    return s


def _check_str_map(key: str, v: Any) -> dict[str, str]:
    if not isinstance(v, dict) or not all(isinstance(a, str) and isinstance(b, str) for a, b in v.items()):
        raise ConfigError(f'{key} must be an object of text to text, like {{"gpt-4o": "gemini-3-flash"}}')
    for a, b in v.items():
        if not a.strip() or not b.strip():
            raise ConfigError(f"{key} entries need a non-empty name and target (got {a!r}: {b!r})")
    return dict(v)


_VALIDATORS: dict[str, Any] = {
    "version": lambda k, v: _check_int(k, v, 1, CONFIG_VERSION),
    "port": lambda k, v: _check_int(k, v, 1, 65535),
    "allow_lan_access": _check_bool,
    "auth_mode": lambda k, v: _check_choice(k, v, AUTH_MODES),
    "request_timeout": lambda k, v: _check_int(k, v, 5, 7200),
    "request_deadline": lambda k, v: _check_int(k, v, 5, 86400),
    "model_mapping": _check_str_map,
    "scheduling": lambda k, v: _check_choice(k, v, SCHEDULING_MODES),
    "auto_start": _check_bool,
    "language": lambda k, v: _check_language(k, v),
    "max_body_mb": lambda k, v: _check_int(k, v, 1, 1024),
    "quota_refresh_minutes": lambda k, v: _check_int(k, v, 1, 1440),
    "background_model": _check_str,
    "upstream_proxy": lambda k, v: _check_url(k, v, allow_empty=True),
    "cloudcode_base_urls": lambda k, v: _check_url_list(k, v),
    "client_version": _check_version,
    "client_version_url": lambda k, v: _check_url(k, v, allow_empty=True),
    "use_ai_credits": _check_bool,
    "grounding_redirect_url": _check_url,
    "oauth.client_id": _check_str,
    "oauth.client_secret": _check_str,
    "oauth.auth_url": _check_url,
    "oauth.token_url": _check_url,
    "oauth.userinfo_url": _check_url,
    "zai.enabled": _check_bool,
    "zai.base_url": _check_url,
    "zai.dispatch_mode": lambda k, v: _check_choice(k, v, ZAI_DISPATCH_MODES),
    "zai.models": _check_str_map,
    "monitor.enabled": _check_bool,
    "monitor.retention_days": lambda k, v: _check_int(k, v, 1, 3650),
    "monitor.max_rows": lambda k, v: _check_int(k, v, 100, 10_000_000),
    "monitor.store_bodies": _check_bool,
}
_SECTIONS = {"oauth": OAuthConfig, "zai": ZaiConfig, "monitor": MonitorConfig}


def _check_language(key: str, v: Any) -> str:
    s = _check_str(key, v).strip()
    if s != "auto" and not re.fullmatch(r"[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})*", s):
        raise ConfigError(f"{key} must be auto or a language like de or zh_CN (got {v!r})")
    return s


def _check_url_list(key: str, v: Any) -> list[str]:
    if not isinstance(v, list) or not v:
        raise ConfigError(f"{key} must be a non-empty list of URLs")
    return [_check_url(f"{key}[{i}]", u) for i, u in enumerate(v)]


# What a setting that cannot be read becomes: the safest value, not the default, for the
# settings that guard the proxy (auth "auto" means no key on a local-only proxy).
_FAIL_CLOSED: dict[str, Any] = {"auth_mode": "strict", "allow_lan_access": False}


_UNTIL_FIXED = "trayproxy runs with safe settings (API key required, LAN access off) until the file is fixed"


def fail_closed_config() -> Config:
    """The config used when config.json cannot be read at all."""
    return Config(**_FAIL_CLOSED)


def _unknown(key: str) -> str:
    """The problem for a setting trayproxy does not know, with the known one it may misspell."""
    plain = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", key).lower().replace("-", "_").replace(" ", "_")
    close = difflib.get_close_matches(plain, [k for k in _VALIDATORS if k != "version"], n=1, cutoff=0.7)
    return f"unknown setting {key!r} ignored" + (f" (did you mean {close[0]!r}?)" if close else "")


def from_dict(data: Any, problems: list[str]) -> Config:
    """Build a Config from parsed JSON. Each bad value is reported and replaced by its default
    (the security settings by their safest value, `_FAIL_CLOSED`)."""
    cfg = Config()
    if not isinstance(data, dict):
        problems.append("the file must hold a JSON object ({...}); using safe defaults")
        return fail_closed_config()
    unknown = False
    for key, value in data.items():
        if key in _SECTIONS:
            if not isinstance(value, dict):
                problems.append(f"{key} must be an object; using defaults for it")
                continue
            section = getattr(cfg, key)
            for sub, subval in value.items():
                dotted = f"{key}.{sub}"
                if dotted not in _VALIDATORS:
                    problems.append(_unknown(dotted))
                    unknown = True
                    continue
                try:
                    setattr(section, sub, _VALIDATORS[dotted](dotted, subval))
                except ConfigError as e:
                    problems.append(f"{e}; using the default {getattr(section, sub)!r}")
        elif key in _VALIDATORS:
            try:
                setattr(cfg, key, _VALIDATORS[key](key, value))
            except ConfigError as e:
                if key in _FAIL_CLOSED:
                    setattr(cfg, key, _FAIL_CLOSED[key])
                    problems.append(f"{e}; using {_FAIL_CLOSED[key]!r} until it is fixed")
                else:
                    problems.append(f"{e}; using the default {getattr(cfg, key)!r}")
        else:
            problems.append(_unknown(key))
            unknown = True
    if unknown:  # it may be a misspelled security setting: the file is not understood
        for key, value in _FAIL_CLOSED.items():
            setattr(cfg, key, value)
        problems.append(f"a setting trayproxy does not know may be a misspelled security setting, so {_UNTIL_FIXED}")
    cfg.version = CONFIG_VERSION
    return cfg


def parse_cli_value(key: str, text: str) -> Any:
    """Turn `trayproxy config set KEY VALUE` text into the type the key needs."""
    if key.startswith(("model_mapping.", "zai.models.")):
        return text  # one map entry: plain text
    default = _default_for(key)
    if isinstance(default, bool):
        low = text.strip().lower()
        if low in ("true", "on", "yes", "1"):
            return True
        if low in ("false", "off", "no", "0"):
            return False
        raise ConfigError(f"{key} must be true or false (got {text!r})")
    if isinstance(default, int):
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"{key} must be a whole number (got {text!r})") from None
    if isinstance(default, (dict, list)):
        if isinstance(default, list) and not text.lstrip().startswith("["):
            return [u.strip() for u in text.split(",") if u.strip()]
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(f"{key} must be JSON ({e.msg})") from None
    return text


def _default_for(key: str) -> Any:
    cfg = Config()
    head, _, tail = key.partition(".")
    if tail and head in _SECTIONS:
        return getattr(getattr(cfg, head), tail)
    return getattr(cfg, head, None)


def set_value(cfg: Config, key: str, value: Any) -> Config:
    """Return a copy of cfg with one dotted key set (validated). `model_mapping.NAME` and
    `zai.models.FAMILY` set a single map entry; an empty value removes it."""
    problems: list[str] = []
    new = from_dict(cfg.to_dict(), problems)
    if problems:
        raise ConfigError("; ".join(problems))
    parts = key.split(".")
    map_parent = {"model_mapping": ("", "model_mapping"), "zai.models": ("zai", "models")}
    for prefix, (section, attr) in map_parent.items():
        if key.startswith(prefix + ".") and len(key) > len(prefix) + 1:
            entry = key[len(prefix) + 1 :]
            holder = getattr(new, section) if section else new
            m = dict(getattr(holder, attr))
            if value is None or (isinstance(value, str) and not value.strip()):
                m.pop(entry, None)
            else:
                m[entry] = _check_str(key, value).strip()
            setattr(holder, attr, m)
            return new
    if key not in _VALIDATORS or key == "version":
        known = ", ".join(k for k in _VALIDATORS if k != "version")
        raise ConfigError(f"unknown setting {key!r}. Known settings: {known}")
    checked = _VALIDATORS[key](key, value)
    if len(parts) == 2:
        setattr(getattr(new, parts[0]), parts[1], checked)
    else:
        setattr(new, key, checked)
    return new


# -- load / save -----------------------------------------------------------------------------


@dataclass
class LoadResult:
    config: Config
    problems: list[str]
    backup: Path | None = None

    @property
    def message(self) -> str | None:
        if not self.problems:
            return None
        text = "; ".join(self.problems)
        if self.backup is not None:
            text += f". A copy of the file as it was is kept as {self.backup}"
        return text


def _backup(path: Path, raw: bytes, tag: str) -> Path | None:
    """Keep a copy of a file trayproxy could not use; one copy per distinct content."""
    for old in sorted(path.parent.glob(f"{path.name}.{tag}-*")):
        try:
            if old.read_bytes() == raw:
                return old
        except OSError:
            continue
    stamp = time.strftime("%Y%m%d-%H%M%S")
    dest = path.with_name(f"{path.name}.{tag}-{stamp}")
    n = 1
    while dest.exists():
        dest = path.with_name(f"{path.name}.{tag}-{stamp}-{n}")
        n += 1
    try:
        atomic_write(dest, raw)
    except OSError:
        return None
    return dest


def load_config(path: Path) -> LoadResult:
    """Load config.json, creating it with defaults when missing.

    A file that cannot be used is left as it is (a copy is kept too); the problem is described
    with the file name and line on every load until it is fixed, and the security settings
    fail closed (`_FAIL_CLOSED`). Writing a setting (`config set`, the settings page) writes a
    fresh file and so ends the problem.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        cfg = Config()
        save_config(path, cfg)
        return LoadResult(cfg, [])
    except OSError as e:
        return LoadResult(fail_closed_config(), [f"{path} cannot be read ({e.strerror or e}); {_UNTIL_FIXED}"])
    try:
        text = raw.decode("utf-8")
        data = json.loads(text) if text.strip() else {}
    except UnicodeDecodeError:
        msg = f"{path} is not UTF-8 text; {_UNTIL_FIXED}"
        return LoadResult(fail_closed_config(), [msg], _backup(path, raw, "broken"))
    except json.JSONDecodeError as e:
        msg = f"{path} line {e.lineno}, column {e.colno}: {e.msg}; {_UNTIL_FIXED}"
        return LoadResult(fail_closed_config(), [msg], _backup(path, raw, "broken"))
    problems: list[str] = []
    cfg = from_dict(data, problems)
    if problems:
        return LoadResult(cfg, [f"{path}: {p}" for p in problems], _backup(path, raw, "invalid"))
    return LoadResult(cfg, problems)


def save_config(path: Path, cfg: Config) -> None:
    atomic_write(path, (json.dumps(cfg.to_dict(), indent=2, sort_keys=False) + "\n").encode())
