"""``WORKDIR/events.jsonl``: one JSON object a line for every calculation's start and end
(``start``, ``done``, ``failed``, ``reused``) and every second stage added
(``expanded``), each with its time ``t`` (Unix seconds) and process id ``pid``. Progress
displays, run summaries and the tests read it; it works the same for in-process runs and
for batch jobs writing to a shared work directory.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path


def log_event(events: Path | None, **fields) -> None:
    """Append one event line (a single write of a short line on an O_APPEND file, so lines
    from several processes do not interleave)."""
    if events is None:
        return
    line = json.dumps({"t": time.time(), "pid": os.getpid(), **fields}) + "\n"
    fd = os.open(events, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def read_events(events: Path) -> list[dict]:
    if not Path(events).is_file():
        return []
    out = []
    for line in Path(events).read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut by a kill
            continue
    return out
