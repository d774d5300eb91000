"""The ``facetflow`` command line: the only layer that prints, and the boundary where every
path a user gives is made absolute (nothing below depends on the current directory).

The analysis a run calls (theta* of a two-stage study, the report) is wired here, at the
top layer, into the workflow's typed hook (``_wire_analysis``), also for batch jobs, whose
command is the hidden ``facetflow launch``.

The module holds the whole command line (each command's options, help, checks and
printed output), hence its length (about 500 lines).

Exit codes (``EXIT_CODES``): 0 success; 1 an internal error, not the user's fault (one
line on stderr naming the log that holds the traceback); 2 invalid input, nothing
written; 3 the requested engine cannot run here (or could not be installed); 4 a
calculation failed; 5 the work directory is in use by another run.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from facetflow import __version__
from facetflow.errors import SpecError, StructureError
from facetflow.logs import configure, record_crash
from facetflow.workflows.hooks import AnalysisHooks, register_analysis
from facetflow.workflows.lock import WorkdirBusy
from facetflow.workflows.progress import ProgressDisplay, ProgressLog

if TYPE_CHECKING:
    from facetflow.workflows.workdir import Prepared

# Everything below the command line that pulls in ase, pymatgen, FireWorks, matplotlib or
# torch (seconds) is imported inside the command that needs it, so that
# ``facetflow --help`` and argument errors answer at once.

EXIT_INTERNAL = 1
EXIT_INVALID = 2
EXIT_ENGINE = 3
EXIT_CALC = 4
EXIT_BUSY = 5
EXIT_CODES = {0: "success", EXIT_INTERNAL: "internal error (the log named on stderr has "
              "the traceback)", EXIT_INVALID: "invalid input, nothing written",
              EXIT_ENGINE: "engine not available here", EXIT_CALC: "a calculation failed",
              EXIT_BUSY: "work directory in use by another run"}


def _help(text: str, *codes: int) -> str:
    """A command's help: ``text`` and the exit codes it can return (0 and 1 always)."""
    listed = "; ".join(f"{c} {EXIT_CODES[c]}" for c in sorted({0, EXIT_INTERNAL, *codes}))
    return f"{text}\n\nExit codes: {listed}."


app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help=_help("Quantum-dot facet energetics: slabs, ligand coverages, "
                             "interfacial and binding energies, growth anisotropy.",
                             *EXIT_CODES))
# Messages are never wrapped by the console (soft_wrap): a phrase stays on one line
# whatever the length of the paths in it, terminal or not.
err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)


@app.callback()
def _options(verbose: int = typer.Option(0, "--verbose", "-v", count=True,
                                         help="more detail on stderr (-vv: debug)"),
             quiet: bool = typer.Option(False, "--quiet", "-q",
                                        help="warnings and errors only")) -> None:
    configure(-1 if quiet else min(verbose, 1))


def _abs(path: Path | None) -> Path | None:
    """A path the user gave, made absolute against the current directory (once, here)."""
    return None if path is None else Path(path).expanduser().resolve()


def _abs_store(store: str | None) -> str | None:
    """A store argument: a database URL as given, a SQLite file path made absolute."""
    if store is None or "://" in store:
        return store
    return str(_abs(Path(store)))


def _load(study_path: Path):
    """The study at ``study_path`` (``SpecError`` if invalid)."""
    from facetflow.study import load_study  # ase (engine settings, materials)

    return load_study(study_path)


def _wire_analysis() -> None:
    """Register the analysis functions a workflow calls (``workflows.hooks``)."""
    from facetflow.analysis.report import write_report  # pandas, matplotlib
    from facetflow.analysis.summary import optimal_arrangements

    register_analysis(AnalysisHooks(optimal_arrangements=optimal_arrangements,
                                    write_report=write_report))


def _die(label: str, exc: Exception, code: int) -> NoReturn:
    """Print ``label: exc`` on stderr and exit with ``code``."""
    err.print(f"[bold red]{label}:[/] {exc}", highlight=False)
    raise typer.Exit(code) from None


def _fail(exc: Exception) -> None:
    err.print(f"[bold red]error:[/] {exc}", highlight=False)
    raise typer.Exit(EXIT_INVALID)


