from runtree.domain import lineage
from runtree.domain.records import Segment


def test_new_run_is_one_open_segment() -> None:
    assert lineage.new_run("a") == [Segment("a", 0, 0)]


def test_fork_clips_parent_and_opens_child() -> None:
    segs = lineage.fork(lineage.new_run("p"), 200, "c", 12.5)
    assert segs == [Segment("p", 0, 0, 200, 12.5), Segment("c", 0, 201)]


def test_fork_of_fork_keeps_grandparent_cut() -> None:
    child = lineage.fork(lineage.new_run("p"), 200, "c", 10.0)
    grand = lineage.fork(child, 250, "g", 20.0)
    assert grand == [Segment("p", 0, 0, 200, 10.0), Segment("c", 0, 201, 250, 20.0), Segment("g", 0, 251)]


def test_fork_of_fork_before_the_first_fork_point_drops_the_child() -> None:
    child = lineage.fork(lineage.new_run("p"), 200, "c", 10.0)
    grand = lineage.fork(child, 100, "g", 5.0)
    assert grand == [Segment("p", 0, 0, 100, 5.0), Segment("g", 0, 101)]


def test_rewind_archives_own_tail_and_starts_new_epoch() -> None:
    segs, archived = lineage.rewind(lineage.new_run("r"), "r", 150, 1, 3.0)
    assert segs == [Segment("r", 0, 0, 150, 3.0), Segment("r", 1, 151)]
    assert archived == [Segment("r", 0, 151, None, None)]


def test_rewind_of_fork_below_fork_point_archives_only_own_rows() -> None:
    child = lineage.fork(lineage.new_run("p"), 200, "c", 10.0)
    segs, archived = lineage.rewind(child, "c", 150, 1, 4.0)
    assert segs == [Segment("p", 0, 0, 150, 4.0), Segment("c", 1, 151)]
    assert archived == [Segment("c", 0, 201, None, None)]


def test_rewind_twice() -> None:
    s1, _ = lineage.rewind(lineage.new_run("r"), "r", 150, 1, 3.0)
    s2, archived = lineage.rewind(s1, "r", 100, 2, 2.0)
    assert s2 == [Segment("r", 0, 0, 100, 2.0), Segment("r", 2, 101)]
    assert archived == [Segment("r", 0, 101, 150, 3.0), Segment("r", 1, 151, None, None)]


def test_clip_keeps_an_earlier_time_cut() -> None:
    segs = lineage.clip([Segment("p", 0, 0, 200, 5.0)], 300, 9.0)
    assert segs == [Segment("p", 0, 0, 200, 5.0)]


def test_segment_for_and_ancestors() -> None:
    segs = lineage.fork(lineage.fork(lineage.new_run("p"), 10, "c", 1.0), 20, "g", 2.0)
    found = lineage.segment_for(segs, 15)
    assert found is not None and found.source_uid == "c"
    assert lineage.segment_for(segs, 5) == Segment("p", 0, 0, 10, 1.0)
    assert lineage.ancestors(segs, "g") == ["p", "c"]
