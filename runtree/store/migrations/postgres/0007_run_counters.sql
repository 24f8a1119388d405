-- runtree schema 7 (PostgreSQL): the per-project count of runs created; mirrors sqlite/0007.
CREATE TABLE run_counters (
    entity  TEXT NOT NULL,
    project TEXT NOT NULL,
    runs    BIGINT NOT NULL,
    PRIMARY KEY (entity, project)
);
INSERT INTO run_counters (entity, project, runs) SELECT entity, project, COUNT(*) FROM runs GROUP BY entity, project;
