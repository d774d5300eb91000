"""The electronic tables as pandas DataFrames (notebook API) and CSV files of the report.

From ``summary.json: electronic`` (``facetflow.analysis.electronic_summary``); energies
in eV, on the vacuum scale where ``absolute`` is true::

    from facetflow.analysis import electronic_tables as et
    et.band_edges_frame(summary)        # one row per structure
    et.trap_frame(summary)              # one row per trap state
    et.trap_counts_frame(summary)       # one row per defect structure
    et.window_frame(summary)            # one row per facet and ligand
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

EDGE_COLUMNS = ["structure", "absolute", "vbm", "cbm", "gap", "fermi_level",
                "ionisation_potential", "electron_affinity", "work_function",
                "vacuum_flatness", "cbm_scissor"]
TRAP_COLUMNS = ["structure", "defect", "ligand", "reference", "energy", "above_vbm",
                "occupation", "kweight", "ipr", "ipr_ratio", "defect_weight", "localised",
                "on_defect"]
COUNT_COLUMNS = ["structure", "defect", "ligand", "reference", "n_trap", "n_localised",
                 "n_on_defect", "levels_above_vbm", "near_atoms", "n_atoms"]
SHIFT_COLUMNS = ["facet", "structure", "ligand", "theta", "reference", "d_vbm", "d_cbm",
                 "d_work_function"]
WINDOW_COLUMNS = ["facet", "ligand", "couple", "e0_V_she", "level", "vbm", "cbm",
                  "above_cbm", "active", "cbm_scissor", "active_scissor", "structure",
                  "covered", "ligand_state_above_cbm", "active_computed", "absolute",
                  "source"]


def _section(summary: Mapping[str, Any]) -> Mapping[str, Any]:
    return summary.get("electronic") or {}


def band_edges_frame(summary: Mapping[str, Any]) -> pd.DataFrame:
    """Band edges, IP, EA, work function and vacuum flatness per structure (eV)."""
    rows = list(_section(summary).get("band_edges", {}).values())
    return pd.DataFrame(rows, columns=EDGE_COLUMNS)


def trap_frame(summary: Mapping[str, Any]) -> pd.DataFrame:
    """Every trap state: energy, above the reference VBM, occupation, localisation."""
    rows = (_section(summary).get("trap_states") or {}).get("states", [])
    return pd.DataFrame(rows, columns=TRAP_COLUMNS)


def trap_counts_frame(summary: Mapping[str, Any]) -> pd.DataFrame:
    """Trap states counted per defect structure (defect kind, ligand)."""
    rows = [{**r, "levels_above_vbm": " ".join(f"{x:.2f}" for x in r["levels_above_vbm"])}
            for r in (_section(summary).get("trap_states") or {}).get("counts", [])]
    return pd.DataFrame(rows, columns=COUNT_COLUMNS)


def ligand_shift_frame(summary: Mapping[str, Any]) -> pd.DataFrame:
    """Band-edge and work-function shifts of ligand-covered slabs (eV)."""
    return pd.DataFrame(_section(summary).get("ligand_shifts", []), columns=SHIFT_COLUMNS)


def window_frame(summary: Mapping[str, Any]) -> pd.DataFrame:
    """Reduction level of each ligand's metal ion against the band edges, and the
    active/inert verdict (with the computed and the scissor-corrected CBM)."""
    return pd.DataFrame(_section(summary).get("electrochemical_window", []),
                        columns=WINDOW_COLUMNS)


FRAMES = {"band_edges": band_edges_frame, "trap_states": trap_frame,
          "trap_counts": trap_counts_frame, "ligand_shifts": ligand_shift_frame,
          "electrochemical_window": window_frame}


def write_electronic_tables(summary: Mapping[str, Any], out: str | Path) -> list[Path]:
    """``electronic_<table>.csv`` for each table of ``FRAMES`` (none without the
    electronic section); the paths written."""
    if not _section(summary):
        return []
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, frame in FRAMES.items():
        path = out / f"electronic_{name}.csv"
        frame(summary).to_csv(path, index=False)
        paths.append(path)
    return paths
