"""Real Redis and PostgreSQL servers for the shared-mode tests, on loopback, each with its own
port and data directory, started and stopped by the tests themselves.

- Binaries: `redis-server` on PATH; PostgreSQL's `initdb` and `pg_ctl` on PATH or in
  /usr/lib/postgresql/*/bin (Debian). Missing ones skip the test with the reason.
- PostgreSQL refuses to run as root: when the tests run as root, the server runs as `nobody`
  (runuser), in a data directory it owns.
- `kill()` and `start()` let a test take an engine away mid-load and bring it back on the same
  port with the same data (Redis keeps nothing across a kill: it runs without persistence, like
  a cache that restarts empty).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

__all__ = ["RedisServer", "PgServer", "redis_binary", "pg_binaries"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def redis_binary() -> str | None:
    return shutil.which("redis-server")


def pg_binaries() -> tuple[str, str] | None:
    dirs = [os.path.dirname(p) for p in filter(None, [shutil.which("pg_ctl")])]
    dirs += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for d in dirs:
        initdb, pg_ctl = os.path.join(d, "initdb"), os.path.join(d, "pg_ctl")
        if os.access(initdb, os.X_OK) and os.access(pg_ctl, os.X_OK):
            return initdb, pg_ctl
    return None


class RedisServer:
    def __init__(self) -> None:
        binary = redis_binary()
        if binary is None:
            pytest.skip("redis-server is not installed (Debian: apt install redis-server; .ci/run does)")
        self.binary = binary
        self.port = _free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="tp-redis-"))
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir), "--protected-mode", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_port(self.port)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def flush(self) -> None:
        import redis

        redis.Redis.from_url(self.url).flushall()


class PgServer:
    def __init__(self) -> None:
        found = pg_binaries()
        if found is None:
            pytest.skip("PostgreSQL's initdb/pg_ctl are not installed (Debian: apt install postgresql; .ci/run does)")
        self.initdb, self.pg_ctl = found
        self.port = _free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="tp-pg-"))
        self.data = self.dir / "data"
        self.as_user: list[str] = []
        self.up = False
        if os.geteuid() == 0:  # PostgreSQL will not run as root
            if shutil.which("runuser") is None:
                pytest.skip("running as root without runuser: PostgreSQL cannot be started as another user")
            os.chown(self.dir, 65534, 65534)
            self.as_user = ["runuser", "-u", "nobody", "--"]
        self._run([self.initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                   "--no-sync"], timeout=120)
        self.start()

    def _run(self, cmd: list[str], timeout: float = 60) -> None:
        p = subprocess.run([*self.as_user, *cmd], capture_output=True, text=True, timeout=timeout, cwd=self.dir)
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd[:2])} failed: {p.stdout}{p.stderr}")

    def url(self, db: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        # fsync off: a kill is not a power cut, the OS keeps what was written; commits stay
        # synchronous, so a row PostgreSQL acknowledged survives the kill (as in production)
        opts = (f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c full_page_writes=off -c max_connections=200")
        self._run([self.pg_ctl, "-D", str(self.data), "-l", str(self.dir / "log"), "-o", opts, "-w", "-t", "60",
                   "start"], timeout=90)
        self.up = True

    def kill(self) -> None:
        """Stop at once, as a crash would (connections cut, no checkpoint)."""
        self._run([self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop"])
        self.up = False

    def stop(self) -> None:
        try:
            self._run([self.pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop"])
        except Exception:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)

    def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        import asyncio

        import asyncpg

        name = "t_" + uuid.uuid4().hex[:12]
        if not self.up:  # a test that killed it ended before bringing it back
            self.start()

        async def create() -> None:
            conn = await asyncpg.connect(self.url(), timeout=10)
            try:
                await conn.execute(f'CREATE DATABASE "{name}"')
            finally:
                await conn.close()

        asyncio.run(create())
        return self.url(name)
