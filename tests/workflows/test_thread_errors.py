"""A failure of FireWorks' ping thread during an in-process run goes to the run's log, not
to the console; any other thread's failure still reaches the previous hook."""

import logging
import threading

from facetflow.workflows.local import _ping_failure_to_log


def _args(name: str):
    try:
        raise ValueError("No Launch exists with launch_id=1")
    except ValueError as exc:
        return threading.ExceptHookArgs((type(exc), exc, exc.__traceback__,
                                         threading.Thread(name=name)))


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_ping_thread_failure_is_logged_other_failures_pass_through():
    seen, records = [], _Records()
    logger = logging.getLogger("facetflow.workflows.local")
    logger.addHandler(records)
    level, logger.level = logger.level, logging.DEBUG
    try:
        hook = _ping_failure_to_log(seen.append)
        hook(_args("Thread-2 (ping_launch)"))
        assert seen == [] and any("ping thread failed" in m for m in records.messages)
        hook(_args("Thread-3 (progress)"))
        assert len(seen) == 1
    finally:
        logger.removeHandler(records)
        logger.level = level
