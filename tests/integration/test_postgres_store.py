"""PostgreSQL-only behaviour of the team store: migrations, concurrent writers, races, connection errors."""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Iterator

import pytest

from runtree.domain import lineage
from runtree.domain.records import RunRecord
from runtree.errors import RunExists, StoreError
from runtree.store import migrations, open_store
from runtree.store.codec import dumps_row

try:
    import psycopg
    import psycopg_pool

    from runtree.store import postgres
except ImportError:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        raise
    pytest.skip("psycopg is not installed (pip install 'runtree[postgres]')", allow_module_level=True)


@pytest.fixture
def store(pg_url: str) -> Iterator[postgres.PostgresStore]:
    s = postgres.PostgresStore(pg_url)
    yield s
    s.close()


def _run(uid: str, run_id: str) -> RunRecord:
    return RunRecord(uid=uid, entity="e", project="p", id=run_id, name=run_id, created_at=1.0)


def _rows(first: int, last: int) -> list[tuple[int, float, dict[str, object]]]:
    return [(s, 100.0 + s, {"_step": s, "x": float(s), "n": math.nan if s % 7 == 0 else s}) for s in range(first, last + 1)]


def _in_threads(n: int, target: Callable[[int], None]) -> list[BaseException]:
    """Run target(0..n-1) in n threads released together; return what they raised."""
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def main(i: int) -> None:
        barrier.wait()
        try:
            target(i)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=main, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def _versions(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT version FROM runtree_schema_version ORDER BY version")]


def test_open_store_returns_a_postgres_store(pg_url: str) -> None:
    assert isinstance(open_store(pg_url), postgres.PostgresStore)
    assert _versions(pg_url) == [v for v, _, _ in migrations.load("postgres")]


def test_an_older_database_is_upgraded_with_its_data_kept(pg_url: str) -> None:
    steps = migrations.load("postgres")
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert postgres.migrate(conn, steps[:1], pg_url) == 1
        # Written as schema 1 saw it: opening a PostgresStore here would already apply the later steps.
        conn.execute(
            "INSERT INTO runs (uid, entity, project, id, name, state, created_at, updated_at, heartbeat_at)"
            " VALUES ('u1', 'e', 'p', 'a', 'a', 'running', 0, 0, 0)"
        )
        conn.execute("INSERT INTO segments (uid, ord, source_uid, epoch, first_step) VALUES ('u1', 0, 'u1', 0, 0)")
        for step, ts, row in _rows(0, 9):
            conn.execute("INSERT INTO history (uid, epoch, step, ts, data) VALUES ('u1', 0, %s, %s, %s)", (step, ts, dumps_row(row)))
    assert _versions(pg_url) == [1]

    s = postgres.PostgresStore(pg_url)  # the full code: applies every later step
    try:
        assert _versions(pg_url) == [v for v, _, _ in steps] and len(steps) >= 2
        assert s.get_run("u1").id == "a"
        assert [r["_step"] for r in s.read_rows(s.read_segments("u1"))] == list(range(10))
        s.put_file("u1", "diff.patch", b"+x\n")  # schema 2's run_files is there
        assert s.read_file("u1", "diff.patch") == b"+x\n"
    finally:
        s.close()


def test_each_step_applies_once_in_order_keeping_data(pg_url: str) -> None:
    steps = migrations.load("postgres")
    later = (steps[-1][0] + 1, "9999_later.sql", "ALTER TABLE runs ADD COLUMN later TEXT; CREATE INDEX runs_by_later ON runs (later);")
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert postgres.migrate(conn, steps, pg_url) == steps[-1][0]
        conn.execute(
            "INSERT INTO runs (uid, entity, project, id, name, state, created_at, updated_at, heartbeat_at)"
            " VALUES ('u1', 'e', 'p', 'a', 'a', 'running', 0, 0, 0)"
        )
        assert postgres.migrate(conn, [*steps, later], pg_url) == later[0]
        assert postgres.migrate(conn, [*steps, later], pg_url) == later[0]  # nothing left to do
        assert conn.execute("SELECT uid, later FROM runs").fetchall() == [("u1", None)]
    assert _versions(pg_url) == [v for v, _, _ in steps] + [later[0]]
    with pytest.raises(StoreError, match=f"has schema {later[0]}"):  # this code now meets a schema newer than it knows
        postgres.PostgresStore(pg_url)


def test_a_newer_schema_is_refused(pg_url: str) -> None:
    postgres.PostgresStore(pg_url).close()
    with psycopg.connect(pg_url) as conn:
        conn.execute("INSERT INTO runtree_schema_version (version, name) VALUES (999, '0999_future.sql')")
    with pytest.raises(StoreError, match="has schema 999, newer than this runtree knows"):
        postgres.PostgresStore(pg_url)


def test_processes_starting_at_once_migrate_once(pg_url: str) -> None:
    stores: list[postgres.PostgresStore] = []
    assert _in_threads(6, lambda _: stores.append(postgres.PostgresStore(pg_url))) == []
    for s in stores:
        s.close()
    assert _versions(pg_url) == [v for v, _, _ in migrations.load("postgres")]


def test_concurrent_appends_and_retried_batches_store_every_row_once(store: postgres.PostgresStore, pg_url: str) -> None:
    for i in range(8):
        store.create_run(_run(f"u{i}", f"r{i}"), lineage.new_run(f"u{i}"))

    def writer(i: int) -> None:
        rows = _rows(0, 5999)
        for first in range(0, 6000, 1000):
            batch = rows[first : first + 1000]
            store.append_rows(f"u{i}", 0, batch)
            store.append_rows(f"u{i}", 0, batch)  # a retry of a batch that did land
            store.append_rows(f"u{i % 4}", 0, rows[first : first + 1500])  # overlaps another thread's run

    assert _in_threads(8, writer) == []
    for i in range(8):  # every row once, whether in the open tail or sealed in a chunk
        assert [r["_step"] for r in store.read_rows(store.read_segments(f"u{i}"))] == list(range(6000))
    got = list(store.read_rows(store.read_segments("u3")))
    assert [r["_step"] for r in got] == list(range(6000))
    assert math.isnan(got[7]["n"]) and got[8]["n"] == 8


def test_only_one_of_two_racing_creates_wins(store: postgres.PostgresStore) -> None:
    for attempt in range(10):
        won: list[str] = []

        def create(i: int, attempt: int = attempt, won: list[str] = won) -> None:
            uid = f"u{attempt}-{i}"
            store.create_run(_run(uid, f"same{attempt}"), lineage.new_run(uid))
            won.append(uid)

        errors = _in_threads(2, create)
        assert len(won) == 1 and [type(e) for e in errors] == [RunExists]
        assert store.find_run("e", "p", f"same{attempt}").uid == won[0]
        assert store.read_segments(won[0]) == lineage.new_run(won[0])


def test_connection_failure_names_the_url_without_its_password() -> None:
    url = "postgresql://postgres:s3cret@127.0.0.1:1/test"
    with pytest.raises(StoreError, match=r"postgresql://postgres:\*\*\*@127\.0\.0\.1:1/test") as info:
        postgres.PostgresStore(url, connect_timeout=2)
    assert "s3cret" not in str(info.value)


def test_nul_in_console_output_does_not_lose_the_batch(store: postgres.PostgresStore) -> None:
    store.create_run(_run("u1", "a"), lineage.new_run("u1"))
    store.append_logs("u1", 0, [(0, 1.0, None, "stdout", "a\0b"), (1, 2.0, None, "stdout", "ok")])
    assert [t for _, _, _, t in store.read_logs(store.read_segments("u1"))] == ["a\ufffdb", "ok"]


def test_reads_page_through_long_histories(store: postgres.PostgresStore) -> None:
    n = postgres._CHUNK * 2 + 3
    store.create_run(_run("u1", "a"), lineage.new_run("u1"))
    store.append_rows("u1", 0, _rows(0, n - 1))
    store.append_system("u1", 0, [(float(t), {"cpu": t}) for t in range(n)])
    store.append_logs("u1", 0, [(i, float(i), i, "stdout", str(i)) for i in range(n)])
    segs = store.read_segments("u1")
    assert [r["_step"] for r in store.read_rows(segs)] == list(range(n))
    assert [v["cpu"] for _, v in store.read_system(segs)] == list(range(n))
    assert [t for _, _, _, t in store.read_logs(segs)] == [str(i) for i in range(n)]


def test_close_releases_every_connection(pg_url: str) -> None:
    s = postgres.PostgresStore(pg_url)
    _in_threads(4, lambda _: s.list_runs())
    s.close()
    with psycopg.connect(pg_url) as conn:
        (others,) = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    assert others == 0
    with pytest.raises(psycopg_pool.PoolClosed):
        s.list_runs()
