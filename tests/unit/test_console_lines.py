"""Console line splitting: newlines end lines, a carriage return rewrites the line, unfinished lines wait."""

from __future__ import annotations

import io
import sys

import pytest

from runtree.sdk import console
from runtree.sdk.console import ConsoleCapture, LineSplitter, collapse


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain", "plain"),
        ("", ""),
        ("10%\r20%\r30%", "30%"),
        ("\r 50%|#####     |   \r100%|##########|", "100%|##########|"),
        ("long line\rshort   ", "short"),  # bars pad with spaces to blank out a longer state
        ("crlf\r", "crlf"),  # "\r\n" ends a line
        ("a\rb\r", "b"),
        ("  indented  ", "  indented  "),  # without a carriage return the text is kept as written
    ],
)
def test_collapse(raw: str, shown: str) -> None:
    assert collapse(raw) == shown


def test_lines_across_writes_in_order() -> None:
    s = LineSplitter()
    assert s.feed("he") == []
    assert s.feed("llo\nwor") == ["hello"]
    assert s.feed("ld\n\nlast") == ["world", ""]
    assert s.pending() == "last"
    assert s.feed("\n") == ["last"]
    assert s.pending() is None


def test_progress_bar_keeps_only_its_final_state() -> None:
    s = LineSplitter()
    out: list[str] = []
    for pct in range(0, 101, 10):
        out += s.feed(f"\r{pct:3d}%|bar|")
    assert out == []
    assert s.pending() == "100%|bar|"
    assert s.feed("\n") == ["100%|bar|"]


def test_an_open_bar_does_not_grow_the_buffer() -> None:
    s = LineSplitter()
    for i in range(100_000):
        s.feed(f"\r{i}/100000")
    assert s.pending() == "99999/100000"
    assert len(s._buf) < 32


def test_crlf_split_between_writes() -> None:
    s = LineSplitter()
    assert s.feed("x\rdone\r") == []
    assert s.feed("\nnext\r\n") == ["done", "next"]


def test_cleared_bar_pending_is_nothing() -> None:
    s = LineSplitter()
    s.feed("\r 40%|####      |")
    s.feed("\r" + " " * 20 + "\r")  # tqdm(leave=False) blanks its line when it closes
    assert s.pending() is None
    assert s.feed("after\n") == ["after"]


def test_a_line_without_end_is_stored_in_pieces() -> None:
    s = LineSplitter()
    out = s.feed("y" * (64 * 1024 * 2 + 5))
    assert out == ["y" * 64 * 1024, "y" * 64 * 1024]
    assert s.pending() == "y" * 5


def test_clear_drops_the_unfinished_line() -> None:
    s = LineSplitter()
    s.feed("half")
    s.clear()
    assert s.pending() is None
    assert s.feed("x\n") == ["x"]


def test_an_unfinished_line_is_sent_under_the_seq_its_final_state_replaces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console, "LIVE_INTERVAL", 0.0)  # every state is sent: no clock in the test
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    got: list[tuple[int, str, str, bool]] = []
    capture = ConsoleCapture(lambda seq, ts, step, stream, text, live: got.append((seq, stream, text, live)), lambda: None)
    capture.start()
    print("before")
    sys.stdout.write("\rwork 1/3")  # print("before") sent nothing live: its text came before its newline, no redraw
    sys.stdout.write("\rwork 3/3  \n")
    print("after")
    sys.stdout.write("\rgone 1/2")
    sys.stdout.write("\r        \r")  # a leave=False bar blanks itself and never ends its line
    capture.stop()
    assert got == [
        (0, "stdout", "before", False),
        (1, "stdout", "work 1/3", True),
        (1, "stdout", "work 3/3", True),  # the final state, as it is stored without live sends
        (2, "stdout", "after", False),
        (3, "stdout", "gone 1/2", True),
        (3, "stdout", "", True),  # at stop: the state shown no longer stays
    ]
