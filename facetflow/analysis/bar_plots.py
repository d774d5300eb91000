"""Bar figures of the report: binding energies per facet and species (``binding.png``;
E_b in eV, negative = bound) and defect formation energies (``defects.png``; E_f in eV per
defect without and with each ligand, one panel per chemical-potential limit, and a panel
of dE_f = E_f(with ligand) - E_f(without))."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from matplotlib.figure import Figure

from facetflow.analysis.plotting import (
    ENERGY_DIGITS,
    NOT_COMPUTED,
    PALETTE,
    ROLE_HATCH,
    braces,
    grid_text,
    new_figure,
    note,
)
from facetflow.analysis.summary_view import (
    ROLE_ORDER,
    as_dict,
    as_list,
    binding_path,
    defect_bars,
    facets_of,
    interval,
    num,
)


@dataclass
class _Bars:
    """The binding axes and what the facets' bars add up while drawn."""

    ax: Any
    order: list[str]  # species, ligands first, then additives, then growth species
    colors: dict[str, str]
    width: float
    seen: set[str] = field(default_factory=set)
    lo: float = 0.0
    hi: float = 0.0
    n_bars: int = 0
    summary: Mapping[str, Any] = field(default_factory=dict)  # for the error bars


def binding_figure(summary: Mapping[str, Any]) -> Figure:
    """Grouped bars of E_b per facet and species (not saved)."""
    entries: dict[str, list[Mapping[str, Any]]] = {
        k: [b for b in as_list(as_dict(f).get("binding")) if isinstance(b, Mapping)]
        for k, f in facets_of(summary).items()}
    species: dict[str, str] = {}
    for bs in entries.values():
        for b in bs:
            species.setdefault(str(b.get("species") or "?"), str(b.get("role") or ""))
    order = sorted(species, key=lambda s: (ROLE_ORDER.get(species[s], 9),
                                           list(species).index(s)))
    n_max = max([len(bs) for bs in entries.values()] + [1])
    fig = new_figure(max(7.5, 2.6 + 0.55 * n_max * max(len(entries), 1)), 5.0)
    bars = _Bars(fig.add_subplot(1, 1, 1), order,
                 {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(order)}, 0.8 / n_max,
                 summary=summary)
    ticklabels = [_facet_bars(bars, g, facet, bs) for g, (facet, bs) in
                  enumerate(entries.items())]
    ax = bars.ax
    ax.axhline(0.0, color="black", lw=0.9)
    ax.set_xticks(range(len(ticklabels)), ticklabels)
    ax.set_xlim(-0.6, max(len(entries), 1) - 0.4)
    span = max(bars.hi - bars.lo, 0.5)
    ax.set_ylim(bars.lo - 0.15 * span, bars.hi + 0.15 * span)
    ax.set_xlabel("facet (coverage of the binding calculation)")
    ax.set_ylabel("binding energy E_b (eV)\nnegative = bound")
    ax.set_title("Binding energies at the optimal coverage"
                 + (" (bars: 90 % interval)" if as_dict(summary).get("uncertainty") else ""))
    ax.grid(axis="y", alpha=0.3)
    if bars.n_bars == 0:
        note(ax, f"binding energies {NOT_COMPUTED}")
    else:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, title="species",
                  title_fontsize=8)
    return fig