@app.command(help=_help("Check study files (spec and every structure each implies) "
                         "without writing anything; every file is checked, the exit code "
                         "is 2 if any is invalid.", EXIT_INVALID))
def validate(studies: list[Path] = typer.Argument(..., help="study YAML files")) -> None:
    from facetflow.structures.catalog import build_catalog  # ase, pymatgen

    invalid = 0
    for study in map(_abs, studies):
        try:
            spec = _load(study)
            records = build_catalog(spec, study.parent)
        except (SpecError, StructureError) as exc:
            where = "" if str(study) in str(exc) else f"{study}: "
            err.print(f"[bold red]error:[/] {where}{exc}", highlight=False)
            invalid += 1
            continue
        out.print(f"{study}: valid, {len(records)} structures", highlight=False)
    if invalid:
        raise typer.Exit(EXIT_INVALID)


@app.command(help=_help("Build every structure of a study: DIR/structures/*.extxyz, "
                         "DIR/pictures/*.png and DIR/manifest.json. Nothing is written if "
                         "the study is invalid.", EXIT_INVALID))
def build(study: Path = typer.Argument(..., help="study YAML file"),
          out_dir: Path = typer.Option(..., "--out", help="folder for structures and manifest"),
          pictures: bool = typer.Option(True, help="write a PNG picture of each structure"),
          ) -> None:
    _build(_abs(study), _abs(out_dir), pictures)


def _build(study: Path, out_dir: Path, pictures: bool) -> list:
    from facetflow.structures.catalog import build_catalog, deferred_binding  # ase, pymatgen
    from facetflow.structures.export import write_build

    t0 = time.perf_counter()
    try:
        spec = _load(study)
        records = build_catalog(spec, study.parent)
    except (SpecError, StructureError) as exc:
        _fail(exc)
    manifest = write_build(records, out_dir, pictures=pictures, study=spec.name)
    counts = Counter(str(r.record.role) for r in records)
    summary = ", ".join(f"{v} {k}" for k, v in counts.items())
    out.print(f"built {len(records)} structures ({summary}) in "
              f"{time.perf_counter() - t0:.1f} s -> {manifest}")
    if deferred_binding(spec):
        out.print("binding structures (one ligand removed; growth species in its place) are "
                  "built during the run, at the computed theta* of each facet and ligand")
    return records


@app.command(help=_help("Run a whole study: build the structures, calculate, analyse, "
                        "report. Calculations already in the results store are reused; a "
                        "killed run resumes. Each run logs to WORK/<study>/facetflow.log.",
                        EXIT_INVALID, EXIT_ENGINE, EXIT_BUSY))
def run(study: Path = typer.Argument(..., help="study YAML file"),
        work: Path = typer.Option(Path("work"), help="work directory root; the study runs "
                                  "in WORK/<study name>"),
        engine: str | None = typer.Option(None, help="override the study's engine"),
        store: str | None = typer.Option(None, help="results store: SQLite file or "
                                         "postgresql:// URL (default WORK/<study>/results.db)"),
        submit: Path | None = typer.Option(None, help="queue adapter YAML "
                                           "(cluster_configs/...): submit to a batch queue "
                                           "instead of running here"),
        launchpad: Path | None = typer.Option(None, help="LaunchPad YAML (MongoDB) for "
                                              "--submit; default: the work directory's "
                                              "file-backed LaunchPad"),
        pictures: bool = typer.Option(True, help="write PNG pictures of the structures"),
        progress: bool = typer.Option(True, help="show a live progress line"),
        retry_failed: bool = typer.Option(False, help="also run the calculations that "
                                          "failed twice in a row before (by default a "
                                          "run leaves them alone)"),
        ) -> None:
    study, work, store = _abs(study), _abs(work), _abs_store(store)
    submit, launchpad = _abs(submit), _abs(launchpad)
    if submit is not None:
        _submit(study, work, engine, store, submit, launchpad, retry_failed)
        return
    spec = _checked_spec(study, engine)
    _wire_analysis()
    from facetflow.engines.base import EngineUnavailable  # ase, pymatgen, FireWorks
    from facetflow.workflows.local import run_study

    shown: list[ProgressDisplay] = []
    try:
        summary = run_study(study, work, engine=engine, store=store, pictures=pictures,
                            spec=spec, on_start=_announcer(progress, shown),
                            retry_failed=retry_failed)
    except (SpecError, StructureError) as exc:
        _fail(exc)
    except WorkdirBusy as exc:
        _die("refused", exc, EXIT_BUSY)
    except EngineUnavailable as exc:
        _die("error", exc, EXIT_ENGINE)
    finally:
        for d in shown:
            d.__exit__(None, None, None)
    out.print(f"calculations: {summary.total} in the plan, {summary.run} run, "
              f"{summary.reused} reused, {summary.failed} failed; {summary.wall_time:.1f} s")
    for f in summary.failures:
        out.print(f"[yellow]failed[/] {f['key']}: {f['error']}", highlight=False)
    _headline(Path(summary.workdir))
    for f in summary.steps_failed:
        err.print(f"[red]step failed[/] {f['step']}: {f['error']} (traceback in "
                  f"{Path(summary.workdir) / 'facetflow.log'})", highlight=False)
    if summary.steps_failed:
        raise typer.Exit(EXIT_INTERNAL)


