"""Report figures drawn from the summary dict (schema: docs/summary.md).

Three kinds, after the paper's Fig. 2 f-j:

* ``gamma_<facet>.png/.svg``: interfacial energy gamma (meV/Å^2, J/m^2 on the right axis)
  against ligand coverage theta (ligands per surface cation), one line per ligand and per
  ligand + variant (e.g. "acetate + F", dashed), through the lowest arrangement at each
  theta; other arrangements as small grey markers; the optimum theta* as a star; points
  that were not computed as red crosses on the theta axis.
* ``binding.png/.svg``: binding energies E_b (eV, negative = bound) per facet and species.
* ``shapes.png/.svg``: kinetic Wulff shapes (pymatgen ``WulffShape`` with the relative
  growth rates in place of surface energies), one 3D panel per growth case.
* ``defects.png/.svg`` (studies with defects): formation energy E_f (eV per defect) of
  each defect at its most stable position, without and with each ligand bound next to
  it, one panel per chemical-potential limit, and a panel of the passivation effect
  dE_f = E_f(with ligand) - E_f(without) (the same in every limit).

Every function copes with missing data (null values, empty lists, absent keys): the part
that cannot be drawn is skipped and the axes say "not computed". The ``_..._figure``
functions return the matplotlib ``Figure`` without writing it (used by the tests).
Figures are built with the object-oriented API on an Agg canvas: no pyplot, no global
backend switch, nothing kept alive after saving.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from facetflow.analysis.tables import (
    MEV_A2_TO_J_M2,
    ROLE_ORDER,
    _as_dict,
    _as_list,
    _facets,
    _num,
    order_ligands,
    ratio_text,
    split_ligand_key,
)

ROLE_HATCH = {"ligand": "", "additive": "//", "growth": ".."}
VARIANT_STYLES = [("--", "s"), (":", "^"), ("-.", "D"), ((0, (5, 1, 1, 1)), "v")]
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
           "#17becf", "#bcbd22", "#7f7f7f"]
FAMILY_COLORS = {"100": "#4c72b0", "111": "#dd8452", "110": "#55a868"}
NOT_COMPUTED = "not computed"
# numbers in legends, titles and labels are rounded to what they mean
THETA_DIGITS = 2  # coverage theta (ligands per surface cation)
GAMMA_DIGITS = 1  # interfacial energy (meV/Å^2)
ENERGY_DIGITS = 2  # energies (eV)


class FigureWarning(UserWarning):
    """A figure could not be drawn normally and was replaced by a note."""


# ---------------------------------------------------------------- public functions


def gamma_figures(summary: Mapping[str, Any], out: str | Path) -> list[Path]:
    """One gamma(theta) figure per facet: ``gamma_<facet>.png`` and ``.svg`` in ``out``.
    Returns the paths written (none when the summary has no facets)."""
    paths: list[Path] = []
    for facet in _facets(summary):
        fig = _guarded(lambda f=facet: _gamma_figure(summary, f),
                       f"interfacial energy of {_braces(facet)}")
        paths += _save(fig, out, f"gamma_{_safe_stem(facet)}")
    return paths


def binding_figure(summary: Mapping[str, Any], out: str | Path) -> list[Path]:
    """Grouped bars of E_b per facet and species: ``binding.png`` and ``.svg``."""
    fig = _guarded(lambda: _binding_figure(summary), "binding energies")
    return _save(fig, out, "binding")


def shape_figure(summary: Mapping[str, Any], out: str | Path, lattice_a: float = 6.0
                 ) -> list[Path]:
    """3D kinetic Wulff shapes, one panel per growth case: ``shapes.png`` and ``.svg``.
    ``lattice_a`` (Å) only sets the scale of the cubic lattice; the shape does not depend
    on it."""
    a = _num(lattice_a)
    a = a if a is not None and a > 0 else 6.0
    fig = _guarded(lambda: _shape_figure(summary, a), "predicted shapes")
    return _save(fig, out, "shapes")


def all_figures(summary: Mapping[str, Any], out: str | Path, lattice_a: float = 6.0
                ) -> list[Path]:
    """All report figures; the paths written."""
    return (gamma_figures(summary, out) + binding_figure(summary, out)
            + shape_figure(summary, out, lattice_a))


# ---------------------------------------------------------------- gamma(theta)


def _gamma_figure(summary: Mapping[str, Any], facet: str) -> Figure:
    f = _as_dict(_facets(summary).get(facet))
    fig = _new_figure(7.4, 5.0)
    ax = fig.add_subplot(1, 1, 1)
    points = [p for p in _as_list(f.get("gamma")) if isinstance(p, Mapping)]
    optimum = _as_dict(f.get("optimum"))
    # gamma itself; where gamma_bare (hence every gamma) is missing but the summary carries
    # delta = gamma - gamma_bare, that is plotted instead (theta* does not depend on it)
    field = "value"
    if not any(_num(p.get("value")) is not None for p in points) and any(
            _num(p.get("delta")) is not None for p in points):
        field = "delta"
    symbol = "γ" if field == "value" else "Δγ"

    # every ligand before its variants (tables.order_ligands); an optimum without points
    # still gets its marker
    combos = [split_ligand_key(k) for k in order_ligands(
        [(str(p.get("ligand") or "?"), _variant(p.get("variant"))) for p in points]
        + list(optimum))]

    variant_index: dict[str, int] = {}
    drawn = 0
    grey_label = "other arrangements"
    failed: list[tuple[float | None, str]] = []
    max_theta = 1.0
    for i, (lig, var) in enumerate(combos):
        color = PALETTE[i % len(PALETTE)]
        if var is None:
            ls, marker = "-", "o"
        else:
            j = variant_index.setdefault(var, len(variant_index))
            ls, marker = VARIANT_STYLES[j % len(VARIANT_STYLES)]
        label = _series_label(lig, var)
        gid = f"{lig}|{var or ''}"
        mine = [p for p in points
                if str(p.get("ligand") or "?") == lig and _variant(p.get("variant")) == var]
        by_theta: dict[float, list[float]] = {}
        for p in mine:
            theta, value = _num(p.get("theta")), _num(p.get(field))
            if theta is not None:
                max_theta = max(max_theta, theta)
            if value is None or theta is None:
                failed.append((theta, label))
                continue
            by_theta.setdefault(theta, []).append(value)
        thetas = sorted(by_theta)
        lowest = [min(by_theta[t]) for t in thetas]
        others = [(t, v) for t in thetas for v in sorted(by_theta[t])[1:]]
        if others:
            ax.plot([o[0] for o in others], [o[1] for o in others], ls="none", marker="o",
                    ms=4, color="0.6", label=grey_label, gid="gamma-other", zorder=2)
            grey_label = "_nolegend_"
        opt = _as_dict(optimum.get(lig if var is None else f"{lig}+{var}"))
        ot, ov = _num(opt.get("theta")), _num(opt.get(field))
        if ot is not None and ov is not None:
            label += f"  (θ* = {_theta(ot)}, {symbol}* = {ov:.{GAMMA_DIGITS}f} meV/Å²)"
            ax.plot([ot], [ov], ls="none", marker="*", ms=17, color=color, mec="black",
                    mew=0.8, label="_nolegend_", gid=f"gamma-optimum:{gid}", zorder=5)
        elif ot is not None:  # theta* known, its energy not: a vertical marker
            label += f"  (θ* = {_theta(ot)})"
            ax.axvline(ot, color=color, ls=ls, lw=1.2, alpha=0.8, gid=f"gamma-optimum:{gid}",
                       label="_nolegend_")
        if thetas:
            ax.plot(thetas, lowest, ls=ls, marker=marker, color=color, lw=1.8, ms=6,
                    label=label, gid=f"gamma-series:{gid}", zorder=3)
            drawn += 1
        elif ot is not None:  # keep the optimum in the legend
            ax.plot([], [], ls=ls, marker=marker, color=color, label=label)

    shell = _num(_as_dict(f.get("gamma_shell")).get(field))
    if shell is not None:
        ax.axhline(shell, color="0.45", ls=(0, (1, 2)), lw=1.2, zorder=1,
                   label=f"{symbol} of the shell without ligands (θ = 0)", gid="gamma-shell")

    if failed:
        xs = [t for t, _ in failed if t is not None]
        if xs:
            ax.plot(xs, [0.0] * len(xs), ls="none", marker="x", ms=9, mew=2, color="#c00000",
                    transform=ax.get_xaxis_transform(), clip_on=False, zorder=6,
                    label=NOT_COMPUTED, gid="gamma-missing")
        text = "; ".join(f"{lab} at θ = {_grid(t)}" if t is not None else lab
                         for t, lab in failed[:4])
        if len(failed) > 4:
            text += f"; and {len(failed) - 4} more"
        ax.text(0.01, 0.99, f"{NOT_COMPUTED}: {text}", transform=ax.transAxes, va="top",
                ha="left", fontsize=8, color="#c00000", wrap=True)
    if field == "delta":
        ax.text(0.01, 0.93, "γ_bare not computed: Δγ = γ − γ_bare shown",
                transform=ax.transAxes, va="top", ha="left", fontsize=8, color="0.3")

    if drawn == 0:
        _note(ax, f"γ(θ) {NOT_COMPUTED}")
    else:  # headroom for the legend and the notes
        y0, y1 = ax.get_ylim()
        ax.set_ylim(y0, y1 + 0.2 * (y1 - y0))
    ax.set_xlim(0.0, max_theta + 0.05)
    ax.set_xlabel("coverage θ (ligands per surface cation)")
    what = "interfacial energy γ" if field == "value" else "Δγ = γ − γ_bare"
    ax.set_ylabel(f"{what} (meV/Å²)")
    sec = ax.secondary_yaxis("right", functions=(lambda y: y * MEV_A2_TO_J_M2,
                                                 lambda y: y / MEV_A2_TO_J_M2))
    sec.set_ylabel(f"{symbol} (J/m²)")
    ax.grid(alpha=0.3)
    ax.set_title(f"Interfacial energy of the {_braces(facet)} facet{_slab_note(f)}")
    handles, labels = ax.get_legend_handles_labels()
    if any(_num(_as_dict(o).get("theta")) is not None for o in optimum.values()):
        handles.append(Line2D([], [], ls="none", marker="*", ms=12, color="0.8", mec="black"))
        labels.append("optimum θ*")
    if handles:
        ax.legend(handles, labels, loc="best", fontsize=8, framealpha=0.85)
    return fig


def _theta(t: float) -> str:
    """theta* (often interpolated, e.g. 0.883897) to two decimals: "0.88"."""
    return f"{t:.{THETA_DIGITS}f}"


def _grid(t: float) -> str:
    """A computed coverage as in the study (0.375 stays 0.375, 1 is "1"), never longer."""
    return f"{round(t, 3):g}"


def _series_label(ligand: str, variant: str | None) -> str:
    return ligand if variant is None else f"{ligand} + {variant}"


def _variant(v: Any) -> str | None:
    return None if v is None or v == "" else str(v)


def _slab_note(f: Mapping[str, Any]) -> str:
    sym = f.get("symmetric")
    if sym is True:
        return " (symmetric slab)"
    if sym is False:
        return " (asymmetric slab, one active face)"
    return ""


# ---------------------------------------------------------------- binding energies


def _binding_figure(summary: Mapping[str, Any]) -> Figure:
    facets = _facets(summary)
    entries: dict[str, list[Mapping[str, Any]]] = {
        k: [b for b in _as_list(_as_dict(f).get("binding")) if isinstance(b, Mapping)]
        for k, f in facets.items()}
    species: dict[str, str] = {}
    for bs in entries.values():
        for b in bs:
            species.setdefault(str(b.get("species") or "?"), str(b.get("role") or ""))
    order = sorted(species, key=lambda s: (ROLE_ORDER.get(species[s], 9),
                                           list(species).index(s)))
    colors = {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(order)}

    n_max = max([len(bs) for bs in entries.values()] + [1])
    fig = _new_figure(max(7.5, 2.6 + 0.55 * n_max * max(len(entries), 1)), 5.0)
    ax = fig.add_subplot(1, 1, 1)
    width = 0.8 / n_max
    seen: set[str] = set()
    ticks, ticklabels = [], []
    lo, hi = 0.0, 0.0
    n_bars = 0
    for g, (facet, bs) in enumerate(entries.items()):
        bs = sorted(bs, key=lambda b: order.index(str(b.get("species") or "?")))
        x0 = g - width * (len(bs) - 1) / 2
        for j, b in enumerate(bs):
            sp = str(b.get("species") or "?")
            role = str(b.get("role") or "")
            x = x0 + j * width
            value = _num(b.get("value"))
            label = f"{sp} ({role})" if role else sp
            if value is None:
                ax.annotate(f"{sp}: {NOT_COMPUTED}", (x, 0), xytext=(0, -4),
                            textcoords="offset points", ha="center", va="top", fontsize=8,
                            color="#c00000", rotation=90)
                continue
            ax.bar([x], [value], width * 0.92, color=colors[sp], edgecolor="black",
                   lw=0.6, hatch=ROLE_HATCH.get(role, ""),
                   label=label if sp not in seen else "_nolegend_",
                   gid=f"binding:{facet}|{sp}")
            seen.add(sp)
            n_bars += 1
            lo, hi = min(lo, value), max(hi, value)
            ax.annotate(f"{value:.{ENERGY_DIGITS}f}", (x, value),
                        xytext=(0, -3 if value < 0 else 3),
                        textcoords="offset points", ha="center",
                        va="top" if value < 0 else "bottom", fontsize=7.5)
        if not bs:
            ax.annotate(NOT_COMPUTED, (g, 0), xytext=(0, -6), textcoords="offset points",
                        ha="center", va="top", fontsize=9, color="#c00000")
        ticks.append(g)
        thetas = {_num(b.get("theta")) for b in bs} - {None}
        extra = f"\nθ = {_grid(thetas.pop())}" if len(thetas) == 1 else ""
        ticklabels.append(f"{_braces(facet)}{extra}" if bs else f"{_braces(facet)}\n(none)")
    ax.axhline(0.0, color="black", lw=0.9)
    ax.set_xticks(ticks, ticklabels)
    ax.set_xlim(-0.6, max(len(entries), 1) - 0.4)
    span = max(hi - lo, 0.5)
    ax.set_ylim(lo - 0.15 * span, hi + 0.15 * span)
    ax.set_xlabel("facet (coverage of the binding calculation)")
    ax.set_ylabel("binding energy E_b (eV)\nnegative = bound")
    ax.set_title("Binding energies at the optimal coverage")
    ax.grid(axis="y", alpha=0.3)
    if n_bars == 0:
        _note(ax, f"binding energies {NOT_COMPUTED}")
    else:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, title="species",
                  title_fontsize=8)
    return fig


# ---------------------------------------------------------------- shapes


DRAW_RATE_FLOOR = 1e-3  # relative growth rate below which a facet is drawn at this rate


def _shape_figure(summary: Mapping[str, Any], lattice_a: float = 6.0) -> Figure:
    cases = _as_dict(_as_dict(summary.get("growth")).get("cases"))
    cases = {str(k): _as_dict(v) for k, v in cases.items()}
    n = max(len(cases), 1)
    fig = _new_figure(4.8 * n + 0.4, 5.4)
    if not cases:
        ax = fig.add_subplot(1, 1, 1)
        ax.set_axis_off()
        ax.set_title("Predicted shapes")
        _note(ax, f"growth cases {NOT_COMPUTED}")
        return fig
    families: list[str] = []
    for case in cases.values():
        for k in _as_dict(case.get("rates")):
            fam = _family_key(k)
            if fam and fam not in families:
                families.append(fam)
    colors = {fam: FAMILY_COLORS.get(fam, PALETTE[(i + 4) % len(PALETTE)])
              for i, fam in enumerate(families)}
    for i, (name, case) in enumerate(cases.items()):
        ax = fig.add_subplot(1, n, i + 1, projection="3d")
        _draw_shape(ax, name, case, colors, lattice_a)
    fig.suptitle("Predicted shapes: kinetic Wulff construction from the relative growth "
                 "rates", fontsize=11)
    return fig


def _draw_shape(ax, name: str, case: Mapping[str, Any], colors: Mapping[str, str],
                lattice_a: float) -> None:
    from mpl_toolkits.mplot3d.art3d import Poly3DCollection

    ax.set_axis_off()
    rates: dict[tuple[int, int, int], float] = {}
    for k, v in _as_dict(case.get("rates")).items():
        m, r = _miller(k), _num(v)
        if m is not None and r is not None and r > 0:
            rates[m] = r
    shape_info = _as_dict(case.get("shape"))
    aspect = _num(shape_info.get("aspect_ratio"))
    aniso = _num(case.get("anisotropy_index"))
    if not rates:
        ax.set_title(_shape_title(name, aspect, aniso), fontsize=10)
        why = str(case.get("note") or "")
        _note(ax, f"growth rates {NOT_COMPUTED}" + (f":\n{_wrap(why)}" if why else ""))
        return
    try:
        from pymatgen.analysis.wulff import WulffShape
        from pymatgen.core import Lattice

        millers = list(rates)
        # drawn from rates relative to the fastest, floored at DRAW_RATE_FLOOR (a facet
        # 1000x slower already bounds the shape alone) and scaled so the slowest is 1:
        # rates 1e-15 apart would otherwise give a shape too small to draw
        top = max(rates.values())
        rel = {m: max(r / top, DRAW_RATE_FLOOR) for m, r in rates.items()}
        low = min(rel.values())
        shape = WulffShape(Lattice.cubic(lattice_a), millers, [rel[m] / low for m in millers])
        pts = np.asarray(shape.wulff_pt_list, dtype=float)
    except Exception as exc:  # a degenerate input must not stop the report
        ax.set_title(_shape_title(name, aspect, aniso), fontsize=10)
        _note(ax, f"shape {NOT_COMPUTED}:\n{_wrap(f'{type(exc).__name__}: {exc}')}")
        return
    if aspect is None:
        from facetflow.analysis.growth import _calipers

        diameter, width = _calipers(pts)
        aspect = diameter / width if width > 0 else None
    light = np.array([0.4, -0.5, 0.77])
    light /= np.linalg.norm(light)
    polys, faces = [], []
    for plane in shape.facets:
        line = shape.get_line_in_facet(plane) if len(plane.points) else []  # triangles
        if len(line) < 3:  # a plane that only touches the shape (at an edge or a corner)
            continue
        fam = _family_key(millers[plane.index])
        shade = 0.55 + 0.45 * max(0.0, float(np.dot(np.asarray(plane.normal, float), light)))
        polys.append(line)
        faces.append(tuple(min(1.0, c * shade) for c in to_rgb(colors.get(fam, "0.7"))))
    coll = Poly3DCollection(polys, facecolors=faces, edgecolors="0.25", linewidths=0.5)
    ax.add_collection3d(coll)
    r = float(np.linalg.norm(pts, axis=1).max()) * 0.8
    ax.set_xlim(-r, r)
    ax.set_ylim(-r, r)
    ax.set_zlim(-r, r)
    ax.set_box_aspect((1, 1, 1))
    ax.view_init(elev=20, azim=-62)
    ax.set_title(_shape_title(name, aspect, aniso), fontsize=10)
    areas: dict[str, float] = {}
    for m, a in shape.area_fraction_dict.items():
        fam = _family_key(m)
        areas[fam] = areas.get(fam, 0.0) + float(a)
    handles = [Patch(facecolor=colors[fam], edgecolor="0.25",
                     label=f"{_braces(fam)}  {100 * areas.get(fam, 0.0):.0f} % of area, "
                           f"rate {rates[m]:.3g}")
               for m in millers for fam in [_family_key(m)] if fam in colors]
    ax.legend(handles=handles, loc="lower center", fontsize=7.5, framealpha=0.85,
              bbox_to_anchor=(0.5, -0.08))


def _wrap(text: str, width: int = 36, limit: int = 160) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text[:limit], width))


def _shape_title(name: str, aspect: float | None, aniso: float | None) -> str:
    a = f"aspect ratio {aspect:.2f}" if aspect is not None else f"aspect ratio {NOT_COMPUTED}"
    b = f", anisotropy index {ratio_text(aniso)}" if aniso is not None else ""
    return f"{name}\n{a}{b}"


def _family_key(key: Any) -> str | None:
    m = _miller(key)
    if m is None:
        return None
    return "".join(str(i) for i in sorted((abs(i) for i in m), reverse=True))


def _miller(key: Any) -> tuple[int, int, int] | None:
    """"100" -> (1, 0, 0); "-1-1-1" -> (-1, -1, -1); "1 1 10" -> (1, 1, 10); [1, 1, 0]
    -> (1, 1, 0); anything else -> None."""
    if isinstance(key, (list, tuple)) and len(key) == 3:
        try:
            return tuple(int(i) for i in key)  # type: ignore[return-value]
        except (TypeError, ValueError):
            return None
    text = str(key).strip().strip("{}()[]")
    tokens = (re.findall(r"-?\d+", text) if re.search(r"[\s,]", text)
              else re.findall(r"-?\d", text))
    if len(tokens) != 3:
        return None
    m = tuple(int(t) for t in tokens)
    return None if m == (0, 0, 0) else m  # type: ignore[return-value]


# ---------------------------------------------------------------- helpers


def defects_figure(summary: Mapping[str, Any], out: str | Path) -> list[Path]:
    """Grouped bars of E_f per defect, without and with each ligand, per limit, and of
    dE_f: ``defects.png`` and ``.svg``; nothing when the summary has no defects."""
    if not _as_dict(summary).get("defects"):
        return []
    fig = _guarded(lambda: _defects_figure(summary), "defect formation energies")
    return _save(fig, out, "defects")


def defect_bars(summary: Mapping[str, Any]) -> tuple[list[tuple[str, str]], list[str | None],
                                                      dict]:
    """The bars of the defects figure: groups (facet, defect), series (None = no ligand,
    then each ligand) and {(facet, defect, ligand): entry} at the position where the
    defect without ligand has its lowest E_f (first limit)."""
    d = _as_dict(_as_dict(summary).get("defects"))
    entries = [e for e in _as_list(d.get("entries")) if isinstance(e, Mapping)]
    groups: list[tuple[str, str]] = []
    series: list[str | None] = [None]
    site: dict[tuple[str, str], Any] = {}
    for e in entries:
        key = (str(e.get("facet")), str(e.get("defect")))
        if key not in groups:
            groups.append(key)
        if e.get("ligand") is not None and e.get("ligand") not in series:
            series.append(e.get("ligand"))
        if e.get("ligand") is None and e.get("lowest"):
            site[key] = e.get("site")
    chosen = {}
    for e in entries:
        key = (str(e.get("facet")), str(e.get("defect")))
        if e.get("site") == site.get(key, e.get("site")):
            chosen.setdefault((*key, e.get("ligand")), e)
    return groups, series, chosen


def _defects_figure(summary: Mapping[str, Any]) -> Figure:
    d = _as_dict(_as_dict(summary).get("defects"))
    limits = _as_dict(d.get("limits"))
    groups, series, chosen = defect_bars(summary)
    panels = [(lim, f"E_f, {_as_dict(info).get('name') or lim} (eV per defect)")
              for lim, info in limits.items()] + [(None, "dE_f = E_f(ligand) - E_f (eV)")]
    fig = _new_figure(max(7.0, 1.2 + 1.1 * max(len(groups), 1) * len(panels) ** 0.5 * 1.6),
                      2.9 * len(panels))
    width = 0.8 / max(len(series), 1)
    several = len({g[0] for g in groups}) > 1
    for p, (lim, title) in enumerate(panels):
        ax = fig.add_subplot(len(panels), 1, p + 1)
        n_bars = 0
        for g, (facet, defect) in enumerate(groups):
            for j, lig in enumerate(series):
                e = chosen.get((facet, defect, lig))
                if e is None or (lim is None and lig is None):
                    continue
                value = _num(e.get("dE_f")) if lim is None else _num(
                    _as_dict(e.get("E_f")).get(lim))
                x = g - 0.4 + width * (j + 0.5)
                if value is None:
                    ax.annotate("n/c", (x, 0), ha="center", va="bottom", fontsize=7,
                                color="#c00000")
                    continue
                name = "no ligand" if lig is None else str(lig)
                ax.bar([x], [value], width * 0.92, color=PALETTE[j % len(PALETTE)],
                       edgecolor="black", lw=0.6, label=name,
                       gid=f"defect:{lim}|{facet}|{defect}|{lig}")
                ax.annotate(f"{value:.{ENERGY_DIGITS}f}", (x, value),
                            xytext=(0, -3 if value < 0 else 3),
                            textcoords="offset points", ha="center",
                            va="top" if value < 0 else "bottom", fontsize=7)
                n_bars += 1
        ax.axhline(0.0, color="black", lw=0.8)
        ax.set_xticks(range(len(groups)),
                      [f"{{{f}}} {k}" if several else k for f, k in groups])
        ax.set_xlim(-0.6, max(len(groups), 1) - 0.4)
        ax.set_ylabel(title, fontsize=8)
        ax.grid(axis="y", alpha=0.3)
        if n_bars == 0:
            _note(ax, NOT_COMPUTED)
        else:
            handles, labels = ax.get_legend_handles_labels()
            uniq = dict(zip(labels, handles, strict=True))
            ax.legend(uniq.values(), uniq.keys(), fontsize=7, loc="upper left",
                      bbox_to_anchor=(1.01, 1.0))
    fig.suptitle("Defect formation energies at the most stable position of each defect")
    return fig


def _new_figure(w: float, h: float) -> Figure:
    fig = Figure(figsize=(w, h), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, out: str | Path, stem: str) -> list[Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{stem}.png", out / f"{stem}.svg"]
    fig.savefig(paths[0], dpi=150)
    fig.savefig(paths[1])
    return paths


def _guarded(build, what: str) -> Figure:
    """Build a figure; if drawing fails on data the code did not foresee, warn and return
    a figure that says so, so the rest of the report is still written."""
    try:
        return build()
    except Exception as exc:  # anything unforeseen: note it, keep going
        warnings.warn(f"{what}: figure failed ({type(exc).__name__}: {exc})", FigureWarning,
                      stacklevel=3)
        fig = _new_figure(6.0, 4.0)
        ax = fig.add_subplot(1, 1, 1)
        ax.set_axis_off()
        ax.set_title(what[:1].upper() + what[1:])
        _note(ax, f"{NOT_COMPUTED}: figure failed\n({type(exc).__name__})")
        return fig


def _note(ax, text: str) -> None:
    kw = dict(ha="center", va="center", fontsize=12, color="0.35",
              bbox=dict(boxstyle="round", fc="white", ec="0.6"))
    if hasattr(ax, "text2D"):
        ax.text2D(0.5, 0.5, text, transform=ax.transAxes, **kw)
    else:
        ax.text(0.5, 0.5, text, transform=ax.transAxes, **kw)


def _braces(facet: Any) -> str:
    return f"{{{facet}}}"


def _safe_stem(facet: Any) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(facet)) or "facet"
