"""Progress of long operations: a rich bar (rows, rows/s, ETA) on a terminal, plain lines otherwise; a throttle."""

from __future__ import annotations

import sys
import time
from typing import IO, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeRemainingColumn
from rich.text import Text


class RowsPerSecond(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} rows/s" if speed else "- rows/s", style="progress.data.speed")


class Reporter:
    """``with reporter.task("copy products", total) as advance: advance(n)``; quiet when ``enabled`` is False."""

    def __init__(self, *, enabled: bool = True, stream: IO[str] | None = None, interval: float = 2.0) -> None:
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.interval = interval
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def task(self, label: str, total: int | None, done: int = 0) -> _Task:
        return _Task(self, label, total, done)


class _Task:
    def __init__(self, reporter: Reporter, label: str, total: int | None, done: int) -> None:
        self.r = reporter
        self.label = label
        self.total = total
        self.done = done
        self.start_done = done
        self.started = time.monotonic()
        self.last_line = 0.0
        self.bar: Progress | None = None
        self.task_id: Any = None

    def __enter__(self) -> _Task:
        if self.r.enabled and self.r.tty:
            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), RowsPerSecond(),
                                TimeRemainingColumn(), console=Console(file=self.r.stream), transient=False)
            self.bar.start()
            self.task_id = self.bar.add_task(self.label, total=self.total, completed=self.done)
        return self

    def __call__(self, n: int) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(self.task_id, completed=self.done)
        elif self.r.enabled and time.monotonic() - self.last_line >= self.r.interval:
            self._line()

    def _line(self, final: bool = False) -> None:
        self.last_line = time.monotonic()
        elapsed = max(self.last_line - self.started, 1e-9)
        rate = (self.done - self.start_done) / elapsed
        parts = [f"{self.label}: {self.done:,}" + (f"/{self.total:,} rows" if self.total else " rows")]
        if self.total:
            parts.append(f"{100 * self.done / max(self.total, 1):.0f}%")
        parts.append(f"{rate:,.0f} rows/s")
        if not final and self.total and rate > 0:
            parts.append(f"ETA {max(self.total - self.done, 0) / rate:.0f}s")
        if final:
            parts.append(f"in {elapsed:.1f}s")
        print(", ".join(parts), file=self.r.stream, flush=True)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
        elif self.r.enabled:
            self._line(final=True)


class Throttle:
    """Keeps the average rate at or under ``rows_per_second`` (None or 0: no limit)."""

    def __init__(self, rows_per_second: float | None) -> None:
        self.rate = rows_per_second or 0
        self.started = time.monotonic()
        self.rows = 0

    def __call__(self, rows: int) -> None:
        if self.rate <= 0:
            return
        self.rows += rows
        ahead = self.started + self.rows / self.rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
