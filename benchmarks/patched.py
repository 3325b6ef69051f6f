"""Run `trayproxy` with fixes suggested by the benchmarks applied as monkeypatches, to measure
their gain without touching trayproxy/ (the fixes themselves belong in trayproxy/):

    python benchmarks/patched.py --patch config-cache,schema-cache serve --port 8045

- config-cache: `Controller.config` (controller.py) rebuilds the effective Config on every call
  (set_value per override = a full to_dict/from_dict round trip, then with_env copying
  os.environ); a request calls it 5-7 times. Cache it until `_config`/`overrides` change.
- schema-cache: `schema.clean_schema` re-cleans every tool schema on every request; agents send
  the same tools each turn. Memoise on the canonical JSON of (schema, require_object).
- sqlite-normal: the monitor's WAL database runs with synchronous=FULL (an fsync per commit,
  i.e. per request at low load). NORMAL is the usual setting for WAL and still crash-safe.
- secrets-cache: with the file fallback (headless Linux), `SecretStore.get` (secrets.py) reads
  and parses secrets.json on every call; the API-key check calls it on every request. Cache
  the parsed file until its mtime/size changes.
- pool-uncapped: `AiohttpTransport(limit=100)` (transport.py) caps concurrent upstream
  requests at 100; the 101st waits for a pooled connection and fails after the 10 s connect
  timeout. Uncapped (limit=0) here; a real fix also caps client-side streams with a 503.
"""

from __future__ import annotations

import sys
from typing import Any


def config_cache() -> None:
    import trayproxy.controller as c

    compute = c.Controller.config.fget
    assert compute is not None

    def cached(self: Any) -> Any:
        key = (id(self._config), tuple(sorted((k, repr(v)) for k, v in self.overrides.items())))
        ent = self.__dict__.get("_bench_cfg")
        if ent is None or ent[0] != key or ent[2] is not self._config:
            ent = (key, compute(self), self._config)
            self.__dict__["_bench_cfg"] = ent
        return ent[1]

    c.Controller.config = property(cached)  # type: ignore[assignment]


def schema_cache() -> None:
    import functools

    import orjson

    import trayproxy.protocols.anthropic as an
    import trayproxy.protocols.openai_chat as oc
    import trayproxy.protocols.schema as sc

    orig = sc.clean_schema

    @functools.lru_cache(maxsize=512)
    def _cached(key: bytes, require_object: bool) -> bytes:
        return orjson.dumps(orig(orjson.loads(key), require_object=require_object))

    def clean_schema(schema: Any, *, require_object: bool = True) -> dict[str, Any]:
        try:
            key = orjson.dumps(schema, option=orjson.OPT_SORT_KEYS)
        except TypeError:
            return orig(schema, require_object=require_object)
        return orjson.loads(_cached(key, require_object))  # a fresh copy per call

    sc.clean_schema = clean_schema  # type: ignore[assignment]
    oc.clean_schema = clean_schema  # type: ignore[assignment]
    an.clean_schema = clean_schema  # type: ignore[assignment]


def sqlite_normal() -> None:
    import sqlite3

    orig = sqlite3.connect

    def connect(*a: Any, **k: Any) -> sqlite3.Connection:
        conn = orig(*a, **k)
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    sqlite3.connect = connect  # type: ignore[assignment]


def secrets_cache() -> None:
    import os

    import trayproxy.secrets as sm

    orig = sm.SecretStore._read_file

    def read_file(self: Any) -> dict[str, str]:
        try:
            st = os.stat(self._path)
            key: Any = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            key = None
        ent = self.__dict__.get("_bench_secrets")
        if ent is not None and ent[0] == key and key is not None:
            return dict(ent[1])
        data = orig(self)
        self.__dict__["_bench_secrets"] = (key, dict(data))
        return data

    sm.SecretStore._read_file = read_file  # type: ignore[method-assign]


def pool_uncapped() -> None:
    import trayproxy.upstream.transport as t

    orig = t.AiohttpTransport.__init__

    def init(self: Any, *, proxy: str | None = None, limit: int = 100) -> None:
        orig(self, proxy=proxy, limit=0)

    t.AiohttpTransport.__init__ = init  # type: ignore[method-assign]


PATCHES = {"config-cache": config_cache, "schema-cache": schema_cache, "sqlite-normal": sqlite_normal,
           "secrets-cache": secrets_cache,
           "pool-uncapped": pool_uncapped}


def main() -> int:
    args = sys.argv[1:]
    if len(args) >= 2 and args[0] == "--patch":
        for name in args[1].split(","):
            if name:
                PATCHES[name]()
        args = args[2:]
    from trayproxy.cli import main as cli_main

    return int(cli_main(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
