"""Running a whole study on this machine: the work directory, the plan, FireWorks in-process.

Work directory ``WORK/<study>/``::

    .lock              held while a run uses the directory (see ``lock``)
    structures/        extxyz + PNG pictures + manifest.json (see structures.export)
    plan.json          the plan (calculations, hashes, inputs, structure metadata)
    results.db         the results store (ase.db SQLite) unless a store URL is given
    events.jsonl       one line per calculation start/end (progress, audits)
    fireworks/         the file-backed LaunchPad, its logs and launch folders
    report/            written by the analysis step
    run.json           what the last run did: calculations total/run/reused/failed, time

Every run rebuilds the FireWorks state from the results store: calculations whose hash
has a checked ``done`` row are not submitted again (failed ones are retried), so an
unchanged study runs nothing and a killed run resumes where it stopped.

Two stages when binding structures wait for theta* (``binding.coverages: optimal``, see
``structures.catalog.build_catalog``): the first workflow computes everything else and
ends in an ``expand`` Firework that picks the arrangement at theta* of every facet and
ligand (``OPTIMUM_TASK``, named by its dotted path so this layer does not import the
analysis), rewrites the structures and plan with the binding structures added, and adds
the second workflow (those calculations, then the analysis) to the same LaunchPad. The
same happens on a batch queue. A rerun repeats the choice from the stored energies, so it
lands on the same structures and hashes.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from facetflow import __version__
from facetflow.findings import load_findings
from facetflow.jsonfile import write_json_atomic
from facetflow.logs import run_log
from facetflow.provenance import versions
from facetflow.store import ResultStore
from facetflow.structures.catalog import (
    build_catalog,
    context_dict,
    deferred_binding,
    resolve,
)
from facetflow.structures.export import write_build
from facetflow.study import Study, load_study
from facetflow.workflows.lock import WorkdirLock
from facetflow.workflows.plan import Plan, build_plan, read_plan
from facetflow.workflows.tasks import read_events

# theta* structures of a work directory: facet label -> ligand -> structure id
OPTIMUM_TASK = "facetflow.analysis.summary.optimal_arrangements"

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
    store_problems: list[dict] = field(default_factory=list)
    versions: dict = field(default_factory=dict)


@dataclass
class Prepared:
    spec: Study
    plan: Plan
    plan_path: Path
    workdir: Path
    store: ResultStore
    pending: list[str] | None = None  # known when prepare had to read the store anyway


def validated(study_path: Path) -> tuple[Study, list]:
    """The study and its structures, or ``SpecError``/``StructureError`` before anything is
    written."""
    spec = load_study(study_path)
    return spec, build_catalog(spec, Path(study_path).parent)


def prepare(study_path: Path, work_root: Path, engine: str | None = None,
            store_url: str | None = None, pictures: bool = True,
            checked: tuple[Study, list] | None = None,
            optimum: dict[str, dict[str, str]] | None = None,
            build_later_if_done: bool = False) -> Prepared:
    """Write the study's structures and plan (validated first unless ``checked`` holds
    the result of ``validated``; ``optimum``: the theta* arrangements, which add the
    deferred binding structures). ``build_later_if_done``: when every calculation of this
    plan is already done, leave ``structures/`` alone, because the caller writes the full
    build (with the second stage) at once (the rerun of a two-stage study writes it once,
    not twice). Call with the work directory locked."""
    if optimum is not None:  # the second stage: one build, with the binding structures
        spec = checked[0] if checked else load_study(study_path)
        records = build_catalog(spec, Path(study_path).parent, optimum)
    else:
        spec, records = checked or validated(study_path)
    workdir = Path(work_root).resolve() / spec.name
    plan = build_plan(spec, records, engine)
    context = context_dict(resolve(spec, Path(study_path).parent))
    context["engine"] = {"name": plan.engine, "settings": dict(
        spec.engine.settings if plan.engine == spec.engine.name else {})}
    if spec.analysis.compare_with:  # the findings travel with the run (checked at validation)
        found, _ = load_findings(spec.analysis.compare_with, Path(study_path).parent)
        context["compare_with"] = found.model_dump(mode="json") if found else None
    workdir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(workdir / "study.json", context)
    store = ResultStore(store_url or workdir / "results.db")
    pending = pending_calculations(plan, store) if build_later_if_done else None
    if pending is None or pending:  # else: the second stage writes the full build now
        write_build(records, workdir / "structures", pictures=pictures,
                    meta={"study": spec.name, "facetflow": __version__})
    plan_path = workdir / "plan.json"
    plan.write(plan_path)
    write_json_atomic(workdir / "store.json", {"url": store.url})
    return Prepared(spec, plan, plan_path, workdir, store, pending)


def pending_calculations(plan: Plan, store: ResultStore) -> list[str]:
    """Hashes of the plan without a checked ``done`` row, in plan order."""
    done = {h for h, s in store.all().items() if s.status == "done"}
    return [h for h in plan.order() if h not in done]


def run_study(study_path: Path, work_root: Path = Path("work"), engine: str | None = None,
              store_url: str | None = None, pictures: bool = True,
              final_task: Callable[[Path], tuple[str, list]] | None = None,
              on_start: Callable[[Prepared, list[str]], None] | None = None) -> RunSummary:
    """Run a whole study in this process on FireWorks' file-backed LaunchPad.

    ``final_task(workdir)`` gives the analysis step as (dotted function path, args);
    ``on_start(prepared, pending)`` is called once the plan is known (progress display).
    Raises ``WorkdirBusy`` if another run holds the work directory.
    """
    t0 = time.time()
    study_path, work_root = Path(study_path).resolve(), Path(work_root).resolve()
    checked = validated(study_path)  # nothing is written for an invalid study
    workdir = work_root / checked[0].name
    with WorkdirLock(workdir), run_log(workdir / "facetflow.log"):
        log.info("run of %s (%s) in %s, engine %s, facetflow %s", checked[0].name,
                 study_path, workdir, engine or checked[0].engine.name, __version__)
        log.debug("versions: %s", versions())
        prep = prepare(study_path, work_root, engine, store_url, pictures, checked,
                       build_later_if_done=deferred_binding(checked[0]))
        log.info("store %r; %d calculations in the plan", prep.store, len(prep.plan.nodes))
        task = final_task(workdir) if final_task else None
        prep, pending, params = stages(prep, study_path, engine, pictures, task)
        if on_start is not None:
            on_start(prep, pending)
        launch(prep, pending, task, params)
        if params is not None:  # the expand step rewrote the plan: read it again
            prep.plan = read_plan(prep.plan_path)
            for e in read_events(workdir / "events.jsonl"):
                if e["event"] == "expanded" and e.get("t", 0) >= t0:
                    pending = list(dict.fromkeys(pending + e["pending"]))
        summary = summarise(prep, pending, t0)
        write_json_atomic(workdir / "run.json", asdict(summary))
        log.info("finished: %d calculations run, %d reused, %d failed in %.1f s",
                 summary.run, summary.reused, summary.failed, summary.wall_time)
    return summary


def stages(prep: Prepared, study_path: Path, engine: str | None, pictures: bool,
           final_task: tuple[str, list] | None
           ) -> tuple[Prepared, list[str], dict | None]:
    """The calculations to run now and what the ``expand`` Firework needs to add the
    deferred second stage (None: no second stage, or it is taken now because the first
    has nothing left to compute: a rerun, or a run resumed after the first stage)."""
    pending = (prep.pending if prep.pending is not None
               else pending_calculations(prep.plan, prep.store))
    params = expansion(prep, study_path, engine, pictures, final_task)
    if params is not None and not pending:
        prep, pending = expand(params)
        params = None
    return prep, pending, params


def expansion(prep: Prepared, study_path: Path, engine: str | None, pictures: bool,
              final_task: tuple[str, list] | None) -> dict | None:
    """What the ``expand`` Firework needs to add a deferred second stage (None: no stage)."""
    if not deferred_binding(prep.spec):
        return None
    return {"study": str(Path(study_path).resolve()), "workdir": str(prep.workdir),
            "engine": engine, "store": prep.store.url, "pictures": pictures,
            "optimum_task": OPTIMUM_TASK, "final_task": list(final_task) if final_task else None,
            "batch_size": prep.spec.workflow.batch_size}


def expand(params: dict) -> tuple[Prepared, list[str]]:
    """The second stage: pick the theta* arrangements from the stored energies, rewrite the
    structures and plan with the binding structures added; returns them and the pending
    calculations (logged as an ``expanded`` event for progress displays)."""
    from facetflow.workflows.tasks import log_event

    workdir = Path(params["workdir"])
    optimum = call_dotted(params["optimum_task"], [workdir])
    first = set(read_plan(workdir / "plan.json").nodes)
    prep = prepare(Path(params["study"]), workdir.parent, params["engine"],
                   params["store"], params["pictures"], optimum=optimum)
    # only the second stage's own calculations: the first stage's failures were its to run
    pending = [h for h in pending_calculations(prep.plan, prep.store) if h not in first]
    log_event(workdir / "events.jsonl", event="expanded", added=len(pending), pending=pending,
              total=len(prep.plan.nodes), optimum=optimum)
    return prep, pending


def call_dotted(path: str, args: list):
    """Call the function at the dotted ``path`` (``package.module.function``) with ``args``,
    as FireWorks' ``PyTask`` does."""
    from importlib import import_module

    module, func = path.rsplit(".", 1)
    return getattr(import_module(module), func)(*args)


