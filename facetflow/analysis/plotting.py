"""What the report figures share: the canvas, saving, the guard that turns an unforeseen
failure into a note, styles, and how numbers and facets are written in them.

Figures are built with the object-oriented API on an Agg canvas: no pyplot, no global
backend switch, nothing kept alive after saving.
"""

from __future__ import annotations

import re
import textwrap
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

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


def new_figure(w: float, h: float) -> Figure:
    """An empty figure of ``w`` x ``h`` inches on its own Agg canvas."""
    fig = Figure(figsize=(w, h), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save(fig: Figure, out: str | Path, stem: str) -> list[Path]:
    """``out/<stem>.png`` (150 dpi) and ``.svg``; the paths written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{stem}.png", out / f"{stem}.svg"]
    fig.savefig(paths[0], dpi=150)
    fig.savefig(paths[1])
    return paths


def guarded(build: Callable[[], Figure], what: str) -> Figure:
    """Build a figure; if drawing fails on data the code did not foresee, warn and return
    a figure that says so, so the rest of the report is still written."""
    try:
        return build()
    except Exception as exc:  # anything unforeseen: note it, keep going
        warnings.warn(f"{what}: figure failed ({type(exc).__name__}: {exc})", FigureWarning,
                      stacklevel=3)
        fig = new_figure(6.0, 4.0)
        ax = fig.add_subplot(1, 1, 1)
        ax.set_axis_off()
        ax.set_title(what[:1].upper() + what[1:])
        note(ax, f"{NOT_COMPUTED}: figure failed\n({type(exc).__name__})")
        return fig


def note(ax, text: str) -> None:
    """A boxed note in the middle of ``ax`` (2D or 3D axes)."""
    kw = dict(ha="center", va="center", fontsize=12, color="0.35",
              bbox=dict(boxstyle="round", fc="white", ec="0.6"))
    if hasattr(ax, "text2D"):
        ax.text2D(0.5, 0.5, text, transform=ax.transAxes, **kw)
    else:
        ax.text(0.5, 0.5, text, transform=ax.transAxes, **kw)


def wrap(text: str, width: int = 36, limit: int = 160) -> str:
    """The first ``limit`` characters of ``text`` in lines of ``width``."""
    return "\n".join(textwrap.wrap(text[:limit], width))


def braces(facet: Any) -> str:
    """A facet label as a family: ``{111}``."""
    return f"{{{facet}}}"


def safe_stem(facet: Any) -> str:
    """A facet label usable in a file name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(facet)) or "facet"


def theta_text(t: float) -> str:
    """theta* (often interpolated, e.g. 0.883897) to two decimals: "0.88"."""
    return f"{t:.{THETA_DIGITS}f}"


def grid_text(t: float) -> str:
    """A computed coverage as in the study (0.375 stays 0.375, 1 is "1"), never longer."""
    return f"{round(t, 3):g}"


def miller_of(key: Any) -> tuple[int, ...] | None:
    """"100" -> (1, 0, 0); "-1-1-1" -> (-1, -1, -1); "1 1 10" -> (1, 1, 10); [1, 1, 0]
    -> (1, 1, 0); Miller-Bravais [1, 0, -1, 0] -> (1, 0, -1, 0); anything else -> None."""
    if isinstance(key, (list, tuple)) and len(key) in (3, 4):
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


def family_key(key: Any) -> str | None:
    """The family of a facet key: sorted absolute Miller indices ("1-10" -> "110")."""
    m = miller_of(key)
    if m is None:
        return None
    return "".join(str(i) for i in sorted((abs(i) for i in m), reverse=True))
