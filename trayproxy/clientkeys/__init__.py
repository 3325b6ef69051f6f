"""Client keys: one key per client or person, with limits (trayproxy/clientkeys/).

The owner's API key (secrets.py) stays unlimited; a client key is `sk-tp-` + 40 random
characters, shown once and stored only as its SHA-256 (record.py), kept in keys.json in the data
dir or in PostgreSQL when shared mode is on (store.py), checked by the guard
(proxy/guards.py) and counted against its limits (limits.py).
"""

from trayproxy.clientkeys.limits import LocalLimiter, Verdict
from trayproxy.clientkeys.record import ClientKey, ClientKeyError, generate, hash_key, looks_like_client_key
from trayproxy.clientkeys.store import KeyRing, KeyStore

__all__ = ["ClientKey", "ClientKeyError", "KeyRing", "KeyStore", "LocalLimiter", "Verdict", "generate", "hash_key",
           "looks_like_client_key"]
