"""Progress display: a bar with counts and ETA on a terminal, throttled plain lines otherwise."""

from __future__ import annotations

import io

from dbsync2.progress import ProgressDisplay, format_duration


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_terminal_bar_shows_counts_percent_and_eta() -> None:
    clock, out = FakeClock(), io.StringIO()
    display = ProgressDisplay(out, is_tty=True, clock=clock)
    clock.now += 10.0
    assert display.update(250, 1000)
    text = out.getvalue()
    assert text.startswith("\r\x1b[K[#######")
    assert "250/1000 events  25%" in text
    assert "ETA 0:30" in text  # 250 in 10 s -> 750 more take 30 s
    display.finish(1000, 1000)
    assert out.getvalue().endswith("1000/1000 events 100% ETA 0:00\n")


def test_plain_lines_are_throttled_to_the_interval() -> None:
    clock, out = FakeClock(), io.StringIO()
    display = ProgressDisplay(out, is_tty=False, interval=10.0, clock=clock)
    assert display.update(1, 10)
    clock.now += 5.0
    assert not display.update(2, 10)
    clock.now += 5.0
    assert display.update(5, 10)
    lines = out.getvalue().splitlines()
    assert lines == [
        "progress: 1/10 events (10%), 0:00 elapsed, ETA --:--",
        "progress: 5/10 events (50%), 0:10 elapsed, ETA 0:10",
    ]
    assert "\r" not in out.getvalue()


def test_unknown_total_and_no_progress_yet() -> None:
    clock, out = FakeClock(), io.StringIO()
    display = ProgressDisplay(out, is_tty=False, clock=clock)
    display.update(0, None)
    display.update(0, 50, force=True)
    assert out.getvalue().splitlines() == [
        "0 events materialized, 0:00 elapsed",
        "progress: 0/50 events (0%), 0:00 elapsed, ETA --:--",
    ]


def test_format_duration() -> None:
    assert [format_duration(s) for s in (0, 59.6, 61, 3600, 3725)] == [
        "0:00", "1:00", "1:01", "1:00:00", "1:02:05",
    ]  # fmt: skip