def _announcer(progress: bool, shown: list[ProgressDisplay]
               ) -> Callable[[Prepared, list[str]], None]:
    """What a run prints once its plan is known; with ``progress`` it starts a progress
    display (appended to ``shown``: the caller stops it)."""

    def on_start(prep: Prepared, pending: list[str]) -> None:
        nodes = len(prep.plan.nodes)
        done = sum(s.status == "done" for h, s in prep.store.all().items()
                   if h in prep.plan.nodes)
        left = nodes - len(pending) - done
        err.print(f"{prep.spec.name}: {nodes} calculations ({prep.plan.raw_count} before "
                  f"deduplication), {len(pending)} to run, {done} already in "
                  f"{prep.store!r}" + (f", {left} left alone after failing twice "
                                       "(--retry-failed runs them)" if left else ""))
        if prep.binding_later:
            err.print("binding structures follow at the computed theta* of each facet and "
                      "ligand (a second stage, counted when it starts)")
        if progress and pending:
            events = prep.workdir / "events.jsonl"
            display = (ProgressDisplay(events, len(pending), time.time(), err)
                       if err.is_terminal else ProgressLog(events, len(pending), time.time()))
            shown.append(display.__enter__())

    return on_start


def _checked_spec(study: Path, engine: str | None):
    """The study, checked to load and to name an engine that runs here."""
    from facetflow.engines import get_engine  # ase; an engine's code
    from facetflow.engines.base import EngineUnavailable
    from facetflow.records.calc import ENGINE_NAMES as ENGINES

    try:
        spec = _load(study)
    except SpecError as exc:
        _fail(exc)
    name = engine or spec.engine.name
    if name not in ENGINES:
        _fail(SpecError.single("--engine", "unknown engine", name, ENGINES))
    try:
        ok, why = get_engine(name).available()
    except EngineUnavailable as exc:
        ok, why = False, exc.reason
    if not ok:
        err.print(f"[bold red]error:[/] engine {name!r} cannot run here: {why}",
                  highlight=False)
        raise typer.Exit(EXIT_ENGINE)
    return spec


