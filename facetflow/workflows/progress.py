"""Progress of a running study, read from its ``events.jsonl`` (so it works the same for
in-process runs and for batch jobs writing to a shared work directory)."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from rich.live import Live

from facetflow.workflows.events import read_events

log = logging.getLogger(__name__)


@dataclass
class Progress:
    total: int
    done: int = 0
    failed: int = 0
    running: int = 0
    elapsed: float = 0.0

    @property
    def remaining_s(self) -> float | None:
        """Estimated seconds left at the average pace so far (None before the first end)."""
        finished = self.done + self.failed
        if finished == 0 or self.total <= finished:
            return None if finished == 0 else 0.0
        return self.elapsed / finished * (self.total - finished)

    def line(self) -> str:
        eta = self.remaining_s
        left = "estimating" if eta is None else _clock(eta)
        return (f"{self.done + self.failed}/{self.total} calculations  done {self.done}  "
                f"running {self.running}  failed {self.failed}  elapsed "
                f"{_clock(self.elapsed)}  remaining {left}")


def _clock(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def progress_of(events_path: Path, total: int, since: float) -> Progress:
    """Progress since ``since`` of a run that had ``total`` calculations to do, plus those a
    second stage added (``expanded`` events: binding structures at theta*)."""
    started: set[str] = set()
    ended: dict[str, str] = {}
    for e in read_events(events_path):
        if e.get("t", 0) < since:
            continue
        if e["event"] == "expanded":
            total += e.get("added", 0)
        elif e["event"] == "start":
            started.add(e["hash"])
        elif e["event"] in ("done", "failed"):
            ended[e["hash"]] = e["event"]
    done = sum(v == "done" for v in ended.values())
    return Progress(total=total, done=done, failed=len(ended) - done,
                    running=len(started - set(ended)), elapsed=time.time() - since)


class ProgressDisplay:
    """A live line on the terminal (rich) while a run goes on; ``with`` starts/stops it."""

    def __init__(self, events_path: Path, total: int, since: float, console,
                 interval: float = 1.0) -> None:
        self.events_path, self.total, self.since = Path(events_path), total, since
        self.console, self.interval = console, interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> ProgressDisplay:
        if self.total:
            self._thread = threading.Thread(target=self._loop, daemon=True)
            self._thread.start()
        return self

    def _loop(self) -> None:
        with Live(console=self.console, refresh_per_second=2, transient=False) as live:
            while not self._stop.is_set():
                live.update(progress_of(self.events_path, self.total, self.since).line())
                self._stop.wait(self.interval)
            live.update(progress_of(self.events_path, self.total, self.since).line())

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


class ProgressLog(ProgressDisplay):
    """Progress where there is no terminal (CI, a batch job's output file): a log line each
    time another ``every`` calculations have finished (default: a tenth of the run), and one
    at the end."""

    def __init__(self, events_path: Path, total: int, since: float, every: int | None = None,
                 interval: float = 2.0) -> None:
        super().__init__(events_path, total, since, console=None, interval=interval)
        self.every = every or max(1, total // 10)

    def _loop(self) -> None:
        logged = 0
        while not self._stop.wait(self.interval):
            p = progress_of(self.events_path, self.total, self.since)
            finished = p.done + p.failed
            if finished - logged >= self.every:
                log.info("progress: %s", p.line())
                logged = finished
        p = progress_of(self.events_path, self.total, self.since)
        if p.done + p.failed > logged:
            log.info("progress: %s", p.line())
