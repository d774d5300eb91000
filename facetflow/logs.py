"""Logging: one logger tree, ``facetflow``, configured once by the command line.

Below the CLI every module logs with ``logging.getLogger(__name__)``; nothing prints. The
CLI sets the console level (``-q`` warnings only, default information, ``-v`` debug) and
every run adds a file handler on ``WORK/<study>/facetflow.log`` (``run_log``) that keeps
everything at debug level: what ran, where, with which engine and versions, each failed
calculation with its error, and the traceback of a crash.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = "facetflow"
WARNINGS = "py.warnings"  # the logger ``logging.captureWarnings`` sends warnings to
FILE_FORMAT = "%(asctime)s %(levelname)-7s %(name)s [pid %(process)d]: %(message)s"
_CONSOLE_TAG = "_facetflow_console"


class _ConsoleFormatter(logging.Formatter):
    """Information as the bare message; warnings and errors prefixed with their level."""

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if record.levelno >= logging.WARNING:
            text = f"{record.levelname.lower()}: {text}"
        return text


def configure(verbosity: int = 0, stream=None) -> logging.Logger:
    """Console logging for the ``facetflow`` tree: ``verbosity`` -1 warnings and errors
    only, 0 information, 1 or more debug. Replaces an earlier console handler, so it can be
    called again (tests call the CLI in one process many times)."""
    logger = logging.getLogger(ROOT)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    for h in [h for h in logger.handlers if getattr(h, _CONSOLE_TAG, False)]:
        logger.removeHandler(h)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setLevel(logging.WARNING if verbosity < 0
                     else logging.INFO if verbosity == 0 else logging.DEBUG)
    handler.setFormatter(_ConsoleFormatter())
    setattr(handler, _CONSOLE_TAG, True)
    logger.addHandler(handler)
    _capture_warnings()
    return logger


def _capture_warnings() -> None:
    """Python warnings (e.g. PyTorch's from inside CHGNet) go to the run's log file, not to
    the console: ``logging.captureWarnings`` routes them to the ``py.warnings`` logger,
    which gets the file handlers of ``run_log`` and nothing else."""
    logging.captureWarnings(True)
    warned = logging.getLogger(WARNINGS)
    warned.propagate = False
    if not warned.handlers:
        warned.addHandler(logging.NullHandler())


@contextmanager
def run_log(path: Path) -> Iterator[Path]:
    """Append everything the ``facetflow`` loggers say to ``path`` while the block runs.
    An exception leaving the block is written there with its traceback and carries the
    log's path (``log_of``), so the CLI can say where the full story is."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger(ROOT)
    if logger.level == logging.NOTSET or logger.level > logging.DEBUG:
        logger.setLevel(logging.DEBUG)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter(FILE_FORMAT))
    logger.addHandler(handler)
    logging.getLogger(WARNINGS).addHandler(handler)
    try:
        yield path
    except Exception as exc:
        if log_of(exc) is None:
            logger.debug("stopped by %s: %s", type(exc).__name__, exc, exc_info=True)
            exc.facetflow_log = str(path)  # type: ignore[attr-defined]
        raise
    finally:
        logger.removeHandler(handler)
        logging.getLogger(WARNINGS).removeHandler(handler)
        handler.close()


def log_of(exc: BaseException) -> Path | None:
    """The log file that holds ``exc``'s traceback, if a ``run_log`` block recorded it."""
    where = getattr(exc, "facetflow_log", None)
    return Path(where) if where else None


def user_log() -> Path:
    """The per-user log for crashes outside a run: ``$XDG_STATE_HOME/facetflow/facetflow.log``
    (default ``~/.local/state/facetflow/facetflow.log``)."""
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "facetflow" / "facetflow.log"


def record_crash(exc: BaseException, command: str) -> Path:
    """Write ``exc``'s traceback to the log that should hold it (the run's, if the crash
    happened inside a run, else ``user_log()``) and return that log's path."""
    path = log_of(exc)
    if path is not None:
        return path
    path = user_log()
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    with path.open("a", encoding="utf-8") as f:
        f.write(f"{stamp} ERROR   facetflow [pid {os.getpid()}]: facetflow {command} failed\n")
        f.write("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    return path