def _headline(workdir: Path) -> None:
    """Where the report is and what it says."""
    path = workdir / "report" / "summary.json"
    if not path.is_file():
        err.print(f"[yellow]no report in {workdir / 'report'}[/]")
        return
    s = json.loads(path.read_text())
    out.print(f"report: {workdir / 'report' / 'report.html'}")
    from facetflow.analysis import summary_view as sv  # plain dict readers, no plotting

    for label, f in s["facets"].items():
        for name, o in (f.get("optimum") or {}).items():
            if o:
                at = f"facets.{label}.optimum.{name}"
                g = "n/a" if o.get("value") is None else (
                    f"{o['value']:.1f}{sv.interval_text(s, at + '.value', 1)} meV/Å²")
                out.print(f"  {{{label}}} {name:16s} theta* = {o['theta']:.3f}"
                          f"{sv.interval_text(s, at + '.theta', 3)}  gamma* = {g}",
                          highlight=False)
        for b in f.get("binding", []):
            v = "n/a" if b["value"] is None else (
                f"{b['value']:+.2f}{sv.interval_text(s, sv.binding_path(label, b))} eV")
            out.print(f"  {{{label}}} E_b({b['species']}) at theta = {b['theta']:.3f}: {v}",
                      highlight=False)
    for how in sv.growth_references(s):
        out.print(f"  reference: {how}", highlight=False)
    for case, c in s["growth"]["cases"].items():
        if c.get("ranking"):
            rank = " > ".join("{" + k + "}" for k in c["ranking"])
            out.print(f"  growth {case}: {rank}; anisotropy index "
                      f"{c['anisotropy_index']:.3g}" + sv.interval_text(
                          s, f"growth.cases.{case}.anisotropy_index", ratio=True)
                      + _shape_text(c.get("shape")), highlight=False)
        else:
            out.print(f"  growth {case}: not computed ({c.get('note', '')})")
    for line in sv.uncertainty_lines(s):
        out.print(f"  {line}", highlight=False)
    _defects_headline(s)
    if s.get("starts"):
        st = s["starts"]
        kept = ("ML pre-relaxations each, final from the lowest"
                if st.get("stage") == "prerelax" else "starts each, lowest energy kept")
        out.print(f"  starts: {st['structures']} structures from {st['per_structure']} "
                  f"{kept}; another start than the usual one "
                  f"was lowest for {st['lowest_not_start_0']}; {_spread_text(st)}")
    if s.get("missing"):
        out.print(f"[yellow]{len(s['missing'])} structures missing[/] (see the report)")


def _spread_text(starts: dict) -> str:
    """The starts' spread in the headline, and how many starts were pruned."""
    spread = starts.get("spread_eV") or {}
    text = ("spread median {:.2f} eV, largest {:.2f} eV".format(spread["median"],
                                                                 spread["max"])
            if spread.get("median") is not None else "no structure with two full starts")
    if starts.get("pruned"):
        text += (f"; {starts['pruned']} starts stopped early, far above start 0 "
                 "(workflow.prune_starts)")
    return text


def _shape_text(shape: dict | None) -> str:
    """The kinetic Wulff shape in the headline: point group, and on hexagonal crystals
    the aspect ratio along c (> 1 rod, < 1 platelet)."""
    if not shape or shape.get("aspect_ratio_c") is None:
        return ""
    c = shape["aspect_ratio_c"]
    kind = "rod" if c > 1.05 else "platelet" if c < 0.95 else "isometric"
    return (f"; kinetic Wulff shape ({shape.get('point_group') or '?'}): {kind}, "
            f"aspect ratio along c {c:.2f}")


def _defects_headline(s: dict) -> None:
    """E_f of each defect at its most stable position per limit, and dE_f per ligand."""
    d = s.get("defects")
    if not d:
        return
    from facetflow.analysis.summary_view import (  # only when there are defects
        defect_bars,
        interval_text,
    )
    groups, series, chosen = defect_bars(s)
    names = {k: v.get("name") or k for k, v in d["limits"].items()}

    def num(v, fmt: str) -> str:
        return "n/a" if v is None else format(v, fmt)

    for facet, defect in groups:
        e = chosen.get((facet, defect, None)) or {}
        at = f"defects.entries.{e.get('structure')}.E_f"
        ef = ", ".join(f"{names[k]} {num(v, '.2f')}{interval_text(s, f'{at}.{k}')}"
                       for k, v in (e.get("E_f") or {}).items())
        dl = ", ".join(f"{lig} {num(chosen.get((facet, defect, lig), {}).get('dE_f'), '+.2f')}"
                       for lig in series if lig is not None)
        out.print(f"  {{{facet}}} E_f({defect}) = {ef} eV" + (f"; dE_f: {dl}" if dl else ""))


def _submit(study: Path, work: Path, engine: str | None, store: str | None, qadapter: Path,
            launchpad: Path | None, retry_failed: bool = False) -> None:
    """Queue ``study`` on a batch system."""
    spec = _checked_spec(study, engine)
    _wire_analysis()  # the queue's jobs wire it themselves; here for a second stage taken now
    from facetflow.workflows.queue import submit_study  # ase, pymatgen, FireWorks

    try:
        sub = submit_study(study, work, qadapter, launchpad, engine=engine, store=store,
                           spec=spec, retry_failed=retry_failed)
    except (SpecError, StructureError) as exc:
        _fail(exc)
    except WorkdirBusy as exc:
        _die("refused", exc, EXIT_BUSY)
    out.print(f"{sub.pending} of {sub.total} calculations queued on {sub.launchpad}; "
              f"jobs: {', '.join(sub.jobs) or 'none (nothing to run)'}")
    if sub.second_stage:
        out.print("then the binding structures at theta*: the jobs add and run them when "
                  "these are done")
    out.print(f"follow with: facetflow status {sub.workdir}")


