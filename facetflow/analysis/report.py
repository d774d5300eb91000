"""``WORKDIR/report/``: summary.json, CSV tables, figures and report.html, from the store.

``write_report(workdir)`` is the analysis step at the end of every run and what
``facetflow report WORKDIR`` calls; it reads only the work directory's plan, study context
and results store. The report folder is written to a staging folder and swapped into
place, so a reader never sees half a report. summary.json is written with sorted keys
and no timestamps: an unchanged store gives the same bytes.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from facetflow.analysis import figures as figs
from facetflow.analysis.data import WorkData, energies, load
from facetflow.analysis.html import write_html
from facetflow.analysis.summary import summarise
from facetflow.analysis.tables import write_tables
from facetflow.provenance import versions


def build_summary(workdir: str | Path, data: WorkData | None = None) -> dict:
    """The summary of ``workdir`` (``data``: its already loaded plan and store rows)."""
    workdir = Path(workdir)
    context = json.loads((workdir / "study.json").read_text())
    return summarise(data or load(workdir), context, versions())


def write_report(workdir: str | Path, figures: bool = True) -> Path:
    """Write ``workdir/report/`` and return the path of its summary.json."""
    workdir = Path(workdir)
    data = load(workdir)
    summary = build_summary(workdir, data)
    target = workdir / "report"
    stage = workdir / f".report.staging-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    try:
        (stage / "summary.json").write_text(
            json.dumps(summary, indent=1, sort_keys=True, default=float) + "\n")
        _extras(summary, data, stage, figures)
        old = workdir / f".report.old-{os.getpid()}"
        if target.exists():
            os.replace(target, old)
        os.replace(stage, target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return target / "summary.json"


def _extras(summary: dict, data: WorkData, out: Path, figures: bool) -> None:
    """CSV tables, figures (PNG + SVG) and report.html."""
    energies(data).to_csv(out / "energies.csv", index=False)
    write_tables(summary, out)
    made: list[Path] = []
    if figures:
        made += figs.gamma_figures(summary, out)
        made += figs.binding_figure(summary, out)
        made += figs.shape_figure(summary, out)
        made += figs.defects_figure(summary, out)
    write_html(summary, out, made)
