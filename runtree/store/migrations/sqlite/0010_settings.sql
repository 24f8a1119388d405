-- runtree schema 10: small shared settings by scope, such as a project's workspace layout
-- ("workspace/<entity>/<project>"): value is one JSON document, replaced whole on each save.
CREATE TABLE settings (
    scope      TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at REAL NOT NULL
) WITHOUT ROWID
