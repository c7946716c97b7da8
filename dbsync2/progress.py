"""Show load progress: a bar with counts and ETA on a terminal, periodic plain lines otherwise."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

BAR_WIDTH = 30
# A terminal bar is redrawn at most 5 times a second; plain lines (logs, CI) every 10 s so a long
# load leaves a readable trail without flooding the log.
TTY_INTERVAL_S = 0.2
PLAIN_INTERVAL_S = 10.0


def format_duration(seconds: float) -> str:
    """Return `seconds` as H:MM:SS (or M:SS under an hour)."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class ProgressDisplay:
    """Render `done` out of `total` units; the total may grow while the load runs."""

    def __init__(
        self,
        stream: TextIO,
        unit: str = "events",
        is_tty: bool | None = None,
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._unit = unit
        self._tty = stream.isatty() if is_tty is None else is_tty
        self._interval = (
            interval
            if interval is not None
            else (TTY_INTERVAL_S if self._tty else PLAIN_INTERVAL_S)
        )
        self._clock = clock
        self._started = clock()
        self._last_shown: float | None = None
        self._drew_bar = False

    def estimate_eta(self, done: int, total: int) -> float | None:
        """Return the seconds left at the average rate so far, or None before any progress."""
        elapsed = self._clock() - self._started
        if total <= done:
            return 0.0
        if done <= 0 or elapsed <= 0:
            return None
        return (total - done) * elapsed / done

    def render_line(self, done: int, total: int | None) -> str:
        """Return the text of one progress report (without a line ending)."""
        elapsed = format_duration(self._clock() - self._started)
        if not total:
            return f"{done} {self._unit} materialized, {elapsed} elapsed"
        shown = min(done, total)
        percent = 100.0 * shown / total
        eta = self.estimate_eta(shown, total)
        eta_text = "ETA --:--" if eta is None else f"ETA {format_duration(eta)}"
        if self._tty:
            filled = int(BAR_WIDTH * shown / total)
            bar = "#" * filled + "-" * (BAR_WIDTH - filled)
            return f"[{bar}] {shown}/{total} {self._unit} {percent:3.0f}% {eta_text}"
        counts = f"{shown}/{total} {self._unit} ({percent:.0f}%)"
        return f"progress: {counts}, {elapsed} elapsed, {eta_text}"

    def update(self, done: int, total: int | None, force: bool = False) -> bool:
        """Show progress if the display interval has passed (or `force`); return True if shown."""
        now = self._clock()
        if not force and self._last_shown is not None and now - self._last_shown < self._interval:
            return False
        self._last_shown = now
        line = self.render_line(done, total)
        if self._tty:
            self._stream.write("\r\x1b[K" + line)
            self._drew_bar = True
        else:
            self._stream.write(line + "\n")
        self._stream.flush()
        return True

    def finish(self, done: int, total: int | None) -> None:
        """Show the final state and end the bar's line."""
        self.update(done, total, force=True)
        if self._drew_bar:
            self._stream.write("\n")
            self._stream.flush()
            self._drew_bar = False