@app.command(help=_help("Queue a whole study on a batch system (the same as run --submit "
                         "QADAPTER).", EXIT_INVALID, EXIT_ENGINE, EXIT_BUSY))
def submit(study: Path = typer.Argument(..., help="study YAML file"),
           qadapter: Path = typer.Option(..., help="queue adapter YAML, e.g. "
                                         "cluster_configs/slurm/my_qadapter.yaml"),
           work: Path = typer.Option(Path("work"), help="work directory root"),
           engine: str | None = typer.Option(None, help="override the study's engine"),
           store: str | None = typer.Option(None, help="results store (SQLite file or "
                                            "postgresql:// URL)"),
           launchpad: Path | None = typer.Option(None, help="LaunchPad YAML (MongoDB); "
                                                 "default: the work directory's file "
                                                 "store"),
           retry_failed: bool = typer.Option(False, help="also queue the calculations "
                                             "that failed twice in a row before"),
           ) -> None:
    _submit(_abs(study), _abs(work), engine, _abs_store(store), _abs(qadapter),
            _abs(launchpad), retry_failed)


@app.command(help=_help("Per-calculation state from the results store and the LaunchPad.",
                         EXIT_INVALID, EXIT_BUSY))
def status(workdir: Path = typer.Argument(..., help="work directory (WORK/<study name>)"),
           launchpad: Path | None = typer.Option(None, help="LaunchPad YAML (MongoDB); "
                                                 "default: the work directory's file store"),
           requeue_lost: bool = typer.Option(False, "--requeue-lost", help="put Fireworks "
                                             "whose job died back to READY"),
           expiration: int = typer.Option(3600, help="seconds without a ping before a "
                                          "running Firework counts as lost"),
           ) -> None:
    from facetflow.store import ResultStore, workdir_store_url  # ase.db, FireWorks
    from facetflow.workflows.queue import fireworks_states
    from facetflow.workflows.queue import requeue_lost as requeue

    workdir, launchpad = _abs(workdir), _abs(launchpad)
    plan = _plan_of(workdir)
    rows = ResultStore(workdir_store_url(workdir)).hashes()
    by_stage: dict[str, Counter] = {}
    for node in plan.nodes.values():
        state = rows.get(node.hash, "pending")
        by_stage.setdefault(f"{node.engine}/{node.purpose}", Counter())[state] += 1
    table = Table("calculations", "done", "failed", "pending")
    for k, c in sorted(by_stage.items()):
        table.add_row(k, str(c["done"]), str(c["failed"]), str(c["pending"]))
    out.print(table)
    if requeue_lost:
        try:
            lost = requeue(workdir, launchpad, expiration)
        except WorkdirBusy as exc:
            _die("refused", exc, EXIT_BUSY)
        out.print(f"requeued {len(lost)} lost Fireworks: {lost}")
    if launchpad is not None or (workdir / "fireworks" / "launchpad.json").is_file():
        states = fireworks_states(workdir, launchpad)
        out.print("fireworks: " + (", ".join(f"{k} {v}" for k, v in sorted(states.items()))
                                   or "none"))


def _plan_of(workdir: Path):
    """The plan of work directory ``workdir``; exit 2 when there is none or it was written
    by a facetflow that wrote another schema (a rerun rewrites it)."""
    from facetflow.records.plan import PlanVersionError, read_plan  # pydantic

    plan_file = workdir / "plan.json"
    if not plan_file.is_file():
        _fail(FileNotFoundError(f"{plan_file} not found: not a facetflow work directory"))
    try:
        return read_plan(plan_file)
    except PlanVersionError as exc:
        _fail(exc)


@app.command(help=_help("Rebuild WORKDIR/report from the results store alone (no "
                         "calculation is run).", EXIT_INVALID))
