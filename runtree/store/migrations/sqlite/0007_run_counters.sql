-- runtree schema 7: a per-project count of runs created, so a default run name needs no listing of the
-- project's runs. Applied once every history tail holding a whole chunk has been sealed (see step 6).
CREATE TABLE run_counters (
    entity  TEXT NOT NULL,
    project TEXT NOT NULL,
    runs    INTEGER NOT NULL,
    PRIMARY KEY (entity, project)
) WITHOUT ROWID;
INSERT INTO run_counters (entity, project, runs) SELECT entity, project, COUNT(*) FROM runs GROUP BY entity, project
