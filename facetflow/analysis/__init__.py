"""Analysis: chemical potentials, surface and interfacial energies (paper eq. 3),
binding energies (eq. 4, sign of docs/concepts.md), optimal coverage, growth model, report.
Reads energies only (the work directory's plan and results store); knows nothing of
engines or FireWorks.

The notebook API: each function takes a work directory (``WORK/<study>``) and returns
plain data or a pandas DataFrame::

    from facetflow import analysis
    analysis.energies("work/quick")           # one row per structure: energy, status, ...
    analysis.gamma_points("work/quick")       # gamma(theta), with and without variants
    analysis.binding_energies("work/quick")   # E_b at theta* per facet and species
    analysis.growth_rates("work/quick")       # rates, ranking, anisotropy per case
    analysis.study_summary("work/quick")      # everything, as report/summary.json holds it
    analysis.electronic_frames("work/zns110_defects_electronic")["trap_counts"]

(The names differ from the submodules ``summary``, ``growth``, ... on purpose.)
"""

from __future__ import annotations

from pathlib import Path


def study_summary(workdir: str | Path) -> dict:
    from facetflow.analysis.report import build_summary

    return build_summary(workdir)


def energies(workdir: str | Path):
    from facetflow.analysis.data import energies as _energies

    return _energies(workdir)


def gamma_points(workdir: str | Path):
    from facetflow.analysis.tables import gamma_frame

    return gamma_frame(study_summary(workdir))


def binding_energies(workdir: str | Path):
    from facetflow.analysis.tables import binding_frame

    return binding_frame(study_summary(workdir))


def growth_rates(workdir: str | Path):
    from facetflow.analysis.tables import growth_frame

    return growth_frame(study_summary(workdir))


def electronic_frames(workdir: str | Path) -> dict:
    """The electronic tables of a study with ``analysis.electronic`` as DataFrames, by
    name: band_edges, trap_states, trap_counts, ligand_shifts, electrochemical_window
    (``facetflow.analysis.electronic_tables``; empty frames without the analysis)."""
    from facetflow.analysis.electronic_tables import FRAMES

    summary = study_summary(workdir)
    return {name: frame(summary) for name, frame in FRAMES.items()}
