"""Writing a study's work directory: structures, ``study.json``, ``plan.json``, and the
second stage that adds the binding structures at theta*.

Two stages when binding structures wait for theta* (``binding.coverages: optimal``, see
``structures.catalog.build_catalog``): the first computes everything else; ``expand``
then picks the arrangement at theta* of every facet and ligand from the stored energies
(the analysis hook, ``hooks.analysis().optimal_arrangements``), rewrites the structures
and plan with the binding structures added and returns the calculations to add. The
plan records the theta* its binding structures belong to (``Plan.optimum``), so a rerun
builds the structures once: at that theta*, which is checked against the stored
energies once the first stage is found complete; only a changed choice builds again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, Field

from facetflow.findings import load_findings
from facetflow.jsonfile import write_json_atomic
from facetflow.records.context import EngineChoice, read_context
from facetflow.records.plan import Optimum, Plan, PlanVersionError, read_plan, write_plan
from facetflow.records.structure import Role
from facetflow.records.study import Study
from facetflow.store import MAX_ATTEMPTS, ResultStore, failed_attempts
from facetflow.structures.built import BuiltStructure
from facetflow.structures.catalog import build_catalog, deferred_binding
from facetflow.structures.context import analysis_context, resolve
from facetflow.structures.export import write_build
from facetflow.study import load_study
from facetflow.workflows.events import log_event
from facetflow.workflows.hooks import analysis
from facetflow.workflows.plan import build_plan

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Checked:
    """A valid study and its structures (binding structures at ``optimum``, if given)."""

    spec: Study
    study_path: Path  # absolute; relative files of the study are found beside it
    structures: list[BuiltStructure]
    optimum: Optimum | None = None


class RunOptions(BaseModel):
    """How a study is run: what the command line may override."""

    engine: str | None = Field(None, description="engine of the final calculations "
                               "(None: the study's)")
    store: str | None = Field(None, description="results store URL or SQLite path (None: "
                              "WORKDIR/results.db)")
    pictures: bool = Field(True, description="draw a PNG picture of each structure")
    report: bool = Field(True, description="end the run with the report (analysis hook)")
    retry_failed: bool = Field(False, description="run again the calculations that failed "
                               "MAX_ATTEMPTS times before (by default a run leaves them "
                               "alone: an error that came back is most likely to again)")


class Expansion(BaseModel):
    """What the ``expand`` step needs to add the second stage (JSON: it travels in a
    Firework's spec to whichever process runs it)."""

    study: str = Field(description="absolute path of the study file")
    workdir: str = Field(description="absolute path of the work directory")
    options: RunOptions
    batch_size: int = Field(description="MLIP calculations per Firework")


@dataclass
class Prepared:
    """A written work directory: the study, its plan, the store and what is pending."""

    spec: Study
    plan: Plan
    workdir: Path
    store: ResultStore
    pending: list[str]  # hashes without a checked ``done`` row, in plan order

    @property
    def plan_path(self) -> Path:
        return self.workdir / "plan.json"

    @property
    def binding_later(self) -> bool:
        """Whether binding structures follow in a second stage (the plan lacks them)."""
        return deferred_binding(self.spec) and self.plan.optimum is None


def validated(study_path: Path, spec: Study | None = None,
              workdir: Path | None = None) -> Checked:
    """The study (``spec``: already loaded from ``study_path``) and its structures, or
    ``SpecError``/``StructureError`` before anything is written. With the work directory
    of an earlier run of a two-stage study, the binding structures are built at the
    theta* that run found (``previous_optimum``)."""
    study_path = Path(study_path).resolve()
    spec = spec or load_study(study_path)
    optimum = previous_optimum(workdir) if workdir and deferred_binding(spec) else None
    return Checked(spec, study_path, build_catalog(spec, study_path.parent, optimum), optimum)


def previous_optimum(workdir: Path) -> Optimum | None:
    """The theta* choice the plan in ``workdir`` was built for (None: none, or a plan
    this facetflow does not read)."""
    path = Path(workdir) / "plan.json"
    if not path.is_file():
        return None
    try:
        return read_plan(path).optimum
    except (PlanVersionError, ValueError):
        return None


def pending_calculations(plan: Plan, store: ResultStore, retry_failed: bool = False
                         ) -> list[str]:
    """Hashes of the plan without a checked ``done`` row, in plan order, less those that
    failed ``MAX_ATTEMPTS`` times in a row (unless ``retry_failed``): a deterministic
    failure (an optimizer out of steps, an SCF that does not converge) would cost the
    same time again on every run. A changed setting changes the hash, so it runs."""
    rows = store.all()
    given_up = [] if retry_failed else [
        h for h in plan.order() if h in rows and failed_attempts(rows[h]) >= MAX_ATTEMPTS]
    if given_up:
        log.warning("%d calculations failed %d times and are not tried again (facetflow "
                    "run --retry-failed tries them), e.g. %s: %s", len(given_up),
                    MAX_ATTEMPTS, plan.nodes[given_up[0]].key,
                    (rows[given_up[0]].error or "").splitlines()[0][:200])
    skip = set(given_up) | {h for h, s in rows.items() if s.status == "done"}
    return [h for h in plan.order() if h not in skip]


def write_workdir(checked: Checked, workdir: Path, options: RunOptions, build: bool = True,
                  optimum: Optimum | None = None) -> Prepared:
    """Write the study's context, plan and (``build``) structures into ``workdir`` (locked
    by the caller); ``optimum``: the theta* the plan's binding structures belong to."""
    spec = checked.spec
    plan = build_plan(spec, checked.structures, options.engine)
    plan.optimum = optimum
    workdir.mkdir(parents=True, exist_ok=True)
    _write_context(checked, workdir, plan.engine)
    store = ResultStore(options.store or workdir / "results.db")
    if build:
        _write_structures(checked, workdir, options)
    write_plan(plan, workdir / "plan.json")
    write_json_atomic(workdir / "store.json", {"url": store.url})
    return Prepared(spec, plan, workdir, store,
                    pending_calculations(plan, store, options.retry_failed))


def _write_structures(checked: Checked, workdir: Path, options: RunOptions) -> None:
    """``WORKDIR/structures``: the structures' files, pictures and manifest."""
    write_build(checked.structures, workdir / "structures", pictures=options.pictures,
                study=checked.spec.name)


def _write_context(checked: Checked, workdir: Path, engine: str) -> None:
    """``study.json``: the resolved study, the plan's engine and the findings to compare
    with (they travel with the run; checked at validation)."""
    spec = checked.spec
    found = None
    if spec.analysis.compare_with:
        found, _ = load_findings(spec.analysis.compare_with, checked.study_path.parent)
    choice = EngineChoice(name=engine, settings=dict(
        spec.engine.settings if engine == spec.engine.name else {}))
    analysis_context(resolve(spec, checked.study_path.parent), choice,
                     found.model_dump(mode="json") if found else None
                     ).write(workdir / "study.json")


def first_stage(checked: Checked, workdir: Path, options: RunOptions) -> Prepared:
    """Write the work directory for the calculations to run first. Without a second
    stage: every structure. With one: the structures without their binding structures
    (written only when some of their calculations are pending: otherwise ``expand``
    writes the full build at once); or, when the structures were built at an earlier
    run's theta* and the first stage is complete, all of them once theta* is confirmed
    (a changed theta* builds the first stage and then the second again)."""
    if not deferred_binding(checked.spec):
        return write_workdir(checked, workdir, options)
    if checked.optimum is not None:
        done = _rerun_at_previous_optimum(checked, workdir, options)
        if done is not None:
            return done
    first = Checked(checked.spec, checked.study_path,
                    build_catalog(checked.spec, checked.study_path.parent))  # binding waits
    prep = write_workdir(first, workdir, options, build=False)
    if prep.pending:
        _write_structures(first, workdir, options)
    return prep


def _rerun_at_previous_optimum(checked: Checked, workdir: Path, options: RunOptions
                               ) -> Prepared | None:
    """The work directory with every structure at the earlier run's theta*, when the
    first stage's calculations are all done and theta* computed from them is unchanged
    (None otherwise; the plan written here is then rewritten by the caller)."""
    prep = write_workdir(checked, workdir, options, build=False, optimum=checked.optimum)
    first_ids = [s.id for s in checked.structures if s.record.role != Role.BINDING]
    needed = _calculations_of(prep.plan, first_ids)
    if any(h in needed for h in prep.pending):
        return None
    if analysis().optimal_arrangements(workdir) != checked.optimum:
        log.info("theta* changed since the last run: binding structures are built again")
        return None
    _write_structures(checked, workdir, options)
    return prep


def _calculations_of(plan: Plan, structure_ids: list[str]) -> set[str]:
    """Hashes of the calculations that give the energies of ``structure_ids``, with every
    calculation they take input from."""
    found: set[str] = set()
    todo = [h for sid in structure_ids for h in (plan.records[sid].calc,
                                                  *plan.records[sid].starts,
                                                  *plan.records[sid].prerelax_starts)]
    while todo:
        h = todo.pop()
        if h not in found:
            found.add(h)
            todo += plan.nodes[h].inputs
    return found


def expansion(prep: Prepared, checked: Checked, options: RunOptions) -> Expansion | None:
    """What the ``expand`` step needs to add a deferred second stage (None: no second
    stage, or the plan already holds it)."""
    if not prep.binding_later:
        return None
    return Expansion(study=str(checked.study_path), workdir=str(prep.workdir),
                     options=options, batch_size=prep.spec.workflow.batch_size)


def expand(params: Expansion, checked: Checked | None = None) -> tuple[Prepared, list[str]]:
    """The second stage: pick the theta* arrangements from the stored energies, rewrite the
    structures and plan with the binding structures added; returns them and the pending
    calculations of the second stage (logged as an ``expanded`` event for progress
    displays). ``checked``: the study already validated in this process; otherwise the
    validated study the first stage wrote to ``study.json`` (an edit of the study file
    during the run does not reach its second stage)."""
    workdir = Path(params.workdir)
    optimum = analysis().optimal_arrangements(workdir)
    first = set(read_plan(workdir / "plan.json").nodes)
    # the study the first stage ran (study.json), not the file as it may be now
    spec = checked.spec if checked else read_context(workdir / "study.json").study
    full = Checked(spec, Path(params.study),
                   build_catalog(spec, Path(params.study).parent, optimum), optimum)
    prep = write_workdir(full, workdir, params.options, optimum=optimum)
    # only the second stage's own calculations: the first stage's failures were its to run
    pending = [h for h in prep.pending if h not in first]
    log_event(workdir / "events.jsonl", event="expanded", added=len(pending), pending=pending,
              total=len(prep.plan.nodes), optimum=optimum)
    return prep, pending


def stages(prep: Prepared, checked: Checked, options: RunOptions
           ) -> tuple[Prepared, list[str], Expansion | None]:
    """The calculations to run now and what the ``expand`` step needs to add the deferred
    second stage (None: no second stage, or it is taken now because the first has
    nothing left to compute: a run resumed after the first stage)."""
    params = expansion(prep, checked, options)
    if params is not None and not prep.pending:
        prep, pending = expand(params, checked)
        return prep, pending, None
    return prep, prep.pending, params
