"""The package's shape, checked: no import circles, the layer rules, and headless code that never
loads the desktop UI.

1. Every module under trayproxy/ is parsed (ast, nothing is imported) and every import is an
   edge: at module level or inside a function (a lazy import is an import all the same), but
   not under `if TYPE_CHECKING:`, which never runs.
2. No circles: each strongly connected group of modules is reported with one of its cycles.
3. Layer rules, as data (LAYERS): which packages may not import which.
4. Headless paths, run for real in subprocesses: `trayproxy serve` (Stop by SIGTERM), the CLI
   through the running instance and without one. None of them may load trayproxy.ui or a
   display library.
"""

from __future__ import annotations

import ast
import gc
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "trayproxy"


# -- the import graph ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Edge:
    target: str  # a trayproxy module, or the top-level name of another package ("aiohttp")
    where: str  # "<module>" or the function the import is in ("cmd_tray", "Controller.close")
    line: int


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(name: str, path: Path, known: dict[str, Path]) -> list[Edge]:
    """Every import in one module (`from a import b` is a.b when that is a module, else a)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    edges: list[Edge] = []

    def resolve(base: str, alias: str) -> str:
        sub = f"{base}.{alias}"
        return sub if sub in known else base

    def walk(nodes: list[ast.stmt] | list[ast.AST], where: str) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and _type_checking(node.test):
                walk(node.orelse, where)  # the body never runs
                continue
            if isinstance(node, ast.Import):
                edges.extend(Edge(a.name, where, node.lineno) for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    parts = parts[: len(parts) - node.level + 1]
                    base = ".".join([*parts, base] if base else parts)
                edges.extend(Edge(resolve(base, a.name), where, node.lineno) for a in node.names)
            inner = where
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                inner = node.name if where == "<module>" else f"{where}.{node.name}"
            walk(list(ast.iter_child_nodes(node)), inner)

    walk(_parse(path.read_text("utf-8"), str(path)).body, "<module>")
    return edges


def _parse(source: str, name: str) -> ast.Module:
    """ast.parse with the garbage collector held. CPython 3.11's AST converter keeps one recursion
    counter per interpreter: a collection inside it can run a finalizer's Python code (a leaked
    task of an earlier test), which lets another thread in, and a traceback that thread formats
    parses too (3.11's carets call ast.parse), unbalancing the counter: "SystemError: AST
    constructor recursion depth mismatch", seen once in a full run."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return ast.parse(source, name)
    finally:
        if enabled:
            gc.enable()


def graph() -> dict[str, list[Edge]]:
    known = modules()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def cycles(g: dict[str, list[Edge]]) -> list[list[str]]:
    """One cycle per strongly connected group of trayproxy modules (Tarjan, then a shortest way
    back to the group's first module)."""
    succ = {m: sorted({e.target for e in edges if e.target in g and e.target != m}) for m, edges in g.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in succ[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in sorted(succ):
        if v not in index:
            connect(v)
    out = []
    for group in groups:
        start, members = group[0], set(group)
        paths = {start: [start]}
        queue = [start]
        while queue:  # breadth first, inside the group, until an edge leads back to the start
            v = queue.pop(0)
            nxt = [w for w in succ[v] if w in members]
            if start in nxt:
                out.append([*paths[v], start])
                break
            for w in nxt:
                if w not in paths:
                    paths[w] = [*paths[v], w]
                    queue.append(w)
    return out


def test_the_graph_sees_lazy_imports_and_skips_type_checking() -> None:
    g = graph()
    tray = {(e.target, e.where) for e in g["trayproxy.cli"]}
    assert ("trayproxy.ui.app", "cmd_tray") in tray  # a lazy import counts
    checked = {e.target for e in g["trayproxy.connect.routes"]}
    assert "trayproxy.control.api" not in checked  # only under TYPE_CHECKING there


def test_no_import_circles() -> None:
    found = cycles(graph())
    assert not found, "import circles:\n" + "\n".join("  " + " -> ".join(c) for c in found)


# -- layer rules ---------------------------------------------------------------------------------

HEADLESS_FORBIDDEN = ("trayproxy.ui", "pystray", "webview", "gi")


@dataclass(frozen=True)
class Layer:
    modules: str  # a module or package prefix: the importers the rule is about
    forbidden: tuple[str, ...]  # module or package prefixes they may not import
    why: str
    allowed: tuple[tuple[str, str], ...] = ()  # (importer, function) exceptions


BASICS = ("json_types", "fileio", "paths", "ports", "config", "secrets", "keychain", "problems", "i18n")
ABOVE_BASICS = ("trayproxy.protocols", "trayproxy.upstream", "trayproxy.accounts", "trayproxy.monitor",
                "trayproxy.clientkeys", "trayproxy.shared", "trayproxy.proxy", "trayproxy.control",
                "trayproxy.controller", "trayproxy.connect", "trayproxy.ui")
# shared mode's drivers (#30): never loaded by the embedded default
SHARED_DRIVERS = ("redis", "asyncpg", "psycopg", "psycopg2", "hiredis")

LAYERS = (
    *(Layer(f"trayproxy.{m}", ABOVE_BASICS, "the basics (docs/architecture.md) sit below every other layer")
      for m in BASICS),
    Layer("trayproxy.protocols",
          ("trayproxy.proxy", "trayproxy.upstream", "trayproxy.accounts", "trayproxy.monitor", "trayproxy.ui",
           "trayproxy.control", "aiohttp"),
          "protocols/ is pure conversion: dicts in, dicts out, no I/O and no web framework"),
    Layer("trayproxy.upstream", ("trayproxy.proxy", "trayproxy.ui"),
          "upstream/ is the transport seam the proxy uses, never the other way round"),
    Layer("trayproxy.accounts", ("trayproxy.proxy", "trayproxy.ui", "trayproxy.control", "trayproxy.controller"),
          "accounts/ is below the request path and the control plane"),
    Layer("trayproxy.monitor", ("trayproxy.proxy", "trayproxy.ui", "trayproxy.control", "trayproxy.controller"),
          "monitor/ is below the request path and the control plane"),
    Layer("trayproxy.clientkeys", ("trayproxy.proxy", "trayproxy.ui", "trayproxy.control", "trayproxy.controller",
                                   "trayproxy.shared", "trayproxy.accounts", "trayproxy.monitor"),
          "clientkeys/ is a record, a store and counters: below the request path and shared mode"),
    Layer("trayproxy.shared", ("trayproxy.proxy", "trayproxy.ui", "trayproxy.control", "trayproxy.controller"),
          "shared/ mirrors the stores below the request path; the Controller starts it"),
    Layer("trayproxy.proxy", ("trayproxy.ui", "trayproxy.control", "trayproxy.controller", "trayproxy.shared"),
          "the request path is driven by the Controller and knows nothing of who drives it (nor of shared "
          "mode: it reads the limiter and the health it is handed)"),
    Layer("trayproxy", ("trayproxy.ui",),
          "only the tray app loads the desktop UI: `trayproxy` with no command (cli.cmd_tray)",
          allowed=(("trayproxy.cli", "cmd_tray"),)),
    Layer("trayproxy", ("trayproxy.control._",),
          "control/'s private modules serve the package itself"),
)


def _under(name: str, prefix: str) -> bool:
    if prefix.endswith("_"):  # a private-module prefix such as trayproxy.control._
        return name.startswith(prefix)
    return name == prefix or name.startswith(prefix + ".")


def _exempt(layer: Layer, importer: str, forbidden: str) -> bool:
    """A rule does not apply inside what it protects (ui/ imports ui/, control/ its own privates)."""
    protected = forbidden.removesuffix("._") if forbidden.endswith("._") else forbidden
    return _under(importer, protected)


def test_layer_rules() -> None:
    broken = []
    for name, edges in graph().items():
        for layer in LAYERS:
            if not _under(name, layer.modules):
                continue
            for e in edges:
                for bad in layer.forbidden:
                    if (_under(e.target, bad) and not _exempt(layer, name, bad)
                            and (name, e.where) not in layer.allowed):
                        broken.append(f"{name} ({e.where}, line {e.line}) imports {e.target}: {layer.why}")
    assert not broken, "\n".join(dict.fromkeys(broken))


def test_the_rules_catch_what_they_describe() -> None:
    """The checker itself: a forbidden edge is seen, an allowed one is not."""
    layer = next(x for x in LAYERS if x.forbidden == ("trayproxy.ui",))
    assert _under("trayproxy.ui.tray", "trayproxy.ui") and not _under("trayproxy.uix", "trayproxy.ui")
    assert _exempt(layer, "trayproxy.ui.app", "trayproxy.ui")
    assert not _exempt(layer, "trayproxy.serve", "trayproxy.ui")
    assert _under("trayproxy.control._http", "trayproxy.control._")
    assert not _under("trayproxy.control.api", "trayproxy.control._")


# -- headless paths, for real --------------------------------------------------------------------

# Runs trayproxy's CLI with the given arguments; at exit, writes what was imported to $MODULES_OUT.
_RUN = """
import atexit, os, sys
atexit.register(lambda: open(os.environ["MODULES_OUT"], "w").write("\\n".join(sorted(sys.modules))))
from trayproxy.cli import main
sys.exit(main(sys.argv[1:]))
"""


@dataclass
class Headless:
    home: Path
    port: int

    def env(self, out: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "PYSTRAY_BACKEND")}
        env.update({"TRAYPROXY_HOME": str(self.home), "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
                    "TRAYPROXY_ZAI_BASE_URL": "http://127.0.0.1:9", "MODULES_OUT": str(out),
                    "PYTHONPATH": os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)})
        return env

    def out(self, tag: str) -> Path:
        return self.home.parent / f"modules-{tag}.txt"

    def cli(self, *args: str, says: str = "") -> set[str]:
        """Run one command; what it imported. `says`: a text its output must hold."""
        out = self.out("-".join(args).replace("/", "_"))
        p = subprocess.run([sys.executable, "-c", _RUN, *args], env=self.env(out), capture_output=True, text=True,
                           timeout=120)
        assert "Traceback" not in p.stderr, p.stderr
        assert says in p.stdout + p.stderr, p.stdout + p.stderr
        return set(out.read_text().split())


def _display_code(loaded: set[str]) -> list[str]:
    """Also Pillow: only the tray and the page's icon route draw icons, and no run here asks."""
    return sorted(m for m in loaded if any(m == b or m.startswith(b + ".") for b in (*HEADLESS_FORBIDDEN, "PIL")))


@pytest.fixture
def headless(tmp_path: Path) -> Headless:
    h = Headless(tmp_path / "home", free_port())
    # z.ai alone can answer, so serve starts its proxy without a Google account (the CLI edits
    # the files here: no instance runs yet)
    for key, value in (("zai.enabled", "true"), ("zai.dispatch_mode", "exclusive"), ("port", str(h.port))):
        assert not _display_code(h.cli("config", "set", key, value))
    return h


def _drivers(loaded: set[str]) -> list[str]:
    return sorted(m for m in loaded if any(m == d or m.startswith(d + ".") for d in SHARED_DRIVERS)
                  or m.startswith("trayproxy.shared"))


def test_serve_and_the_cli_load_no_display_code(headless: Headless) -> None:
    out = headless.out("serve")
    serve = subprocess.Popen([sys.executable, "-c", _RUN, "serve"], env=headless.env(out),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert serve.stdout is not None
        for line in serve.stdout:  # the banner ends with this line once the proxy listens
            if "Press Ctrl-C" in line:
                break
        else:
            raise AssertionError("serve did not start: " + (serve.stderr.read() if serve.stderr else ""))
        # it serves requests: one answered (z.ai is down here: a 502 in Anthropic's shape), one listing
        import json as _json
        import urllib.request

        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        req = urllib.request.Request(f"http://127.0.0.1:{headless.port}/v1/messages", method="POST",
                                     data=_json.dumps({"model": "claude-sonnet-4-6", "max_tokens": 5, "messages": [
                                         {"role": "user", "content": "hi"}]}).encode(),
                                     headers={"Content-Type": "application/json"})
        try:
            opener.open(req, timeout=30)
            answered = 200
        except urllib.error.HTTPError as e:
            answered = e.code
            assert _json.loads(e.read())["type"] == "error"
        assert answered >= 400
        with opener.open(f"http://127.0.0.1:{headless.port}/readyz", timeout=10) as r:
            assert _json.loads(r.read())["shared"] is None
        through_instance = {
            "config set": headless.cli("config", "set", "monitor.retention_days", "9",
                                       says="Applied by the running trayproxy serve"),
            "accounts list": headless.cli("accounts", "list"),
            "key regenerate": headless.cli("key", "regenerate"),
            "doctor": headless.cli("doctor"),
            "connect --check": headless.cli("connect", "codex", "--check", "--no-client-run"),
        }
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(30) == 0
    finally:
        if serve.poll() is None:
            serve.kill()
    deadline = time.monotonic() + 10
    while not out.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    loaded = {"serve": set(out.read_text().split()), **through_instance}
    assert "trayproxy.control.server" in loaded["serve"]  # it did run the control plane
    without_instance = {
        "config set": headless.cli("config", "set", "monitor.retention_days", "10", says="retention_days = 10"),
        "config show": headless.cli("config", "show"),
        "accounts list": headless.cli("accounts", "list"),
        "key show": headless.cli("key", "show"),
        "models": headless.cli("models"),
        "logs": headless.cli("logs"),
        "connect": headless.cli("connect"),
        "autostart status": headless.cli("autostart", "status"),
    }
    found = {f"{what} ({when})": bad
             for when, runs in (("with serve running", loaded), ("without an instance", without_instance))
             for what, mods in runs.items() if (bad := _display_code(mods))}
    assert not found, found
    # the embedded default (no shared.* URL) loads no shared-mode driver, serving or in the CLI
    drivers = {f"{what} ({when})": bad
               for when, runs in (("with serve running", loaded), ("without an instance", without_instance))
               for what, mods in runs.items() if (bad := _drivers(mods))}
    assert not drivers, drivers
    assert "trayproxy.clientkeys.store" in loaded["serve"]  # client keys work embedded too


def test_headless_modules_import_no_display_code() -> None:
    """Every module outside ui/ (and cli's tray entry), imported at once."""
    names = [m for m in modules() if not _under(m, "trayproxy.ui") and m != "trayproxy.__main__"]
    code = ("import importlib, sys\n"
            f"for m in {names!r}:\n"
            "    importlib.import_module(m)\n"
            f"print(sorted(m for m in sys.modules if any(m == b or m.startswith(b + '.') for b in {HEADLESS_FORBIDDEN!r})))")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DISPLAY", None)
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "[]", p.stdout
