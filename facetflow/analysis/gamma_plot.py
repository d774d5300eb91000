"""The gamma(theta) figure of one facet (``gamma_<facet>.png/.svg``): interfacial energy
gamma (meV/Å², J/m² on the right axis) against coverage theta (ligands per surface
cation), one line per ligand and per ligand + variant (dashed) through the lowest
arrangement at each theta; other arrangements as small grey markers; theta* as a star;
structures not computed as red crosses on the theta axis. Where gamma_bare (hence every
gamma) is missing but the summary carries delta = gamma - gamma_bare, delta is plotted
instead (theta* does not depend on it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from facetflow.analysis.plotting import (
    GAMMA_DIGITS,
    NOT_COMPUTED,
    PALETTE,
    VARIANT_STYLES,
    braces,
    grid_text,
    new_figure,
    note,
    theta_text,
)
from facetflow.analysis.summary_view import (
    MEV_A2_TO_J_M2,
    as_dict,
    as_list,
    facets_of,
    interval,
    num,
    order_ligands,
    split_ligand_key,
)


@dataclass
class _Panel:
    """The axes of one facet's figure and what its series add up while drawn."""

    ax: Any
    field: str  # "value" (gamma) or "delta" (gamma - gamma_bare)
    optimum: Mapping[str, Any]
    failed: list[tuple[float | None, str]] = field(default_factory=list)
    max_theta: float = 1.0
    drawn: int = 0
    grey_label: str = "other arrangements"
    variant_index: dict[str, int] = field(default_factory=dict)
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)  # by structure

    @property
    def symbol(self) -> str:
        return "γ" if self.field == "value" else "Δγ"


def gamma_figure(summary: Mapping[str, Any], facet: str) -> Figure:
    """The figure of ``facet`` (not saved)."""
    f = as_dict(facets_of(summary).get(facet))
    fig = new_figure(7.4, 5.0)
    points = [p for p in as_list(f.get("gamma")) if isinstance(p, Mapping)]
    optimum = as_dict(f.get("optimum"))
    panel = _Panel(fig.add_subplot(1, 1, 1), _plotted_field(points), optimum)
    for p in points:  # 90 % intervals of gamma (summary.json: uncertainty)
        iv = as_dict(interval(summary, f"facets.{facet}.gamma.{p.get('structure')}"))
        lo, hi = num(iv.get("low")), num(iv.get("high"))
        if lo is not None and hi is not None and hi > lo:
            panel.intervals[str(p.get("structure"))] = (lo, hi)
    # every ligand before its variants; an optimum without points still gets its marker
    combos = [split_ligand_key(k) for k in order_ligands(
        [(str(p.get("ligand") or "?"), _variant(p.get("variant"))) for p in points]
        + list(optimum))]
    for i, (lig, var) in enumerate(combos):
        mine = [p for p in points
                if str(p.get("ligand") or "?") == lig and _variant(p.get("variant")) == var]
        _draw_series(panel, i, lig, var, mine)
    shell = num(as_dict(f.get("gamma_shell")).get(panel.field))
    if shell is not None:
        panel.ax.axhline(shell, color="0.45", ls=(0, (1, 2)), lw=1.2, zorder=1,
                         label=f"{panel.symbol} of the shell without ligands (θ = 0)",
                         gid="gamma-shell")
    _draw_missing(panel)
    _finish(panel, f, facet)
    return fig


def _plotted_field(points: list[Mapping[str, Any]]) -> str:
    """"value" (gamma), or "delta" where no gamma but some delta is known."""
    if not any(num(p.get("value")) is not None for p in points) and any(
            num(p.get("delta")) is not None for p in points):
        return "delta"
    return "value"


def _style(panel: _Panel, i: int, var: str | None) -> tuple[str, Any, str]:
    """Colour, line style and marker of series ``i``: solid circles for a ligand, one
    dashed style per variant."""
    color = PALETTE[i % len(PALETTE)]
    if var is None:
        return color, "-", "o"
    j = panel.variant_index.setdefault(var, len(panel.variant_index))
    ls, marker = VARIANT_STYLES[j % len(VARIANT_STYLES)]
    return color, ls, marker


def _draw_series(panel: _Panel, i: int, lig: str, var: str | None,
                 mine: list[Mapping[str, Any]]) -> None:
    """One ligand (+ variant): its lowest arrangement per theta as a line, the others
    grey, theta* as a star (or a vertical line when its energy is unknown)."""
    ax = panel.ax
    color, ls, marker = _style(panel, i, var)
    label = lig if var is None else f"{lig} + {var}"
    by_theta = _values_by_theta(panel, mine, label)
    thetas = sorted(by_theta)
    others = [(t, v) for t in thetas for v in sorted(by_theta[t])[1:]]
    if others:
        ax.plot([o[0] for o in others], [o[1] for o in others], ls="none", marker="o",
                ms=4, color="0.6", label=panel.grey_label, gid="gamma-other", zorder=2)
        panel.grey_label = "_nolegend_"
    gid = f"{lig}|{var or ''}"
    opt = as_dict(panel.optimum.get(lig if var is None else f"{lig}+{var}"))
    label += _draw_optimum(panel, opt, color, ls, gid)
    if thetas:
        ax.plot(thetas, [min(by_theta[t]) for t in thetas], ls=ls, marker=marker,
                color=color, lw=1.8, ms=6, label=label, gid=f"gamma-series:{gid}", zorder=3)
        panel.drawn += 1
        _draw_band(panel, mine, color)
    elif num(opt.get("theta")) is not None:  # keep the optimum in the legend
        ax.plot([], [], ls=ls, marker=marker, color=color, label=label)


