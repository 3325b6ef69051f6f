"""Shared mode (#30): several instances share one pool on Redis and PostgreSQL.

Nothing here runs, and no driver is imported, unless `shared.redis_url` / TRAYPROXY_REDIS_URL or
`shared.database_url` / TRAYPROXY_DATABASE_URL is set: the embedded default stays in memory,
SQLite and the keychain. The modules, from the bottom up:

- health.py: whether each engine answers, and since when it does not (doctor, the page, the
  tray, /readyz, /metrics).
- crypto.py: AES-GCM for refresh tokens stored in PostgreSQL, under a key from
  TRAYPROXY_SECRET_KEY or the keychain.
- redis_engine.py: the connection, its health, and the client keys' limits counted across
  instances (one Lua script, one round trip).
- pg_engine.py: the pool, the versioned migrations (migrations/NNNN_*.sql), LISTEN/NOTIFY.
- pg_keys.py, pg_accounts.py: client keys and accounts mirrored both ways (the stores'
  replicas: clientkeys/store.py, accounts/store.py).
- pg_log.py: the request log shipped from the local SQLite log (the buffer that survives an
  outage and a restart) and read back for the Monitor and `trayproxy logs`.
- state.py: `SharedState`, which the Controller starts on its engine loop and stops.
"""