def launch(prep: Prepared, pending: list[str], final_task: tuple[str, list] | None,
           expand_params: dict | None = None) -> None:
    """Compile the pending calculations into a workflow and run it in-process (with
    nothing pending and no second stage to add, the final task is simply called)."""
    if not pending and expand_params is None:  # nothing to schedule (a rerun): no FireWorks
        if final_task is not None:
            call_dotted(*final_task)
        return
    from facetflow.workflows.fireworks import (
        compile_workflow,
        file_launchpad,
        flush,
        use_file_store,
    )

    use_file_store(prep.workdir / "fireworks" / "launchpad.json")
    wf = compile_workflow(prep.plan, pending, prep.plan_path, prep.store.url, prep.workdir,
                          batch_size=prep.spec.workflow.batch_size, final_task=final_task,
                          expand=expand_params)
    if wf is None:
        return
    fw_dir = prep.workdir / "fireworks"
    launches = fw_dir / "launches"
    shutil.rmtree(launches, ignore_errors=True)
    launches.mkdir(parents=True)
    (fw_dir / "logs").mkdir(exist_ok=True)
    lp = file_launchpad(fw_dir / "launchpad.json", fw_dir / "logs", reset=True)
    lp.add_wf(wf)
    flush(lp)
    from fireworks import FWorker
    from fireworks.core.rocket_launcher import rapidfire

    cwd = os.getcwd()
    try:
        rapidfire(lp, FWorker(name="facetflow-local"), m_dir=str(launches), nlaunches=0,
                  sleep_time=1, strm_lvl="CRITICAL")
    finally:
        os.chdir(cwd)
        flush(lp)


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
