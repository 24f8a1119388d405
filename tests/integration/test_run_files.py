"""Run files and console-line numbering, as every Store backend keeps them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import runtree
from runtree.domain import lineage
from runtree.domain.records import RunRecord
from runtree.store.base import Store
from runtree.store.sqlite import SqliteStore


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s: Store
    if request.param == "postgres":
        from runtree.store.postgres import PostgresStore

        s = PostgresStore(request.getfixturevalue("pg_url"))
    else:
        s = SqliteStore(tmp_path / "files.db")
    s.create_run(RunRecord(uid="u1", entity="e", project="p", id="a", name="a", created_at=1.0), lineage.new_run("u1"))
    yield s
    s.close()


def test_files_are_stored_replaced_and_listed(store: Store) -> None:
    assert store.list_files("u1") == []
    blob = bytes(range(256)) * 1000
    store.put_file("u1", "diff.patch", b"old")
    store.put_file("u1", "diff.patch", b"+new line\n")
    store.put_file("u1", "blob.bin", blob)
    assert store.list_files("u1") == ["blob.bin", "diff.patch"]
    assert store.read_file("u1", "diff.patch") == b"+new line\n"
    assert store.read_file("u1", "blob.bin") == blob
    assert store.list_files("u2") == []


def test_a_missing_file_names_what_there_is(store: Store) -> None:
    store.put_file("u1", "diff.patch", b"x")
    with pytest.raises(runtree.NoSuchFile, match=r"no file 'nope.txt'; it has \['diff.patch'\]"):
        store.read_file("u1", "nope.txt")


def test_last_log_seq_per_epoch(store: Store) -> None:
    assert store.last_log_seq("u1", 0) is None
    store.append_logs("u1", 0, [(i, float(i), None, "stdout", str(i)) for i in range(5)])
    store.append_logs("u1", 1, [(0, 9.0, None, "stdout", "rewound")])
    assert store.last_log_seq("u1", 0) == 4
    assert store.last_log_seq("u1", 1) == 0
    assert store.last_log_seq("other", 0) is None
