-- runtree schema 3: the server's API keys, stored as sha256 hex digests (never the keys themselves).
-- entities is a JSON list of entity names the key may read and write (an admin key: all).
CREATE TABLE api_keys (
    key_hash   TEXT PRIMARY KEY,
    prefix     TEXT NOT NULL,
    entities   TEXT NOT NULL DEFAULT '[]',
    admin      BOOLEAN NOT NULL DEFAULT FALSE,
    label      TEXT NOT NULL DEFAULT '',
    created_at DOUBLE PRECISION NOT NULL
);
