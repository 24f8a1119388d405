-- runtree schema 2: files stored with a run (diff.patch, ...), replaced by name.
-- A rowid table, not WITHOUT ROWID: file contents are large rows.
CREATE TABLE run_files (
    uid        TEXT NOT NULL,
    name       TEXT NOT NULL,
    content    BLOB NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (uid, name)
)
