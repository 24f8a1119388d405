-- runtree schema 6 (PostgreSQL): history as columnar chunks (runtree.store.chunked); mirrors sqlite/0006.
-- `history` stays as the open row tail. Column data is compressed already (zstd), so it is stored EXTERNAL
-- (out of line, not compressed again). Both tables lead their keys with uid: distribute them by uid.
CREATE TABLE history_chunks (
    uid        TEXT NOT NULL,
    epoch      BIGINT NOT NULL,
    first_step BIGINT NOT NULL,
    last_step  BIGINT NOT NULL,
    n          INTEGER NOT NULL,
    implied    TEXT NOT NULL,
    keys       TEXT NOT NULL,
    steps      BYTEA NOT NULL,
    times      BYTEA NOT NULL,
    cum        TEXT NOT NULL,
    PRIMARY KEY (uid, epoch, first_step)
);
ALTER TABLE history_chunks ALTER COLUMN steps SET STORAGE EXTERNAL, ALTER COLUMN times SET STORAGE EXTERNAL;

CREATE TABLE history_columns (
    uid        TEXT NOT NULL,
    epoch      BIGINT NOT NULL,
    key        TEXT NOT NULL,
    first_step BIGINT NOT NULL,
    agg        TEXT NOT NULL,
    data       BYTEA NOT NULL,
    PRIMARY KEY (uid, epoch, key, first_step)
);
ALTER TABLE history_columns ALTER COLUMN data SET STORAGE EXTERNAL;
CREATE INDEX history_columns_by_chunk ON history_columns (uid, epoch, first_step);
