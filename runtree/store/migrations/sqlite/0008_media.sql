-- runtree schema 8: media files referenced from history rows (their bytes are blobs, stored once by sha256).
CREATE TABLE media (
    uid    TEXT NOT NULL,
    epoch  INTEGER NOT NULL,
    step   INTEGER NOT NULL,
    key    TEXT NOT NULL,
    path   TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size   INTEGER NOT NULL,
    type   TEXT NOT NULL,
    PRIMARY KEY (uid, epoch, path)
) WITHOUT ROWID;
CREATE INDEX media_by_step ON media (uid, epoch, step);
CREATE INDEX media_by_sha256 ON media (uid, epoch, sha256);
