"""``WORKDIR/report/``: summary.json, CSV tables, figures and report.html, from the store.

``write_report(workdir)`` is the analysis step at the end of every run and what
``facetflow report WORKDIR`` calls; it reads only the work directory's plan, study context
and results store. The report folder is written to a staging folder and swapped into
place, so a reader never sees half a report. summary.json is written with sorted keys
and no timestamps: an unchanged store gives the same bytes. The report is redrawn only
when something it shows changed: the summary, the energies table, the figures switch or
the analysis code (a fingerprint of the four is kept in ``report/.inputs.sha256``), so
the rerun of an unchanged study does not spend seconds on identical figures.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from functools import cache
from pathlib import Path

from facetflow.analysis.data import WorkData, energies, load
from facetflow.analysis.electronic_tables import write_electronic_tables
from facetflow.analysis.html import write_html
from facetflow.analysis.summary import summarise
from facetflow.analysis.tables import write_tables
from facetflow.jsonfile import write_json_atomic
from facetflow.provenance import versions
from facetflow.records.context import read_context
from facetflow.records.summary import Summary, summary_text

ALSO_FILE = "compare_runs.json"  # other work directories whose paper comparison joins ours
STAMP = ".inputs.sha256"  # in report/: fingerprint of what the report was drawn from


def build_summary(workdir: str | Path, data: WorkData | None = None) -> dict:
    """The summary of ``workdir`` (``data``: its already loaded plan and store rows).

    When ``workdir/compare_runs.json`` lists other work directories (``facetflow report
    WORKDIR --also OTHER``; e.g. a DFT check of the same paper), their paper-comparison
    rows are added after this run's, each naming its study and engine."""
    workdir = Path(workdir)
    context = read_context(workdir / "study.json")
    also = workdir / ALSO_FILE
    others, not_found = [], []
    for other in (json.loads(also.read_text()) if also.is_file() else []):
        other = Path(other)
        if not (other / "plan.json").is_file():
            not_found.append(other)
            continue
        others.append(summarise(load(other), read_context(other / "study.json"),
                                versions(), uncertainty=False))
    # the DFT runs among ``others`` calibrate this run's model error
    summary = summarise(data or load(workdir), context, versions(), others=others)
    for row in summary["paper_comparison"]:
        row["run"] = summary["study"]
    for other in not_found:
        summary["paper_comparison"].append({
            "run": other.name, "finding": None, "paper": None, "engine": None,
            "this_run": f"work directory {other.name} not found", "verdict": None})
    for theirs in others:
        summary["paper_comparison"] += [{**row, "run": theirs["study"]}
                                        for row in theirs["paper_comparison"]]
    # each finding's rows together (this run first): a stable sort by finding id
    summary["paper_comparison"].sort(key=lambda r: str(r.get("id", "~")))
    return summary


def set_compared_runs(workdir: str | Path, others: list[str | Path]) -> None:
    """Remember ``others`` (work directories) for every later report of ``workdir``."""
    write_json_atomic(Path(workdir) / ALSO_FILE, [str(Path(o).resolve()) for o in others])


