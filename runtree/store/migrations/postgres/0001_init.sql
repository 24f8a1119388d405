-- runtree schema 1 (PostgreSQL): runs, lineage segments, rewinds, history rows, system samples, console lines.
-- Mirrors sqlite/0001_init.sql. Row payloads are TEXT JSON from runtree.store.codec (JSONB cannot hold NaN/Infinity).
-- Every stream table leads with the run uid in its primary key, so it can be sharded by run (see postgres.py).
-- runs.parent_uid has no foreign key: SQLite does not enforce one either, and a sync may copy a child before its parent.
CREATE TABLE runs (
    uid          TEXT PRIMARY KEY,
    entity       TEXT NOT NULL,
    project      TEXT NOT NULL,
    id           TEXT NOT NULL,
    name         TEXT NOT NULL,
    state        TEXT NOT NULL,
    created_at   DOUBLE PRECISION NOT NULL,
    updated_at   DOUBLE PRECISION NOT NULL,
    heartbeat_at DOUBLE PRECISION NOT NULL,
    finished_at  DOUBLE PRECISION,
    exit_code    BIGINT,
    epoch        BIGINT NOT NULL DEFAULT 0,
    parent_uid   TEXT,
    fork_step    BIGINT,
    config       TEXT NOT NULL DEFAULT '{}',
    summary      TEXT NOT NULL DEFAULT '{}',
    metric_defs  TEXT NOT NULL DEFAULT '{}',
    tags         TEXT NOT NULL DEFAULT '[]',
    notes        TEXT,
    "group"      TEXT,
    job_type     TEXT,
    host         TEXT,
    pid          BIGINT,
    pid_started  DOUBLE PRECISION,
    last_step    BIGINT,
    metadata     TEXT NOT NULL DEFAULT '{}',
    CONSTRAINT runs_entity_project_id_key UNIQUE (entity, project, id)
);
CREATE INDEX runs_by_project ON runs (entity, project, created_at);
CREATE INDEX runs_by_parent ON runs (parent_uid);

CREATE TABLE segments (
    uid        TEXT NOT NULL REFERENCES runs(uid),
    ord        INTEGER NOT NULL,
    source_uid TEXT NOT NULL,
    epoch      BIGINT NOT NULL,
    first_step BIGINT NOT NULL,
    last_step  BIGINT,
    until_time DOUBLE PRECISION,
    PRIMARY KEY (uid, ord)
);

CREATE TABLE rewinds (
    uid        TEXT NOT NULL REFERENCES runs(uid),
    seq        INTEGER NOT NULL,
    at_step    BIGINT NOT NULL,
    from_epoch BIGINT NOT NULL,
    to_epoch   BIGINT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    archived   TEXT NOT NULL,
    PRIMARY KEY (uid, seq)
);

CREATE TABLE history (
    uid   TEXT NOT NULL,
    epoch BIGINT NOT NULL,
    step  BIGINT NOT NULL,
    ts    DOUBLE PRECISION NOT NULL,
    data  TEXT NOT NULL,
    PRIMARY KEY (uid, epoch, step)
);

CREATE TABLE system_samples (
    uid   TEXT NOT NULL,
    epoch BIGINT NOT NULL,
    ts    DOUBLE PRECISION NOT NULL,
    data  TEXT NOT NULL,
    PRIMARY KEY (uid, epoch, ts)
);

CREATE TABLE console_lines (
    uid    TEXT NOT NULL,
    epoch  BIGINT NOT NULL,
    seq    BIGINT NOT NULL,
    ts     DOUBLE PRECISION NOT NULL,
    step   BIGINT,
    stream TEXT NOT NULL,
    text   TEXT NOT NULL,
    PRIMARY KEY (uid, epoch, seq)
);
