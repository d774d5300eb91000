"""Electronic figures of the report, from ``summary.json: electronic``.

* ``dos_<structure>.png/.svg``: total DOS (grey) and DOS projected on each region of the
  slab (lines), states/eV against energy (eV, vacuum scale when known); the structure's
  VBM and CBM as dashed lines, the pristine reference's gap shaded, and its trap states as
  red ticks (taller when localised), after the band diagrams of ZnS(110) defects.
* ``alignment_<facet>.png/.svg``: band alignment of a facet: VBM and CBM bars of the
  outer slab and of each ligand-covered slab (the ligand-induced shifts; scissor-corrected
  CBM dotted), and the reduction level of each ligand's metal ion (vacuum scale, eV),
  red when electrochemically active against the outer slab, orange when active only
  against its scissor-corrected CBM, green when inert.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from facetflow.analysis.plotting import PALETTE, guarded, new_figure, safe_stem, save


def _section(summary: Mapping[str, Any]) -> Mapping[str, Any]:
    return summary.get("electronic") or {}


def dos_figure(summary: Mapping[str, Any], sid: str) -> Figure:
    """The DOS of structure ``sid`` with its trap states (not saved)."""
    sec = _section(summary)
    dos, edges = sec["dos"][sid], sec["band_edges"][sid]
    grid = dos["e0"] + dos["step"] * np.arange(len(dos["total"]))
    fig = new_figure(6.5, 3.6)
    ax = fig.add_subplot(1, 1, 1)
    ax.fill_between(grid, dos["total"], color="0.85", label="total")
    for k, (name, curve) in enumerate(dos["regions"].items()):
        ax.plot(grid, curve, color=PALETTE[k % len(PALETTE)], lw=1.2, label=name)
    for x in (edges["vbm"], edges["cbm"]):
        ax.axvline(x, color="k", ls="--", lw=0.8)
    traps = [t for t in (sec.get("trap_states") or {}).get("states", [])
             if t["structure"] == sid]
    if traps:
        ref = sec["band_edges"].get(traps[0]["reference"])
        if ref:
            ax.axvspan(ref["vbm"], ref["cbm"], color="#fde0dd", alpha=0.5, lw=0,
                       label="reference gap")
        top = max(dos["total"] or [1.0])
        for t in traps:
            h = 0.35 if t["localised"] else 0.18
            ax.vlines(t["energy"], 0, h * top, color="#d62728", lw=2)
        ax.plot([], [], color="#d62728", lw=2, label="trap states")
    scale = "E - E_vac" if edges["absolute"] else "E (engine zero)"
    ax.set_xlabel(f"{scale} (eV)")
    ax.set_ylabel("DOS (states/eV)")
    ax.set_title(f"{sid}: gap {edges['gap']:.2f} eV")
    ax.legend(fontsize=8, loc="upper right")
    return fig


def alignment_figure(summary: Mapping[str, Any], facet: str) -> Figure:
    """Band alignment of ``facet`` with the ligands' reduction levels (not saved)."""
    sec = _section(summary)
    rows = [r for r in sec.get("electrochemical_window", []) if r["facet"] == facet]
    columns: dict[str, Mapping[str, Any]] = {}
    shifted = [r["structure"] for r in sec.get("ligand_shifts", []) if r["facet"] == facet]
    for sid in [r["structure"] for r in rows] + shifted:
        columns.setdefault(sid, sec["band_edges"][sid])
    fig = new_figure(1.6 + 1.3 * max(len(columns), 1) + 0.9 * len(rows), 4.5)
    ax = fig.add_subplot(1, 1, 1)
    names = list(columns)
    for i, sid in enumerate(names):
        e = columns[sid]
        ax.bar(i, e["vbm"] - (e["vbm"] - 1.5), bottom=e["vbm"] - 1.5, color="#4c72b0",
               width=0.6)
        ax.bar(i, 1.5, bottom=e["cbm"], color="#dd8452", width=0.6)
        if e.get("cbm_scissor") is not None:
            ax.hlines(e["cbm_scissor"], i - 0.3, i + 0.3, colors="#dd8452", ls=":")
    for j, r in enumerate(rows):
        if r.get("level") is None:
            continue
        x = len(names) + 0.2 + 0.9 * j
        color = ("#d62728" if r["active"] else
                 "#ff7f0e" if r.get("active_scissor") else "#2ca02c")
        ax.hlines(r["level"], x - 0.3, x + 0.3, colors=color, lw=3)
        ax.axhline(r["level"], color=color, lw=0.6, ls="--", alpha=0.6)
        ax.annotate(f"{r['couple']}\n{r['ligand']}", (x, r["level"]), fontsize=7,
                    ha="center", va="bottom")
    ax.set_xticks(range(len(names)), names, rotation=20, ha="right", fontsize=7)
    ax.set_ylabel("energy vs vacuum (eV)")
    ax.set_title(f"Band alignment {{{facet}}}: VBM (blue), CBM (orange; scissor dotted); "
                 "reduction levels: red active, orange active with the scissor CBM only, "
                 "green inert", fontsize=9)
    return fig


def electronic_figures(summary: Mapping[str, Any], out: str | Path) -> list[Path]:
    """Every DOS and band-alignment figure of the summary; the paths written (none
    without the electronic section)."""
    sec = _section(summary)
    if not sec:
        return []
    paths: list[Path] = []
    for sid in sec.get("dos", {}):
        fig = guarded(lambda s=sid: dos_figure(summary, s), f"DOS of {sid}")
        paths += save(fig, out, f"dos_{safe_stem(sid)}")
    for facet in sorted({r["facet"] for r in sec.get("electrochemical_window", [])}):
        fig = guarded(lambda f=facet: alignment_figure(summary, f),
                      f"band alignment of {facet}")
        paths += save(fig, out, f"alignment_{safe_stem(facet)}")
    return paths