def write_report(workdir: str | Path, figures: bool = True) -> Path:
    """Write ``workdir/report/`` and return the path of its summary.json."""
    workdir = Path(workdir)
    data = load(workdir)
    target = workdir / "report"
    inputs = _inputs(workdir, data, figures)
    if inputs is not None and _unchanged(target, inputs, key="inputs"):
        return target / "summary.json"  # drawn from these very inputs: nothing to compute
    summary = build_summary(workdir, data)
    text = summary_text(Summary.model_validate(summary))  # the one writer of summary.json
    table = energies(data).to_csv(index=False)
    stamp = _fingerprint(text, table, figures)
    if _unchanged(target, stamp):
        _restamp(target, inputs)
        return target / "summary.json"  # nothing it shows has changed
    stage = workdir / f".report.staging-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    try:
        (stage / "summary.json").write_text(text)
        (stage / "energies.csv").write_text(table)
        write_report_files(summary, stage, figures)
        files = sorted(str(f.relative_to(stage)) for f in stage.rglob("*") if f.is_file())
        (stage / STAMP).write_text(json.dumps({"sha256": stamp, "inputs": inputs,
                                               "files": files}))
        old = workdir / f".report.old-{os.getpid()}"
        if target.exists():
            os.replace(target, old)
        os.replace(stage, target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return target / "summary.json"


def _fingerprint(summary_json: str, energies_csv: str, figures: bool) -> str:
    """sha256 of what the report shows and of the code that draws it (this package)."""
    h = hashlib.sha256()
    for part in (summary_json, energies_csv, str(figures)):
        h.update(part.encode())
    for src in sorted(Path(__file__).parent.glob("*.py")):
        h.update(src.read_bytes())
    return h.hexdigest()


def _inputs(workdir: Path, data: WorkData, figures: bool) -> str | None:
    """sha256 of everything a summary of ``workdir`` is computed from: its plan and study
    context (the published findings travel in it), the status and verified checksum of
    each store row it uses and the store's problems, the calibration data set's reactions
    and scores (``analysis.calibration``), the package versions, and facetflow's own code
    and data files. None when other runs are compared (``--also``): their stores are not
    part of this fingerprint, so the summary is always computed then."""
    if (workdir / ALSO_FILE).is_file():
        return None
    h = hashlib.sha256()
    for name in ("plan.json", "study.json"):
        h.update((workdir / name).read_bytes())
    h.update(_calibration_digest(workdir / "study.json").encode())
    for key in sorted(data.results):
        row = data.results[key]
        h.update(f"{key} {row.status} {row.checksum}\n".encode())
    h.update(json.dumps([data.store_problems, versions(), figures], sort_keys=True,
                        default=str).encode())
    h.update(code_digest().encode())
    return h.hexdigest()


def _calibration_digest(study_json: Path) -> str:
    """sha256 of the calibration data set's reactions.json and scores/*.json ("" when the
    study names none): scoring a model on the set changes the error bars."""
    study = json.loads(study_json.read_text()).get("study") or {}
    folder = (study.get("analysis") or {}).get("calibration")
    if not folder:
        return ""
    h = hashlib.sha256()
    for f in [Path(folder) / "reactions.json", *sorted((Path(folder) / "scores").glob("*.json"))]:
        h.update(f"{f.name}\n".encode())
        h.update(f.read_bytes() if f.is_file() else b"missing")
    return h.hexdigest()


@cache
def code_digest() -> str:
    """sha256 of facetflow's code and data files as they were when this module was first
    imported (below): the code a running process computes with, not what a later edit
    left on disk."""
    h = hashlib.sha256()
    package = Path(__file__).resolve().parent.parent
    for src in sorted([*package.rglob("*.py"), *package.rglob("*.yaml")]):
        h.update(src.read_bytes())
    return h.hexdigest()


def _restamp(report: Path, inputs: str | None) -> None:
    """Record ``inputs`` in an unchanged report's stamp, so the next rerun can skip the
    summary (a report written before inputs were fingerprinted)."""
    path = report / STAMP
    kept = json.loads(path.read_text())
    if inputs is not None and kept.get("inputs") != inputs:
        write_json_atomic(path, {**kept, "inputs": inputs})


def _unchanged(report: Path, stamp: str, key: str = "sha256") -> bool:
    """True when ``report``'s stamp holds ``stamp`` under ``key`` (``sha256``: what it
    shows; ``inputs``: what it was computed from) and it still has all its files."""
    try:
        kept = json.loads((report / STAMP).read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(kept, dict) or kept.get(key) != stamp:
        return False
    files = kept.get("files")
    return (isinstance(files, list) and bool(files)
            and all(isinstance(f, str) and (report / f).is_file() for f in files))


def write_report_files(summary: dict, out: str | Path, figures: bool = True) -> Path:
    """The CSV tables, figures (PNG + SVG) and report.html of ``summary`` (a summary dict,
    e.g. a report's summary.json read back) written into ``out``, as ``write_report`` does
    for a work directory; the path of report.html. Needs no work directory or store."""
    out = Path(out)
    write_tables(summary, out)
    write_electronic_tables(summary, out)
    made: list[Path] = []
    if figures:
        # matplotlib (~0.3 s to import) only when a report is drawn, not on every rerun
        import facetflow.analysis.figures as figs
        from facetflow.analysis.electronic_plots import electronic_figures

        made += figs.gamma_figures(summary, out)
        made += figs.binding_figure(summary, out)
        made += figs.shape_figure(summary, out)
        made += figs.defects_figure(summary, out)
        made += figs.growth_mu_figures(summary, out)
        made += electronic_figures(summary, out)
    return write_html(summary, out, made)


code_digest()  # fixed at import: see code_digest
