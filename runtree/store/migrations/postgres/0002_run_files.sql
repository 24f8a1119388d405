-- runtree schema 2: files stored with a run (diff.patch, ...), replaced by name.
CREATE TABLE run_files (
    uid        TEXT NOT NULL,
    name       TEXT NOT NULL,
    content    BYTEA NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (uid, name)
);
