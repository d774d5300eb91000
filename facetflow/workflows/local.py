"""Running a whole study on this machine: the work directory, the plan, FireWorks in-process.

Work directory ``WORK/<study>/``::

    .lock              held while a run uses the directory (see ``lock``)
    structures/        extxyz + PNG pictures + manifest.json (see structures.export)
    study.json         the resolved study for the analysis (records.context)
    plan.json          the plan (records.plan: calculations, hashes, inputs, structures)
    results.db         the results store (ase.db SQLite) unless a store URL is given
    events.jsonl       one line per calculation start/end (progress, audits)
    fireworks/         the file-backed LaunchPad, its logs and launch folders
    report/            written by the analysis step
    run.json           what the last run did: calculations total/run/reused/failed, time

Every run rebuilds the FireWorks state from the results store: calculations whose hash
has a checked ``done`` row are not submitted again (failed ones are retried, up to
``store.MAX_ATTEMPTS`` failures in a row unless ``retry_failed``), so an
unchanged study runs nothing and a killed run resumes where it stopped. A study whose
binding structures wait for theta* runs in two stages (``workdir``).
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from facetflow import __version__
from facetflow.jsonfile import write_json_atomic
from facetflow.logs import run_log
from facetflow.provenance import versions
from facetflow.records.plan import read_plan
from facetflow.records.study import Study
from facetflow.study import load_study
from facetflow.workflows.events import read_events
from facetflow.workflows.fireworks import compile_workflow, file_launchpad, flush, use_file_store
from facetflow.workflows.hooks import analysis
from facetflow.workflows.lock import WorkdirLock
from facetflow.workflows.workdir import (
    Expansion,
    Prepared,
    RunOptions,
    first_stage,
    stages,
    validated,
)

log = logging.getLogger(__name__)


@dataclass
class RunSummary:
    """What one run did (written to ``run.json``)."""

    study: str
    engine: str
    workdir: str
    store: str
    total: int  # calculations in the plan
    raw: int  # calculations before deduplication
    run: int = 0
    reused: int = 0
    failed: int = 0
    pending_before: int = 0
    wall_time: float = 0.0
    started: float = 0.0
    failures: list[dict] = field(default_factory=list)
    steps_failed: list[dict] = field(default_factory=list)  # fizzled Fireworks: name, error
    store_problems: list[dict] = field(default_factory=list)
    versions: dict = field(default_factory=dict)


def run_study(study_path: Path, work_root: Path = Path("work"), engine: str | None = None,
              store: str | None = None, pictures: bool = True, report: bool = True,
              spec: Study | None = None,
              on_start: Callable[[Prepared, list[str]], None] | None = None,
              retry_failed: bool = False) -> RunSummary:
    """Run a whole study in this process on FireWorks' file-backed LaunchPad.

    ``engine``, ``store``, ``pictures``, ``report``: see ``workdir.RunOptions`` (the
    report needs the analysis hook registered); ``spec``: the study already loaded from
    ``study_path``; ``on_start(prepared, pending)`` is called once the plan is known
    (progress display); ``retry_failed``: see ``RunOptions``. Raises ``WorkdirBusy`` if
    another run holds the work directory.
    """
    t0 = time.time()
    options = RunOptions(engine=engine, store=store, pictures=pictures, report=report,
                         retry_failed=retry_failed)
    study_path, work_root = Path(study_path).resolve(), Path(work_root).resolve()
    spec = spec or load_study(study_path)
    workdir = work_root / spec.name
    checked = validated(study_path, spec, workdir)  # nothing is written for an invalid study
    with WorkdirLock(workdir), run_log(workdir / "facetflow.log"):
        log.info("run of %s (%s) in %s, engine %s, facetflow %s", spec.name, study_path,
                 workdir, options.engine or spec.engine.name, __version__)
        log.debug("versions: %s", versions())
        prep = first_stage(checked, workdir, options)
        log.info("store %r; %d calculations in the plan", prep.store, len(prep.plan.nodes))
        prep, pending, params = stages(prep, checked, options)
        if on_start is not None:
            on_start(prep, pending)
        steps_failed = launch(prep, pending, options.report, params)
        if params is not None:  # the expand step rewrote the plan: read it again
            prep.plan = read_plan(prep.plan_path)
            for e in read_events(workdir / "events.jsonl"):
                if e["event"] == "expanded" and e.get("t", 0) >= t0:
                    pending = list(dict.fromkeys(pending + e["pending"]))
        summary = summarise(prep, pending, t0)
        summary.steps_failed = steps_failed
        write_json_atomic(workdir / "run.json", asdict(summary))
        log.info("finished: %d calculations run, %d reused, %d failed in %.1f s",
                 summary.run, summary.reused, summary.failed, summary.wall_time)
    return summary


def launch(prep: Prepared, pending: list[str], report: bool,
           expansion: Expansion | None = None) -> list[dict]:
    """Compile the pending calculations into a workflow and run it in-process (with
    nothing pending and no second stage to add, the report is simply written). Returns
    the steps that failed (a Firework that raised, e.g. the second stage or the report:
    its name and the error's last line)."""
    if not pending and expansion is None:  # nothing to schedule (a rerun): no FireWorks
        if report:
            analysis().write_report(prep.workdir)
        return []
    fw_dir = prep.workdir / "fireworks"
    use_file_store(fw_dir / "launchpad.json")
    wf = compile_workflow(prep.plan, pending, prep.workdir, prep.store.url,
                          batch_size=prep.spec.workflow.batch_size, report=report,
                          expansion=expansion)
    if wf is None:
        return []
    launches = fw_dir / "launches"
    shutil.rmtree(launches, ignore_errors=True)
    launches.mkdir(parents=True)
    (fw_dir / "logs").mkdir(exist_ok=True)
    lp = file_launchpad(fw_dir / "launchpad.json", fw_dir / "logs", reset=True)
    lp.add_wf(wf)
    flush(lp)
    _rapidfire(lp, launches)
    return fizzled(lp)


def fizzled(lp) -> list[dict]:
    """The Fireworks of ``lp`` that raised: name and the last line of the error (the
    whole traceback is in the run's log)."""
    out = []
    for fw_id in lp.get_fw_ids({"state": "FIZZLED"}):
        fw = lp.get_fw_by_id(fw_id)
        launch = fw.launches[-1] if fw.launches else None
        trace = ((launch.action.stored_data or {}).get("_exception") or {}).get(
            "_stacktrace", "") if launch and launch.action else ""
        lines = [line for line in str(trace).strip().splitlines() if line.strip()]
        log.error("step %s failed:\n%s", fw.name, trace)
        out.append({"step": fw.name, "error": lines[-1] if lines else "unknown error"})
    return out


def _rapidfire(lp, launches: Path) -> None:
    """Run every Firework of ``lp`` in this process, each in a folder under ``launches``."""
    from fireworks import FWorker  # only after use_file_store (see workflows.fireworks)
    from fireworks.core.rocket_launcher import rapidfire

    cwd, hook = os.getcwd(), threading.excepthook
    threading.excepthook = _ping_failure_to_log(hook)
    try:
        rapidfire(lp, FWorker(name="facetflow-local"), m_dir=str(launches), nlaunches=0,
                  sleep_time=1, strm_lvl="CRITICAL")
    finally:
        threading.excepthook = hook
        os.chdir(cwd)
        flush(lp)


def _ping_failure_to_log(previous):
    """A thread exception hook: a failure of FireWorks' ``ping_launch`` thread goes to the
    run's log, others to ``previous``. On the file-backed LaunchPad the ping can run
    before its launch is visible ("No Launch exists"); the ping only serves lost-run
    detection on batch queues, and the Firework itself goes on."""
    def hook(args) -> None:
        if args.thread is not None and "ping_launch" in args.thread.name:
            log.debug("FireWorks ping thread failed: %s", args.exc_value,
                      exc_info=(args.exc_type, args.exc_value, args.exc_traceback))
            return
        previous(args)
    return hook


def summarise(prep: Prepared, pending: list[str], t0: float) -> RunSummary:
    events = [e for e in read_events(prep.workdir / "events.jsonl")
              if e.get("t", 0) >= t0 and e.get("pid") == os.getpid()]
    failures = [{"key": e["key"], "error": e.get("error", "")} for e in events
                if e["event"] == "failed"]
    return RunSummary(
        study=prep.spec.name, engine=prep.plan.engine, workdir=str(prep.workdir),
        store=repr(prep.store), total=len(prep.plan.nodes), raw=prep.plan.raw_count,
        run=sum(e["event"] == "done" for e in events), failed=len(failures),
        reused=len(prep.plan.nodes) - len(pending), pending_before=len(pending),
        wall_time=time.time() - t0, started=t0, failures=failures,
        store_problems=[asdict(p) for p in prep.store.problems], versions=versions())
