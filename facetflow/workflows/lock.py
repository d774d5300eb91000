"""An exclusive lock on a work directory.

FireWorks' file-backed LaunchPad is one JSON file rewritten by the process that holds it,
so two processes must never use one work directory at once. ``WorkdirLock`` takes an
exclusive ``flock`` on ``DIR/.lock`` (released by the kernel when the holder dies, even
by ``kill -9``, so a killed run never leaves a stale lock) and records who holds it.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path


class WorkdirBusy(RuntimeError):
    """Another process holds the work directory."""


class WorkdirLock:
    """``with WorkdirLock(dir):`` holds ``dir`` exclusively; ``wait=False`` refuses at once
    (``WorkdirBusy``, naming the holder) instead of waiting."""

    def __init__(self, workdir: Path, wait: bool = False, purpose: str = "run") -> None:
        self.path = Path(workdir) / ".lock"
        self.wait, self.purpose = wait, purpose
        self._fd: int | None = None

    def holder(self) -> dict:
        try:
            return json.loads(self.path.read_text() or "{}")
        except (OSError, json.JSONDecodeError):
            return {}

    def __enter__(self) -> WorkdirLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if self.wait else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            h = self.holder()
            since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(h.get("since", 0)))
            raise WorkdirBusy(
                f"{self.path.parent} is in use by another facetflow {h.get('purpose', 'run')} "
                f"(pid {h.get('pid', '?')} on {h.get('host', '?')}, since {since}); wait for "
                "it to finish or stop it, then run again (finished calculations are kept)"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "since": time.time(), "purpose": self.purpose}).encode())
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
