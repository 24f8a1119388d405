-- runtree schema 5: the runs still `running`, which a server's reaper visits every few seconds, by an index
-- that holds only them (its size follows the live runs, not every run ever logged).
CREATE INDEX IF NOT EXISTS runs_running ON runs (heartbeat_at) WHERE state = 'running'