def _draw_band(panel: _Panel, mine: list[Mapping[str, Any]], color: str) -> None:
    """The 90 % band of gamma through the lowest arrangement at each theta (when every
    one of them has an interval)."""
    if panel.field != "value" or not panel.intervals:
        return
    lowest: dict[float, Mapping[str, Any]] = {}
    for p in mine:
        theta, value = num(p.get("theta")), num(p.get("value"))
        if theta is not None and value is not None and (
                theta not in lowest or value < num(lowest[theta].get("value"))):
            lowest[theta] = p
    thetas = sorted(lowest)
    spans = [panel.intervals.get(str(lowest[t].get("structure"))) for t in thetas]
    if thetas and all(spans):
        panel.ax.fill_between(thetas, [s[0] for s in spans], [s[1] for s in spans],
                              color=color, alpha=0.18, lw=0, zorder=1)


def _values_by_theta(panel: _Panel, mine: list[Mapping[str, Any]], label: str
                     ) -> dict[float, list[float]]:
    """The plotted values of one series by theta; points without one are noted as
    failed (``panel.failed``)."""
    by_theta: dict[float, list[float]] = {}
    for p in mine:
        theta, value = num(p.get("theta")), num(p.get(panel.field))
        if theta is not None:
            panel.max_theta = max(panel.max_theta, theta)
        if value is None or theta is None:
            panel.failed.append((theta, label))
            continue
        by_theta.setdefault(theta, []).append(value)
    return by_theta


def _draw_optimum(panel: _Panel, opt: Mapping[str, Any], color: str, ls: Any, gid: str
                  ) -> str:
    """theta* of one series on the axes; the text its legend label gets."""
    ot, ov = num(opt.get("theta")), num(opt.get(panel.field))
    if ot is not None and ov is not None:
        panel.ax.plot([ot], [ov], ls="none", marker="*", ms=17, color=color, mec="black",
                      mew=0.8, label="_nolegend_", gid=f"gamma-optimum:{gid}", zorder=5)
        return f"  (θ* = {theta_text(ot)}, {panel.symbol}* = {ov:.{GAMMA_DIGITS}f} meV/Å²)"
    if ot is not None:  # theta* known, its energy not: a vertical marker
        panel.ax.axvline(ot, color=color, ls=ls, lw=1.2, alpha=0.8,
                         gid=f"gamma-optimum:{gid}", label="_nolegend_")
        return f"  (θ* = {theta_text(ot)})"
    return ""


def _draw_missing(panel: _Panel) -> None:
    """Red crosses on the theta axis and a note naming what was not computed."""
    ax, failed = panel.ax, panel.failed
    if failed:
        xs = [t for t, _ in failed if t is not None]
        if xs:
            ax.plot(xs, [0.0] * len(xs), ls="none", marker="x", ms=9, mew=2, color="#c00000",
                    transform=ax.get_xaxis_transform(), clip_on=False, zorder=6,
                    label=NOT_COMPUTED, gid="gamma-missing")
        text = "; ".join(f"{lab} at θ = {grid_text(t)}" if t is not None else lab
                         for t, lab in failed[:4])
        if len(failed) > 4:
            text += f"; and {len(failed) - 4} more"
        ax.text(0.01, 0.99, f"{NOT_COMPUTED}: {text}", transform=ax.transAxes, va="top",
                ha="left", fontsize=8, color="#c00000", wrap=True)
    if panel.field == "delta":
        ax.text(0.01, 0.93, "γ_bare not computed: Δγ = γ − γ_bare shown",
                transform=ax.transAxes, va="top", ha="left", fontsize=8, color="0.3")


def _finish(panel: _Panel, f: Mapping[str, Any], facet: str) -> None:
    """Limits, axis labels (meV/Å² left, J/m² right), title and legend."""
    ax = panel.ax
    if panel.drawn == 0:
        note(ax, f"γ(θ) {NOT_COMPUTED}")
    else:  # headroom for the legend and the notes
        y0, y1 = ax.get_ylim()
        ax.set_ylim(y0, y1 + 0.2 * (y1 - y0))
    ax.set_xlim(0.0, panel.max_theta + 0.05)
    ax.set_xlabel("coverage θ (ligands per surface cation)")
    what = "interfacial energy γ" if panel.field == "value" else "Δγ = γ − γ_bare"
    ax.set_ylabel(f"{what} (meV/Å²)")
    sec = ax.secondary_yaxis("right", functions=(lambda y: y * MEV_A2_TO_J_M2,
                                                 lambda y: y / MEV_A2_TO_J_M2))
    sec.set_ylabel(f"{panel.symbol} (J/m²)")
    ax.grid(alpha=0.3)
    ax.set_title(f"Interfacial energy of the {braces(facet)} facet{_slab_note(f)}")
    handles, labels = ax.get_legend_handles_labels()
    if any(num(as_dict(o).get("theta")) is not None for o in panel.optimum.values()):
        handles.append(Line2D([], [], ls="none", marker="*", ms=12, color="0.8", mec="black"))
        labels.append("optimum θ*")
    if handles:
        ax.legend(handles, labels, loc="best", fontsize=8, framealpha=0.85)


def _variant(v: Any) -> str | None:
    return None if v is None or v == "" else str(v)


def _slab_note(f: Mapping[str, Any]) -> str:
    sym = f.get("symmetric")
    if sym is True:
        return " (symmetric slab)"
    if sym is False:
        return " (asymmetric slab, one active face)"
    return ""
