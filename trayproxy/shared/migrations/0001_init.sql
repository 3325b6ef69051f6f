-- trayproxy shared mode (#30): accounts, client keys and the request log.
CREATE TABLE IF NOT EXISTS meta (
    key text PRIMARY KEY,
    value text NOT NULL
);

-- One row per Google account. `record` is the account as accounts.json holds it (never a
-- token); `token` is the refresh token, AES-256-GCM encrypted (shared/crypto.py). A removed
-- account stays as a tombstone so an instance that was offline does not bring it back.
CREATE TABLE IF NOT EXISTS accounts (
    id text PRIMARY KEY,
    email text NOT NULL,
    record jsonb NOT NULL,
    token bytea,
    removed boolean NOT NULL DEFAULT false,
    updated_by text,
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS accounts_updated ON accounts (updated_at);

-- Client keys: the SHA-256 of the key, never the key.
CREATE TABLE IF NOT EXISTS client_keys (
    id text PRIMARY KEY,
    record jsonb NOT NULL,
    hash text NOT NULL UNIQUE,
    updated_by text,
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- The request log of every instance (monitor/record.py's columns, plus which instance).
CREATE TABLE IF NOT EXISTS requests (
    id text PRIMARY KEY,
    instance text,
    ts double precision NOT NULL,
    method text,
    route text,
    protocol text,
    client_model text,
    upstream_model text,
    account_id text,
    upstream text,
    status integer,
    outcome text,
    duration_ms double precision,
    ttfb_ms double precision,
    input_tokens bigint DEFAULT 0,
    output_tokens bigint DEFAULT 0,
    cached_tokens bigint DEFAULT 0,
    reasoning_tokens bigint DEFAULT 0,
    stream boolean DEFAULT false,
    error text,
    user_agent text,
    key_id text
);
CREATE INDEX IF NOT EXISTS requests_ts ON requests (ts);
CREATE INDEX IF NOT EXISTS requests_account ON requests (account_id);
CREATE INDEX IF NOT EXISTS requests_key ON requests (key_id, ts);
CREATE TABLE IF NOT EXISTS request_bodies (
    id text PRIMARY KEY,
    request bytea,
    response bytea
);
