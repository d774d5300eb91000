"""``growth_vs_delta_mu_<species>.png/.svg``: the growth model's conclusion as a chemical
potential moves (``analysis.delta_mu``; ``summary.json: growth_vs_delta_mu``).

Left: anisotropy index (fastest / slowest rate, log scale) against Delta mu (eV) per growth
case. Right: the fastest facet at each Delta mu per case, so the Delta mu where the
ranking flips is read off directly. Delta mu = 0 is the study's reference (its limit or
the precursor reaction); a bound species' E_b moves by -Delta mu.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from matplotlib.figure import Figure

from facetflow.analysis.plotting import NOT_COMPUTED, PALETTE, braces, new_figure, note
from facetflow.analysis.summary_view import as_dict, as_list, num


def growth_mu_figure(summary: Mapping[str, Any], species: str) -> Figure:
    """The two panels for one swept species (not saved)."""
    rows = [r for r in as_list(as_dict(summary.get("growth_vs_delta_mu")).get(species))
            if isinstance(r, Mapping)]
    cases = list(dict.fromkeys(c for r in rows for c in as_dict(r.get("cases"))))
    facets = sorted({f for r in rows for c in as_dict(r.get("cases")).values()
                     for f in as_list(as_dict(c).get("ranking"))[:1]})
    fig = new_figure(10.0, 4.2)
    left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for i, case in enumerate(cases):
        xs, ani, top = [], [], []
        for r in rows:
            c = as_dict(as_dict(r.get("cases")).get(case))
            d, a = num(r.get("delta_mu")), num(c.get("anisotropy_index"))
            rank = as_list(c.get("ranking"))
            if d is None or a is None or not rank:
                continue
            xs.append(d)
            ani.append(a)
            top.append(facets.index(rank[0]))
        color = PALETTE[i % len(PALETTE)]
        left.plot(xs, ani, "o-", color=color, label=case, ms=4)
        right.plot(xs, [t + 0.08 * (i - (len(cases) - 1) / 2) for t in top], "s-",
                   color=color, label=case, ms=4, drawstyle="steps-mid")
    for ax in (left, right):
        ax.axvline(0.0, color="0.5", lw=0.8, ls=":")
        ax.set_xlabel(f"Δμ_{species} (eV) from the study's reference")
        ax.grid(alpha=0.3)
    left.set_yscale("log")
    left.set_ylabel("anisotropy index (fastest / slowest)")
    right.set_yticks(range(len(facets)), [braces(f) for f in facets])
    right.set_ylim(-0.5, max(len(facets), 1) - 0.5)
    right.set_ylabel("fastest-growing facet")
    fig.suptitle(f"Growth conclusion as μ_{species} moves")
    if not cases:
        note(left, f"growth vs Δμ {NOT_COMPUTED}")
    else:
        right.legend(fontsize=8, loc="best")
    return fig
