"""Writing JSON files atomically: a reader sees the old file or the new one, never half."""

from __future__ import annotations

import json
import os
from pathlib import Path


def write_json_atomic(path: Path, payload: dict, indent: int | None = 1) -> None:
    """Write ``payload`` to ``path`` through a temporary file in the same folder, renamed
    over ``path`` (numpy scalars are written as floats)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(payload, indent=indent, default=float))
    os.replace(tmp, path)
