"""The electronic-structure section of report.html: approximations, band edges, trap
states per defect (and which ligand removes them), ligand-induced shifts and the
electrochemical window of each ligand. Energies in eV (vacuum scale where stated)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from facetflow.analysis.electronic_tables import (
    band_edges_frame,
    ligand_shift_frame,
    trap_counts_frame,
    window_frame,
)
from facetflow.analysis.html_format import esc, num_html, table

ELECTRONIC_STEMS = ("dos_", "alignment_")  # figure names shown in this section


def _rows(frame, columns: list[str], numeric: set[int]) -> list[list[Any]]:
    """The frame's rows; the ``numeric`` columns as HTML numbers (3 decimals)."""
    return [[num_html(v, 3) if i in numeric else (None if v != v else v)  # NaN: none
             for i, v in enumerate(row)] for row in frame[columns].itertuples(index=False)]


def _table(frame, columns: list[str], numeric: set[int]) -> str:
    return table(columns, _rows(frame, columns, numeric), numeric=numeric)


def electronic_html(summary: Mapping[str, Any]) -> list[str]:
    """The section (nothing without ``summary.json: electronic``)."""
    sec = summary.get("electronic")
    if not sec:
        return []
    th = sec.get("thresholds", {})
    out = ['<h2 id="electronic">Electronic structure</h2>',
           "<p>Approximations:</p><ul>"
           + "".join(f"<li>{esc(a)}</li>" for a in sec.get("approximations", [])) + "</ul>"]
    cols = ["structure", "vbm", "cbm", "gap", "ionisation_potential",
            "electron_affinity", "work_function", "vacuum_flatness", "cbm_scissor"]
    out += ["<h3>Band edges (eV, vacuum scale)</h3>",
            _table(band_edges_frame(summary), cols, set(range(1, 9)))]
    cols = ["structure", "defect", "ligand", "reference", "n_trap", "n_localised",
            "n_on_defect", "levels_above_vbm"]
    out += ["<h3>Trap states</h3>",
            f"<p>States inside the gap of the pristine reference (at least "
            f"{th.get('trap_tolerance_eV', '')} eV inside it); localised when IPR × N_atoms "
            f"≥ {th.get('localised_ipr_ratio', '')}, on the defect when at least "
            f"{th.get('on_defect_weight', '')} of it lies on the atoms within "
            f"{th.get('defect_radius_A', '')} Å of a defect; levels in eV above the reference "
            "VBM. A ligand removes a defect's traps where its row has none.</p>",
            _table(trap_counts_frame(summary), cols, set())]
    shifts = ligand_shift_frame(summary)
    if len(shifts):
        cols = ["facet", "structure", "ligand", "theta", "d_vbm", "d_cbm",
                "d_work_function"]
        out += ["<h3>Ligand-induced band-edge shifts (eV)</h3>",
                _table(shifts, cols, {3, 4, 5, 6})]
    cols = ["facet", "ligand", "couple", "e0_V_she", "level", "vbm", "cbm", "above_cbm",
            "active", "active_scissor", "ligand_state_above_cbm", "active_computed"]
    out += ["<h3>Electrochemical window</h3>",
            f"<p>Reduction level E = −4.44 eV − e·E° (vacuum scale); active when it lies "
            f"in the gap or less than {th.get('active_margin_eV', '')} eV above the CBM "
            "(an injected electron can reduce the ion). Computed counterpart: on the slab "
            "carrying the ligand, its lowest empty ligand-localised state minus the lowest "
            "empty slab state (ligand_state_above_cbm); active_computed when below the same "
            "margin.</p>",
            _table(window_frame(summary), cols, {3, 4, 5, 6, 7, 10})]
    return out
