"""The predicted-shapes figure (``shapes.png``): kinetic Wulff shapes (pymatgen
``WulffShape`` with the relative growth rates in place of surface energies), one 3D panel
per growth case, faces coloured by facet family with their share of the area."""

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
    family_key,
    miller_of,
    new_figure,
    note,
    wrap,
)
from facetflow.analysis.summary_view import as_dict, facets_of, num, ratio_text
from facetflow.analysis.wulff import calipers

DRAW_RATE_FLOOR = 1e-3  # relative growth rate below which a facet is drawn at this rate


def shape_figure(summary: Mapping[str, Any], lattice_a: float = 6.0) -> Figure:
    """One 3D panel per growth case (not saved); ``lattice_a`` (Å) only sets the scale."""
    cases = as_dict(as_dict(summary.get("growth")).get("cases"))
    cases = {str(k): as_dict(v) for k, v in cases.items()}
    n = max(len(cases), 1)
    fig = new_figure(4.8 * n + 0.4, 5.4)
    if not cases:
        ax = fig.add_subplot(1, 1, 1)
        ax.set_axis_off()
        ax.set_title("Predicted shapes")
        note(ax, f"growth cases {NOT_COMPUTED}")
        return fig
    millers = {k: as_dict(f).get("miller") or k for k, f in facets_of(summary).items()}
    families: list[str] = []
    for case in cases.values():
        for k in as_dict(case.get("rates")):
            fam = family_key(millers.get(str(k), k))
            if fam and fam not in families:
                families.append(fam)
    colors = {fam: FAMILY_COLORS.get(fam, PALETTE[(i + 4) % len(PALETTE)])
              for i, fam in enumerate(families)}
    for i, (name, case) in enumerate(cases.items()):
        ax = fig.add_subplot(1, n, i + 1, projection="3d")
        _draw_shape(ax, name, case, colors, lattice_a, millers)
    fig.suptitle("Predicted shapes: kinetic Wulff construction from the relative growth "
                 "rates", fontsize=11)
    return fig


def _draw_shape(ax, name: str, case: Mapping[str, Any], colors: Mapping[str, str],
                lattice_a: float, millers: Mapping[str, Any]) -> None:
    """One case's shape on ``ax``, or a note saying why there is none."""
    ax.set_axis_off()
    rates: dict[tuple[int, int, int], float] = {}
    for k, v in as_dict(case.get("rates")).items():
        m, r = miller_of(millers.get(str(k), k)), num(v)
        if m is not None and r is not None and r > 0:
            rates[m] = r
    aspect = num(as_dict(case.get("shape")).get("aspect_ratio"))
    aniso = num(case.get("anisotropy_index"))
    title = (name, aspect, aniso)
    if not rates:
        ax.set_title(_shape_title(*title), fontsize=10)
        why = str(case.get("note") or "")
        note(ax, f"growth rates {NOT_COMPUTED}" + (f":\n{wrap(why)}" if why else ""))
        return
    try:
        shape = _wulff(rates, lattice_a)
        pts = np.asarray(shape.wulff_pt_list, dtype=float)
    except Exception as exc:  # a degenerate input must not stop the report
        ax.set_title(_shape_title(*title), fontsize=10)
        note(ax, f"shape {NOT_COMPUTED}:\n{wrap(f'{type(exc).__name__}: {exc}')}")
        return
    if aspect is None:
        diameter, width = calipers(pts)
        aspect = diameter / width if width > 0 else None
    _draw_faces(ax, shape, list(rates), colors, pts)
    ax.set_title(_shape_title(name, aspect, aniso), fontsize=10)
    areas: dict[str, float] = {}
    for m, a in shape.area_fraction_dict.items():
        fam = family_key(m)
        areas[fam] = areas.get(fam, 0.0) + float(a)
    handles = [Patch(facecolor=colors[fam], edgecolor="0.25",
                     label=f"{braces(fam)}  {100 * areas.get(fam, 0.0):.0f} % of area, "
                           f"rate {rates[m]:.3g}")
               for m in rates for fam in [family_key(m)] if fam in colors]
    ax.legend(handles=handles, loc="lower center", fontsize=7.5, framealpha=0.85,
              bbox_to_anchor=(0.5, -0.08))


def _wulff(rates: Mapping[tuple[int, int, int], float], lattice_a: float):
    """The Wulff shape drawn from rates relative to the fastest, floored at
    ``DRAW_RATE_FLOOR`` (a facet 1000x slower already bounds the shape alone) and scaled
    so the slowest is 1: rates 1e-15 apart would otherwise give a shape too small to
    draw."""
    from pymatgen.analysis.wulff import WulffShape
    from pymatgen.core import Lattice

    millers = list(rates)
    top = max(rates.values())
    rel = {m: max(r / top, DRAW_RATE_FLOOR) for m, r in rates.items()}
    low = min(rel.values())
    return WulffShape(Lattice.cubic(lattice_a), millers, [rel[m] / low for m in millers])


def _draw_faces(ax, shape, millers: list[tuple[int, int, int]],
                colors: Mapping[str, str], pts: np.ndarray) -> None:
    """The shape's faces, shaded by a fixed light, in a cube around it."""
    from mpl_toolkits.mplot3d.art3d import Poly3DCollection

    light = np.array([0.4, -0.5, 0.77])
    light /= np.linalg.norm(light)
    polys, faces = [], []
    for plane in shape.facets:
        line = shape.get_line_in_facet(plane) if len(plane.points) else []  # triangles
        if len(line) < 3:  # a plane that only touches the shape (at an edge or a corner)
            continue
        fam = family_key(millers[plane.index])
        shade = 0.55 + 0.45 * max(0.0, float(np.dot(np.asarray(plane.normal, float), light)))
        polys.append(line)
        faces.append(tuple(min(1.0, c * shade) for c in to_rgb(colors.get(fam, "0.7"))))
    ax.add_collection3d(Poly3DCollection(polys, facecolors=faces, edgecolors="0.25",
                                         linewidths=0.5))
    r = float(np.linalg.norm(pts, axis=1).max()) * 0.8
    ax.set_xlim(-r, r)
    ax.set_ylim(-r, r)
    ax.set_zlim(-r, r)
    ax.set_box_aspect((1, 1, 1))
    ax.view_init(elev=20, azim=-62)


def _shape_title(name: str, aspect: float | None, aniso: float | None) -> str:
    a = f"aspect ratio {aspect:.2f}" if aspect is not None else f"aspect ratio {NOT_COMPUTED}"
    b = f", anisotropy index {ratio_text(aniso)}" if aniso is not None else ""
    return f"{name}\n{a}{b}"