def _facet_bars(bars: _Bars, g: int, facet: str, bs: list[Mapping[str, Any]]) -> str:
    """The bars of facet number ``g``; its tick label (with theta when one)."""
    ax = bars.ax
    bs = sorted(bs, key=lambda b: bars.order.index(str(b.get("species") or "?")))
    x0 = g - bars.width * (len(bs) - 1) / 2
    for j, b in enumerate(bs):
        sp, role = str(b.get("species") or "?"), str(b.get("role") or "")
        x, value = x0 + j * bars.width, num(b.get("value"))
        if value is None:
            ax.annotate(f"{sp}: {NOT_COMPUTED}", (x, 0), xytext=(0, -4),
                        textcoords="offset points", ha="center", va="top", fontsize=8,
                        color="#c00000", rotation=90)
            continue
        ax.bar([x], [value], bars.width * 0.92, color=bars.colors[sp], edgecolor="black",
               lw=0.6, hatch=ROLE_HATCH.get(role, ""),
               label=(f"{sp} ({role})" if role else sp) if sp not in bars.seen
               else "_nolegend_", gid=f"binding:{facet}|{sp}")
        bars.seen.add(sp)
        bars.n_bars += 1
        bars.lo, bars.hi = min(bars.lo, value), max(bars.hi, value)
        iv = as_dict(interval(bars.summary, binding_path(facet, b)))
        lo, hi = num(iv.get("low")), num(iv.get("high"))
        if lo is not None and hi is not None and hi > lo:  # the 90 % interval
            ax.errorbar([x], [value], yerr=[[max(value - lo, 0.0)], [max(hi - value, 0.0)]],
                        fmt="none", ecolor="black", elinewidth=1.0, capsize=3)
            bars.lo, bars.hi = min(bars.lo, lo), max(bars.hi, hi)
        _value_label(ax, x, value, 7.5)
    if not bs:
        ax.annotate(NOT_COMPUTED, (g, 0), xytext=(0, -6), textcoords="offset points",
                    ha="center", va="top", fontsize=9, color="#c00000")
        return f"{braces(facet)}\n(none)"
    thetas = {num(b.get("theta")) for b in bs} - {None}
    return braces(facet) + (f"\nθ = {grid_text(thetas.pop())}" if len(thetas) == 1 else "")


def _value_label(ax, x: float, value: float, size: float) -> None:
    """The value (eV) at the end of its bar."""
    ax.annotate(f"{value:.{ENERGY_DIGITS}f}", (x, value), xytext=(0, -3 if value < 0 else 3),
                textcoords="offset points", ha="center",
                va="top" if value < 0 else "bottom", fontsize=size)


def defects_figure(summary: Mapping[str, Any]) -> Figure:
    """E_f per defect and limit, and dE_f, as grouped bars (not saved)."""
    limits = as_dict(as_dict(as_dict(summary).get("defects")).get("limits"))
    groups, series, chosen = defect_bars(summary)
    panels = [(lim, f"E_f, {as_dict(info).get('name') or lim} (eV per defect)")
              for lim, info in limits.items()] + [(None, "dE_f = E_f(ligand) - E_f (eV)")]
    fig = new_figure(max(7.0, 1.2 + 1.1 * max(len(groups), 1) * len(panels) ** 0.5 * 1.6),
                     2.9 * len(panels))
    several = len({g[0] for g in groups}) > 1
    for p, (lim, title) in enumerate(panels):
        ax = fig.add_subplot(len(panels), 1, p + 1)
        n_bars = _defect_panel(ax, lim, groups, series, chosen)
        ax.axhline(0.0, color="black", lw=0.8)
        ax.set_xticks(range(len(groups)),
                      [f"{{{f}}} {k}" if several else k for f, k in groups])
        ax.set_xlim(-0.6, max(len(groups), 1) - 0.4)
        ax.set_ylabel(title, fontsize=8)
        ax.grid(axis="y", alpha=0.3)
        if n_bars == 0:
            note(ax, NOT_COMPUTED)
        else:
            handles, labels = ax.get_legend_handles_labels()
            uniq = dict(zip(labels, handles, strict=True))
            ax.legend(uniq.values(), uniq.keys(), fontsize=7, loc="upper left",
                      bbox_to_anchor=(1.01, 1.0))
    fig.suptitle("Defect formation energies at the most stable position of each defect")
    return fig


def _defect_panel(ax, lim: str | None, groups: list[tuple[str, str]],
                  series: list[str | None], chosen: dict) -> int:
    """The bars of one panel (limit ``lim``; None: dE_f); how many were drawn."""
    width = 0.8 / max(len(series), 1)
    n_bars = 0
    for g, (facet, defect) in enumerate(groups):
        for j, lig in enumerate(series):
            e = chosen.get((facet, defect, lig))
            if e is None or (lim is None and lig is None):
                continue
            value = num(e.get("dE_f")) if lim is None else num(as_dict(e.get("E_f")).get(lim))
            x = g - 0.4 + width * (j + 0.5)
            if value is None:
                ax.annotate("n/c", (x, 0), ha="center", va="bottom", fontsize=7,
                            color="#c00000")
                continue
            ax.bar([x], [value], width * 0.92, color=PALETTE[j % len(PALETTE)],
                   edgecolor="black", lw=0.6, label="no ligand" if lig is None else str(lig),
                   gid=f"defect:{lim}|{facet}|{defect}|{lig}")
            _value_label(ax, x, value, 7)
            n_bars += 1
    return n_bars