def report(workdir: Path = typer.Argument(..., help="work directory of a study "
                                          "(WORK/<study name>)"),
           figures: bool = typer.Option(True, help="draw the figures"),
           also: list[Path] = typer.Option(None, "--also", help="another work directory "
                                           "(e.g. a DFT check) whose paper comparison joins "
                                           "this report's; remembered for later reports")
           ) -> None:
    from facetflow.analysis.report import set_compared_runs, write_report  # matplotlib

    workdir, also = _abs(workdir), [_abs(o) for o in also or []]
    _plan_of(workdir)
    try:
        if also:
            missing = [str(o) for o in also if not (o / "plan.json").is_file()]
            if missing:
                raise FileNotFoundError(f"not a facetflow work directory: {', '.join(missing)}")
            set_compared_runs(workdir, also)
        path = write_report(workdir, figures=figures)
    except FileNotFoundError as exc:
        _fail(exc)
    out.print(f"wrote {path.parent}")
    _headline(workdir)


@app.command(help=_help("List every engine, whether it can run here, and why not; with "
                         "--install NAME, install that engine's code first (Debian packages "
                         "need root).", EXIT_ENGINE))
def engines(install: list[str] = typer.Option(None, "--install", metavar="NAME",
                                              help="install an engine's code (qe, cp2k, "
                                                   "gpaw); repeatable")) -> None:
    from facetflow.engines import engine_table  # ase; each engine's code
    from facetflow.engines.install import InstallError, install_engine

    if install:
        for name in install:
            try:
                steps = install_engine(name)
            except InstallError as exc:
                _die(f"cannot install {name}", exc, EXIT_ENGINE)
            out.print(f"{name}: " + ("; ".join(steps) if steps else "already installed"),
                      highlight=False)
    table = Table("engine", "usable", "details")
    for name, ok, why in engine_table():
        table.add_row(name, "yes" if ok else "no", why)
    out.print(table)


@app.command(help=_help("Run one calculation and print its result record.", EXIT_INVALID,
                         EXIT_ENGINE, EXIT_CALC))
def calc(structure: Path = typer.Argument(..., help="structure file (extxyz, POSCAR, ...)"),
         engine: str = typer.Option("mlip", help="engine name (see facetflow engines)"),
         relax: bool = typer.Option(False, "--relax", help="relax instead of single point"),
         fmax: float | None = typer.Option(None, help="force threshold, eV/Å"),
         purpose: str | None = typer.Option(None, help="preset: bulk, slab or molecule "
                                            "(default: guessed from the structure)"),
         as_json: bool = typer.Option(False, "--json", help="print the JSON result record"),
         ) -> None:
    from ase.io import read  # ase; the engine's code

    from facetflow.engines import get_engine
    from facetflow.engines.base import CalcError, EngineUnavailable
    from facetflow.engines.presets import purpose_of, settings_for

    structure = _abs(structure)
    try:
        atoms = read(structure)
    except Exception as exc:  # noqa: BLE001 - report any reader failure the same way
        _fail(SpecError.single("structure", f"cannot read: {exc}", str(structure)))
    try:
        eng = get_engine(engine)
        ok, why = eng.available()
        if not ok:
            raise EngineUnavailable(engine, why)
        settings = settings_for(engine, purpose or purpose_of(atoms),
                                {"fmax": fmax} if fmax is not None else None)
        result = eng.run(atoms, "relax" if relax else "single", settings)
    except EngineUnavailable as exc:
        _die("error", exc, EXIT_ENGINE)
    except CalcError as exc:
        _die("calculation failed", exc, EXIT_CALC)
    if as_json:
        print(json.dumps(result.to_dict(), default=float))
        return
    out.print(f"engine   {result.engine} ({result.provenance.get('model', '')})")
    out.print(f"task     {result.task}, converged: {result.converged}")
    out.print(f"energy   {result.energy:.6f} eV ({len(atoms)} atoms)")
    out.print(f"fmax     {result.fmax:.4f} eV/Å after {result.steps} steps, "
              f"{result.scf_cycles} SCF cycles, {result.wall_time:.1f} s")
    for w in result.warnings:
        out.print(f"[yellow]warning[/] {w}")


