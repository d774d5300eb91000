"""What a batch job runs: pulling Fireworks from a LaunchPad until none is left.

A job's command is ``facetflow launch [--launchpad FILE]`` (``python -m facetflow.cli
launch``), which registers the analysis hook (``workflows.hooks``: the report and the
theta* step run in the job) and calls ``run_launches``. With a MongoDB LaunchPad
(``--launchpad my_launchpad.yaml``) it is FireWorks' ``rlaunch rapidfire``, so one
allocation runs many calculations. Without one it uses the work directory's file-backed
LaunchPad, whose path must come in the job's environment as ``MONGOMOCK_SERVERSTORE_FILE``
(``sbatch`` exports the submitting environment by default); jobs then take the work
directory's lock one after another (waiting for it), since that store cannot have two
writers.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from facetflow.logs import run_log
from facetflow.workflows.fireworks import STORE_ENV, file_launchpad, flush
from facetflow.workflows.lock import WorkdirLock

log = logging.getLogger(__name__)


def workdir_of(store_file: Path) -> Path:
    """The work directory of a file-backed LaunchPad (WORKDIR/fireworks/launchpad.json)."""
    return Path(store_file).resolve().parent.parent


def run_launches(launchpad_file: Path | None = None, worker: str = "facetflow-queue") -> int:
    """Pull and run Fireworks until none is left; the exit status (2: no LaunchPad)."""
    from fireworks import FWorker, LaunchPad  # after the store is chosen (workflows.fireworks)
    from fireworks.core.rocket_launcher import rapidfire

    if launchpad_file is not None:
        lp = LaunchPad.from_file(str(launchpad_file))
        rapidfire(lp, FWorker(name=worker), nlaunches=0, sleep_time=5, strm_lvl="INFO")
        return 0
    store = os.environ.get(STORE_ENV)
    if not store:
        log.error("no LaunchPad: pass --launchpad my_launchpad.yaml, or set %s to the work "
                  "directory's fireworks/launchpad.json", STORE_ENV)
        return 2
    workdir = workdir_of(Path(store))
    with WorkdirLock(workdir, wait=True, purpose="queue job"), \
            run_log(workdir / "facetflow.log"):
        log.info("queue job %s on %s pulling calculations of %s", worker, os.uname().nodename,
                 workdir)
        lp = file_launchpad(Path(store), workdir / "fireworks" / "logs")
        launches = workdir / "fireworks" / "launches"
        launches.mkdir(parents=True, exist_ok=True)
        try:
            rapidfire(lp, FWorker(name=worker), m_dir=str(launches), nlaunches=0,
                      sleep_time=1, strm_lvl="INFO")
        finally:
            flush(lp)
    return 0
