"""The predicted-shapes figure (``shapes.png``): kinetic Wulff shapes with the crystal's
point group (``facetflow.analysis.wulff``, the relative growth rates in place of surface
energies), one 3D panel per growth case, faces coloured by facet family with their share
of the area. With error bars (``summary.json: uncertainty.shapes``) a row of three small
panels under each case: the shapes with every facet at its median rate and at its 5 %
and 95 % rate over the Monte Carlo samples (each facet at its own quantile of its rate
relative to the nominally fastest facet's), in the same colours, titled with their
aspect ratios."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from facetflow.analysis.plotting import (
    FAMILY_COLORS,
    NOT_COMPUTED,
    PALETTE,
    braces,
    miller_of,
    new_figure,
    note,
    wrap,
)
from facetflow.analysis.summary_view import as_dict, facets_of, num, ratio_text
from facetflow.analysis.wulff import WulffResult, wulff_shape
from facetflow.structures.materials import Compound, compound_names, get_compound

DRAW_RATE_FLOOR = 1e-3  # relative growth rate below which a facet is drawn at this rate
CUBIC_FALLBACK = "PbS"  # an m-3m crystal for summaries that do not name theirs
QUANTILES = (("low", "5 % rates"), ("median", "median rates"), ("high", "95 % rates"))


def shape_figure(summary: Mapping[str, Any], lattice_a: float = 6.0) -> Figure:
    """One 3D panel per growth case (not saved), and under it the shapes of the median,
    5 % and 95 % rates where ``uncertainty.shapes`` has them. The shape has the point
    group of the case's crystal (``shape.material``; a summary without it is drawn as a
    cubic m-3m crystal); ``lattice_a`` is kept for callers and does not change the
    shape."""
    cases = as_dict(as_dict(summary.get("growth")).get("cases"))
    cases = {str(k): as_dict(v) for k, v in cases.items()}
    spread = {k: as_dict(v) for k, v in as_dict(as_dict(
        summary.get("uncertainty")).get("shapes")).items() if k in cases}
    n = max(len(cases), 1)
    fig = new_figure(4.8 * n + 0.4, 5.4 + (2.6 if spread else 0.0))
    if not cases:
        ax = fig.add_subplot(1, 1, 1)
        ax.set_axis_off()
        ax.set_title("Predicted shapes")
        note(ax, f"growth cases {NOT_COMPUTED}")
        return fig
    millers = {k: as_dict(f).get("miller") or k for k, f in facets_of(summary).items()}
    colors = _family_colors(cases, millers)
    grid = fig.add_gridspec(2 if spread else 1, 3 * n,
                            height_ratios=[2.3, 1.0] if spread else None)
    for i, (name, case) in enumerate(cases.items()):
        ax = fig.add_subplot(grid[0, 3 * i:3 * i + 3], projection="3d")
        _draw_shape(ax, name, case, colors, millers)
        for j, (key, label) in enumerate(QUANTILES if spread else ()):
            small = fig.add_subplot(grid[1, 3 * i + j], projection="3d")
            _draw_quantile(small, label, as_dict(spread.get(name)).get(key), case,
                           colors, millers)
    title = "Predicted shapes: kinetic Wulff construction from the relative growth rates"
    if spread:
        samples = as_dict(summary.get("uncertainty")).get("samples")
        title += (f"\nsmall panels: each facet at its 5 %, median and 95 % rate (relative "
                  f"to the fastest facet's) over {samples} samples")
    fig.suptitle(title, fontsize=11)
    return fig


def _family_colors(cases: Mapping[str, Mapping[str, Any]], millers: Mapping[str, Any]
                   ) -> dict[str, str]:
    """One colour per facet family met in the cases' rates (the usual colour of a
    family where ``FAMILY_COLORS`` has one)."""
    families: list[str] = []
    for case in cases.values():
        for k in as_dict(case.get("rates")):
            fam = face_key(miller_of(millers.get(str(k), k)))
            if fam and fam not in families:
                families.append(fam)
    return {fam: FAMILY_COLORS.get(fam, PALETTE[(i + 4) % len(PALETTE)])
            for i, fam in enumerate(families)}


def _rates_by_miller(rates: Any, millers: Mapping[str, Any]) -> dict[tuple[int, ...], float]:
    """facet label -> relative rate, as family indices -> rate (positive rates only)."""
    out: dict[tuple[int, ...], float] = {}
    for k, v in as_dict(rates).items():
        m, r = miller_of(millers.get(str(k), k)), num(v)
        if m is not None and r is not None and r > 0:
            out[m] = r
    return out


def _draw_quantile(ax, label: str, entry: Any, case: Mapping[str, Any],
                   colors: Mapping[str, str], millers: Mapping[str, Any]) -> None:
    """A small panel: the shape with every facet at one quantile of its rate
    (``uncertainty.shapes.<case>.<median|low|high>``), or a note saying why none."""
    ax.set_axis_off()
    rates = _rates_by_miller(as_dict(entry).get("rates"), millers)
    aspect = num(as_dict(entry).get("aspect_ratio"))
    ax.set_title(label + (f"\naspect ratio {aspect:.2f}" if aspect is not None else ""),
                 fontsize=8.5)
    if not rates:
        note(ax, NOT_COMPUTED)
        return
    try:
        _draw_faces(ax, _wulff(rates, _crystal(case)), colors)
    except Exception as exc:  # noqa: BLE001 - a degenerate input must not stop the report
        note(ax, f"{NOT_COMPUTED}:\n{wrap(type(exc).__name__)}")


def face_key(m: tuple[int, ...] | None) -> str | None:
    """A family as the point-group construction keeps it: its indices written together
    (``111`` and ``-1-1-1`` apart on -43m, ``0001`` and ``000-1`` on 6mm)."""
    return None if m is None else "".join(str(i) for i in m)


def _crystal(case: Mapping[str, Any]) -> Compound:
    """The case's crystal: ``shape.material`` when the table knows it, else cubic m-3m."""
    name = as_dict(case.get("shape")).get("material")
    return get_compound(name if name in compound_names() else CUBIC_FALLBACK)


