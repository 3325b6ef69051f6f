"""ControllerAPI: what the tray, the settings page (ControlServer and its route groups), the CLI,
the sign-in runner and connect/ may ask of the running Controller, and Status, what it says
about itself. Each of them is typed against this Protocol, never against Controller (which
implements it; controller.py has mypy check that), so mypy checks every call they make and a
test can hand them a stand-in.

Threads (controller.py has the whole story):
- `a_*` coroutines run on the engine loop: the ControlServer and the sign-in runner, which live
  there, await them.
- Each has a synchronous twin for other threads (the tray's workers, the CLI's own Controller):
  it runs the coroutine on the loop (`engine.call`) and returns its result or raises its error.
  Calling one on the engine loop raises RuntimeError.
- Reads (`status`, `list_accounts`, ...) may be called from any thread: on the loop they are
  computed at once, from another thread they are computed by the loop.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from trayproxy import __version__

if TYPE_CHECKING:
    from trayproxy.accounts.store import Account
    from trayproxy.config import Config
    from trayproxy.engine import Engine
    from trayproxy.monitor import Monitor
    from trayproxy.paths import AppPaths
    from trayproxy.problems import StartProblem

__all__ = ["ControllerAPI", "Status"]


@dataclass
class Status:
    running: bool
    port: int
    base_url: str
    active_accounts: int
    accounts_total: int
    lan: bool
    auth_mode: str
    version: str = __version__
    error: str | None = None
    config_problem: str | None = None
    secrets_fallback: str | None = None
    upstreams: list[str] = field(default_factory=list)
    restart_note: str | None = None  # a saved port / LAN setting that waits for a restart
    problem: dict[str, Any] | None = None  # StartProblem.to_dict() while its cause stands
    # The one status model every view draws (tray, page, notifications, `accounts list`): each
    # account's view (accounts/state.py; its words are accounts/words.py's), the clients whose
    # settings point at this proxy, and the language the tray and the page speak.
    accounts: list[dict[str, Any]] = field(default_factory=list)
    clients: list[dict[str, Any]] = field(default_factory=list)
    language: str = "en"
    # the client version reported to Google (upstream/client_version.py), with `alarm` and `banner`
    # (upstream/words.py: what happened, Google's words, what to do) while Google refuses it
    client_version: dict[str, Any] | None = None

    @property
    def openai_base_url(self) -> str:
        return f"{self.base_url}/v1"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["openai_base_url"] = self.openai_base_url
        return d


class ControllerAPI(Protocol):
    # -- what it is and where ----------------------------------------------------------------
    @property
    def paths(self) -> AppPaths: ...

    @property
    def engine(self) -> Engine:
        """The loop to run the ControlServer and the sign-in runner on (`engine.call`)."""
        ...

    @property
    def monitor(self) -> Monitor | None:
        """The request log (thread-safe on its own: reads and writes are its writer's business)."""
        ...

    restart_hint: str  # how the person restarts the proxy, for notes about port / LAN changes

    # -- reads (any thread) -----------------------------------------------------------------
    @property
    def config(self) -> Config:
        """The effective config (config.json, session overrides, environment)."""
        ...

    @property
    def raw_config(self) -> Config:
        """config.json as saved."""
        ...

    @property
    def overrides(self) -> Mapping[str, Any]: ...

    @property
    def config_problem(self) -> str | None: ...

    @property
    def bound_host(self) -> str | None:
        """The address the proxy listens on, None while stopped."""
        ...

    def status(self) -> Status: ...

    def list_accounts(self) -> list[dict[str, Any]]:
        """Every account as the page, the tray and `accounts list` show it (accounts/state.py)."""
        ...

    def account_records(self) -> list[Account]: ...

    def find_account(self, id_or_email: str) -> Account | None: ...

    def api_key(self) -> str: ...

    def has_zai_key(self) -> bool: ...

    def bound_note(self, key: str) -> str | None:
        """For `port` / `allow_lan_access` saved while the proxy is bound: what holds until it
        restarts (None when the saved value is in effect)."""
        ...

    @property
    def language(self) -> str:
        """The language the tray and the page speak: the setting, or the OS's (trayproxy/i18n)."""
        ...

    def subscribe(self, fn: Callable[[Status], None]) -> None:
        """fn(status) is called on the engine loop after every state change."""
        ...

    # -- the proxy --------------------------------------------------------------------------
    async def a_start(self, port: int | None = None, *, without_account: bool = False) -> Status:
        """Bind the proxy. A port that cannot be bound is refused first (no account needed to
        know); `without_account`: bind even with no usable account (`serve` waiting for its
        first one keeps answering /healthz)."""
        ...

    def start(self, port: int | None = None, *, without_account: bool = False) -> Status: ...

    async def a_check_port(self) -> StartProblem | None:
        """The configured port's problem now (in use: by whom, and a free port), set as the start
        problem; None when it is free or the proxy runs."""
        ...

    def check_port(self) -> StartProblem | None: ...

    async def a_stop(self) -> Status: ...

    def stop(self) -> Status: ...

    def close(self) -> None: ...

    # -- settings and keys ------------------------------------------------------------------
    async def a_set_config(self, key: str, value: Any) -> Config:
        """Validate, save and apply one setting (ConfigError when the value is refused)."""
        ...

    def set_config(self, key: str, value: Any) -> Config: ...

    async def a_set_api_key(self, key: str) -> str: ...

    async def a_regenerate_api_key(self) -> str: ...

    async def a_set_zai_key(self, key: str | None) -> None:
        """Store the z.ai key (None or "" removes it)."""
        ...

    async def a_zai_models(self) -> list[str]: ...

    # -- accounts ---------------------------------------------------------------------------
    async def a_add_refresh_token(self, token: str) -> Account: ...

    def add_refresh_token(self, token: str) -> Account: ...

    async def a_login(self, open_url: Callable[[str], object], timeout: float = 300.0) -> Account: ...

    def login(self, open_url: Callable[[str], object], timeout: float = 300.0) -> Account: ...

    async def a_remove_account(self, id_or_email: str) -> Account: ...

    def remove_account(self, id_or_email: str) -> Account: ...

    async def a_retry_account(self, id_or_email: str) -> Account: ...

    def retry_account(self, id_or_email: str) -> Account: ...

    async def a_set_account_enabled(self, id_or_email: str, enabled: bool) -> Account: ...

    def set_account_enabled(self, id_or_email: str, enabled: bool) -> Account: ...

    async def a_refresh_clients(self) -> list[dict[str, Any]]:
        """Read which clients' settings point at this proxy (their files, in a worker thread)."""
        ...

    def refresh_clients(self) -> list[dict[str, Any]]: ...

    async def a_refresh_accounts(self) -> list[tuple[Account, str | None]]: ...

    def refresh_accounts(self) -> list[tuple[Account, str | None]]: ...

    async def a_scan_imports(self, path: str | None = None) -> dict[str, Any]:
        """Accounts in Antigravity-Manager's and CLIProxyAPI's folders (or at `path`), each
        checked with a refresh: `{"sources": [...], "candidates": [...]}` (no tokens in it)."""
        ...

    def scan_imports(self, path: str | None = None) -> dict[str, Any]: ...

    async def a_import_accounts(self, keys: list[str], path: str | None = None) -> list[dict[str, Any]]:
        """Import the candidates chosen by key (from a scan of the same `path`); one result each.
        The source files are only read."""
        ...

    def import_accounts(self, keys: list[str], path: str | None = None) -> list[dict[str, Any]]: ...
