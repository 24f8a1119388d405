-- runtree schema 6: history as columnar chunks (runtree.store.chunked). `history` stays as the open row tail;
-- its rows are sealed into chunks of runtree.domain.chunks.CHUNK_ROWS rows as it fills (and, for a store
-- written before this step, before step 7). Both tables lead with the run uid, so a backend can shard by run.
CREATE TABLE history_chunks (
    uid        TEXT NOT NULL,
    epoch      INTEGER NOT NULL,
    first_step INTEGER NOT NULL,
    last_step  INTEGER NOT NULL,
    n          INTEGER NOT NULL,
    implied    TEXT NOT NULL,
    keys       TEXT NOT NULL,
    steps      BLOB NOT NULL,
    times      BLOB NOT NULL,
    cum        TEXT NOT NULL,
    PRIMARY KEY (uid, epoch, first_step)
);

CREATE TABLE history_columns (
    uid        TEXT NOT NULL,
    epoch      INTEGER NOT NULL,
    key        TEXT NOT NULL,
    first_step INTEGER NOT NULL,
    agg        TEXT NOT NULL,
    data       BLOB NOT NULL,
    PRIMARY KEY (uid, epoch, key, first_step)
);
CREATE INDEX history_columns_by_chunk ON history_columns (uid, epoch, first_step)
