-- runtree schema 1: runs, lineage segments, rewinds, history rows, system samples, console lines.
-- Every stream table leads with the run uid so a backend can shard by run.
CREATE TABLE runs (
    uid          TEXT PRIMARY KEY,
    entity       TEXT NOT NULL,
    project      TEXT NOT NULL,
    id           TEXT NOT NULL,
    name         TEXT NOT NULL,
    state        TEXT NOT NULL,
    created_at   REAL NOT NULL,
    updated_at   REAL NOT NULL,
    heartbeat_at REAL NOT NULL,
    finished_at  REAL,
    exit_code    INTEGER,
    epoch        INTEGER NOT NULL DEFAULT 0,
    parent_uid   TEXT REFERENCES runs(uid),
    fork_step    INTEGER,
    config       TEXT NOT NULL DEFAULT '{}',
    summary      TEXT NOT NULL DEFAULT '{}',
    metric_defs  TEXT NOT NULL DEFAULT '{}',
    tags         TEXT NOT NULL DEFAULT '[]',
    notes        TEXT,
    "group"      TEXT,
    job_type     TEXT,
    host         TEXT,
    pid          INTEGER,
    pid_started  REAL,
    last_step    INTEGER,
    metadata     TEXT NOT NULL DEFAULT '{}',
    UNIQUE (entity, project, id)
);
CREATE INDEX runs_by_project ON runs (entity, project, created_at);
CREATE INDEX runs_by_parent ON runs (parent_uid);

CREATE TABLE segments (
    uid        TEXT NOT NULL REFERENCES runs(uid),
    ord        INTEGER NOT NULL,
    source_uid TEXT NOT NULL,
    epoch      INTEGER NOT NULL,
    first_step INTEGER NOT NULL,
    last_step  INTEGER,
    until_time REAL,
    PRIMARY KEY (uid, ord)
) WITHOUT ROWID;

CREATE TABLE rewinds (
    uid        TEXT NOT NULL REFERENCES runs(uid),
    seq        INTEGER NOT NULL,
    at_step    INTEGER NOT NULL,
    from_epoch INTEGER NOT NULL,
    to_epoch   INTEGER NOT NULL,
    created_at REAL NOT NULL,
    archived   TEXT NOT NULL,
    PRIMARY KEY (uid, seq)
) WITHOUT ROWID;

CREATE TABLE history (
    uid   TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    step  INTEGER NOT NULL,
    ts    REAL NOT NULL,
    data  TEXT NOT NULL,
    PRIMARY KEY (uid, epoch, step)
) WITHOUT ROWID;

CREATE TABLE system_samples (
    uid   TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    ts    REAL NOT NULL,
    data  TEXT NOT NULL,
    PRIMARY KEY (uid, epoch, ts)
) WITHOUT ROWID;

CREATE TABLE console_lines (
    uid    TEXT NOT NULL,
    epoch  INTEGER NOT NULL,
    seq    INTEGER NOT NULL,
    ts     REAL NOT NULL,
    step   INTEGER,
    stream TEXT NOT NULL,
    text   TEXT NOT NULL,
    PRIMARY KEY (uid, epoch, seq)
) WITHOUT ROWID;