def _draw_shape(ax, name: str, case: Mapping[str, Any], colors: Mapping[str, str],
                millers: Mapping[str, Any]) -> None:
    """One case's shape on ``ax``, or a note saying why there is none."""
    ax.set_axis_off()
    rates = _rates_by_miller(case.get("rates"), millers)
    shape_info = as_dict(case.get("shape"))
    aspect, aniso = num(shape_info.get("aspect_ratio")), num(case.get("anisotropy_index"))
    along_c = num(shape_info.get("aspect_ratio_c"))
    if not rates:
        ax.set_title(_shape_title(name, aspect, aniso, along_c), fontsize=10)
        why = str(case.get("note") or "")
        note(ax, f"growth rates {NOT_COMPUTED}" + (f":\n{wrap(why)}" if why else ""))
        return
    try:
        shape = _wulff(rates, _crystal(case))
    except Exception as exc:  # a degenerate input must not stop the report
        ax.set_title(_shape_title(name, aspect, aniso, along_c), fontsize=10)
        note(ax, f"shape {NOT_COMPUTED}:\n{wrap(f'{type(exc).__name__}: {exc}')}")
        return
    _draw_faces(ax, shape, colors)
    ax.set_title(_shape_title(name, aspect if aspect is not None else shape.aspect_ratio,
                              aniso, along_c if along_c is not None
                              else shape.aspect_ratio_c), fontsize=10)
    areas = {face_key(m): a for m, a in shape.facet_area_fractions.items()}
    handles = [Patch(facecolor=colors[fam], edgecolor="0.25",
                     label=f"{braces(fam)}  {100 * areas.get(fam, 0.0):.0f} % of area, "
                           f"rate {rates[m]:.3g}")
               for m in rates for fam in [face_key(m)] if fam in colors]
    ax.legend(handles=handles, loc="lower center", fontsize=7.5, framealpha=0.85,
              bbox_to_anchor=(0.5, -0.08))


def _wulff(rates: Mapping[tuple[int, ...], float], crystal: Compound) -> WulffResult:
    """The Wulff shape drawn from rates relative to the fastest, floored at
    ``DRAW_RATE_FLOOR`` (a facet 1000x slower already bounds the shape alone) and scaled
    so the slowest is 1: rates 1e-15 apart would otherwise give a shape too small to
    draw."""
    top = max(rates.values())
    rel = {m: max(r / top, DRAW_RATE_FLOOR) for m, r in rates.items()}
    low = min(rel.values())
    return wulff_shape(crystal, {m: v / low for m, v in rel.items()})


def _draw_faces(ax, shape: WulffResult, colors: Mapping[str, str]) -> None:
    """The shape's faces, shaded by a fixed light, in a cube around it."""
    from mpl_toolkits.mplot3d.art3d import Poly3DCollection

    light = np.array([0.4, -0.5, 0.77])
    light /= np.linalg.norm(light)
    polys, faces = [], []
    for m, verts in shape.faces:
        if len(verts) < 3:  # a plane that only touches the shape (at an edge or a corner)
            continue
        normal = np.cross(verts[1] - verts[0], verts[2] - verts[0])
        normal *= np.sign(np.dot(normal, verts.mean(axis=0))) / (np.linalg.norm(normal)
                                                                  or 1.0)
        shade = 0.55 + 0.45 * max(0.0, float(np.dot(normal, light)))
        polys.append(verts)
        faces.append(tuple(min(1.0, c * shade)
                           for c in to_rgb(colors.get(face_key(m) or "", "0.7"))))
    ax.add_collection3d(Poly3DCollection(polys, facecolors=faces, edgecolors="0.25",
                                         linewidths=0.5))
    pts = np.vstack([v for _m, v in shape.faces])
    r = float(np.linalg.norm(pts, axis=1).max()) * 0.8
    ax.set_xlim(-r, r)
    ax.set_ylim(-r, r)
    ax.set_zlim(-r, r)
    ax.set_box_aspect((1, 1, 1))
    ax.view_init(elev=20, azim=-62)


def _shape_title(name: str, aspect: float | None, aniso: float | None,
                 along_c: float | None = None) -> str:
    a = f"aspect ratio {aspect:.2f}" if aspect is not None else f"aspect ratio {NOT_COMPUTED}"
    c = f" (along c {along_c:.2f})" if along_c is not None else ""
    b = f", anisotropy index {ratio_text(aniso)}" if aniso is not None else ""
    return f"{name}\n{a}{c}{b}"