@app.command(hidden=True, help=_help("What a batch job runs: pull the study's Fireworks from "
                                     "the LaunchPad and run them until none is left.",
                                     EXIT_INVALID))
def launch(launchpad: Path | None = typer.Option(None, help="LaunchPad YAML (MongoDB); "
                                                 "default: the work directory's file store "
                                                 "named by MONGOMOCK_SERVERSTORE_FILE"),
           worker: str = typer.Option("facetflow-queue", help="FireWorks worker name"),
           ) -> None:
    _wire_analysis()
    from facetflow.workflows.launch import run_launches  # ase, FireWorks

    code = run_launches(_abs(launchpad), worker)
    if code:
        raise typer.Exit(code)


dataset_app = typer.Typer(no_args_is_help=True, help="DFT data sets made from results stores.")
app.add_typer(dataset_app, name="dataset")


def _workdirs(workdirs: list[Path]) -> list[Path]:
    """Work directories the user named, absolute; exit 2 naming any that is not one."""
    found = [_abs(w) for w in workdirs]
    missing = [str(w) for w in found if not (w / "plan.json").is_file()]
    if missing:
        _fail(FileNotFoundError("not a facetflow work directory (no plan.json): "
                                + ", ".join(missing)))
    return found


@dataset_app.command("export", help=_help(
    "Write DIR/frames.extxyz (every finished DFT calculation of the work directories: "
    "energy, forces, pseudo-H charges, provenance) and DIR/reactions.json (binding, "
    "exchange and defect energies and the bare surface energies of symmetric "
    "stoichiometric slabs as linear combinations of frame energies).", EXIT_INVALID))
def dataset_export(workdirs: list[Path] = typer.Argument(..., help="work directories "
                                                         "(WORK/<study name>)"),
                   out_dir: Path = typer.Option(..., "--out", help="folder for the data set"),
                   engine: list[str] = typer.Option(None, "--engine", help="engines whose "
                                                    "calculations are taken (default: every "
                                                    "DFT engine); repeatable")) -> None:
    from facetflow.analysis.dataset import DFT_ENGINES, DatasetError, export_dataset

    try:
        counts = export_dataset(_workdirs(workdirs), _abs(out_dir),
                                tuple(engine) if engine else DFT_ENGINES)
    except DatasetError as exc:
        _fail(exc)
    out.print(f"wrote {_abs(out_dir)}: {counts['frames']} frames from {counts['families']} "
              f"structure families, {counts['reactions']} reactions, {counts['surfaces']} "
              "bare surface energies", highlight=False)


@dataset_app.command("score", help=_help(
    "Evaluate an embedded ML model as single points at every frame of a data set (the "
    "DFT geometries) and write DATASET/scores/<model>.json: its energy of every frame "
    "and its value of every reaction. A study names the data set in "
    "analysis.calibration to calibrate its error bars with these ML - DFT residuals.",
    EXIT_INVALID, EXIT_ENGINE))
def dataset_score(dataset: Path = typer.Argument(..., help="data set folder (facetflow "
                                                 "dataset export --out)"),
                  model: str = typer.Option("chgnet", help="embedded model name or model "
                                            "file"),
                  device: str = typer.Option("cpu", help="cpu or cuda")) -> None:
    from facetflow.analysis.calibration import score_dataset
    from facetflow.engines.base import EngineUnavailable

    folder = _abs(dataset)
    if not (folder / "reactions.json").is_file():
        _fail(FileNotFoundError(f"not a data set (no reactions.json): {folder}"))
    try:
        got = score_dataset(folder, model, device)
    except EngineUnavailable as exc:
        _die("cannot score", exc, EXIT_ENGINE)
    out.print(f"{model}: {len(got['frames'])} frames, {len(got['reactions'])} reactions "
              f"in {got['wall_time_s']:.0f} s", highlight=False)


@app.command(help=_help(
    "Fine-tune an embedded ML potential on the DFT calculations of work directories "
    "(their results stores) or of exported data sets (facetflow dataset export, e.g. "
    "data/reference_set): composition energies refitted to the DFT code's scale, split by "
    "structure family, early stopping; writes the model (DIR/model.pth.tar for CHGNet, "
    "DIR/model.pth for SevenNet) and DIR/model_card.json. Use it with engine: {name: mlip, "
    "settings: {model: DIR/model.pth.tar}}.",
    EXIT_INVALID, EXIT_ENGINE))
def finetune(workdirs: list[Path] = typer.Argument(..., help="work directories with DFT "
                                                   "calculations, or data set folders "
                                                   "(frames.extxyz)"),
             model: str = typer.Option("chgnet", help="the model to fine-tune: chgnet, "
                                       "sevennet-0 or sevennet-l3i5"),
             out_dir: Path = typer.Option(..., "--out", help="folder for the model and card"),
             epochs: int = typer.Option(60, min=1, help="most epochs"),
             patience: int = typer.Option(8, min=1, help="epochs without a better "
                                          "validation energy before stopping"),
             learning_rate: float = typer.Option(3e-4, min=0.0, help="Adam learning rate"),
             val_fraction: float = typer.Option(0.2, min=0.0, max=0.9, help="share of the "
                                                "frames (whole families) held out"),
             seed: int = typer.Option(0, help="seed of the split and of the training"),
             layers: str = typer.Option("all", help="weights that train: all (but the "
                                        "composition energies) or readout (the final MLP)"),
             energy_weight: float = typer.Option(1.0, min=0.0, help="weight of the energy "
                                                 "(eV/atom) in the loss, forces 1")
             ) -> None:
    from facetflow.analysis.dataset import DFT_ENGINES, training_frames
    from facetflow.engines.base import EngineUnavailable
    from facetflow.engines.finetune import TRAINABLE, TrainSettings
    from facetflow.engines.finetune import finetune as train

    if layers not in TRAINABLE:
        _fail(ValueError(f"--layers {layers}: allowed: {', '.join(TRAINABLE)}"))
    sets = [p for p in map(_abs, workdirs) if (p / "frames.extxyz").is_file()]
    dirs = sets + _workdirs([p for p in map(_abs, workdirs) if p not in sets])
    frames = training_frames(dirs)
    if len(frames) < 2:
        _fail(ValueError(f"{len(frames)} DFT calculations ({', '.join(DFT_ENGINES)}) in "
                         f"{', '.join(map(str, dirs))}; fine-tuning needs at least two"))
    settings = TrainSettings(epochs=epochs, patience=patience, learning_rate=learning_rate,
                             val_fraction=val_fraction, seed=seed, layers=layers,
                             energy_weight=energy_weight)
    try:
        card = train(frames, _abs(out_dir), model, settings,
                     {"workdirs": [str(w) for w in dirs if w not in sets],
                      "datasets": [str(d) for d in sets], "engines": list(DFT_ENGINES)})
    except EngineUnavailable as exc:
        _die("cannot fine-tune", exc, EXIT_ENGINE)
    side = "val" if card.errors["stock_val"].frames else "train"
    before, after = card.errors[f"stock_{side}"], card.errors[f"finetuned_{side}"]
    out.print(f"wrote {_abs(out_dir) / card.file} (sha256 {card.sha256[:16]}...): "
              f"{card.epochs_run} epochs, best {card.best_epoch}; "
              f"{'validation' if side == 'val' else 'training'} energy MAE "
              f"{before.energy_mae_eV_atom:.4f} -> {after.energy_mae_eV_atom:.4f} eV/atom "
              f"(relative {before.relative_energy_mae_eV_atom:.4f} -> "
              f"{after.relative_energy_mae_eV_atom:.4f}), "
              f"force MAE {before.force_mae_eV_A:.3f} -> {after.force_mae_eV_A:.3f} eV/A; "
              f"{card.wall_time_s:.0f} s", highlight=False)


@app.command(help=_help("Print the facetflow version."))
def version() -> None:
    out.print(__version__)


def main() -> None:
    """The console entry point: a crash that is not the user's fault prints one line (what
    failed, where the log with the traceback is) and exits with 1."""
    configure()
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the last resort: one line, traceback to a log
        command = next((a for a in sys.argv[1:] if not a.startswith("-")), "")
        log = record_crash(exc, command)
        err.print(f"[bold red]internal error:[/] facetflow {command} failed: "
                  f"{type(exc).__name__}: {exc}. Full log: {log}", highlight=False)
        sys.exit(EXIT_INTERNAL)


if __name__ == "__main__":
    main()
