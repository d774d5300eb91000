"""PNG pictures of structures: a side view (along a1, slab normal up) and a top view.

Atoms are drawn as one ``EllipseCollection`` per view (circles of 0.6 x covalent radius
in Å, Jmol colours, far atoms first), which is ~20x faster than one patch per atom and
keeps picture-writing a small part of a study's run time.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ase import Atoms
from ase.data import covalent_radii
from ase.data.colors import jmol_colors
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import EllipseCollection
from matplotlib.figure import Figure

SCALE = 0.6  # drawn radius = SCALE x covalent radius (Å)


def _draw(ax, xy: np.ndarray, depth: np.ndarray, numbers: np.ndarray,
          outline: np.ndarray) -> None:
    order = np.argsort(depth)  # far first, near atoms drawn on top
    d = 2 * SCALE * covalent_radii[numbers[order]]
    ax.add_collection(EllipseCollection(
        d, d, np.zeros(len(d)), units="xy", offsets=xy[order], offset_transform=ax.transData,
        facecolors=jmol_colors[numbers[order]], edgecolors="k", linewidths=0.4))
    ax.plot(outline[:, 0], outline[:, 1], "k-", lw=0.6)
    pts = np.vstack([xy, outline])
    pad = 1.5
    ax.set_xlim(pts[:, 0].min() - pad, pts[:, 0].max() + pad)
    ax.set_ylim(pts[:, 1].min() - pad, pts[:, 1].max() + pad)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])


def render(atoms: Atoms, path: Path, title: str = "") -> None:
    """Write a two-panel PNG (side view, top view) of ``atoms`` to ``path``."""
    pos, cell, z = atoms.positions, np.asarray(atoms.cell), atoms.numbers
    fig = Figure(figsize=(9, 4.5), dpi=80)  # no pyplot: no global figure state
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2)
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.03, top=0.86, wspace=0.05)
    # side view: in-plane a1 direction across, Cartesian z (slab normal) up, depth along y
    a1 = cell[0] / max(np.linalg.norm(cell[0]), 1e-12)
    across = pos @ a1
    side = np.column_stack([across, pos[:, 2]])
    c = np.linalg.norm(cell[2])
    l1 = np.linalg.norm(cell[0])
    box = np.array([[0, 0], [l1, 0], [l1, c], [0, c], [0, 0]])
    _draw(axes[0], side, -(pos @ np.cross([0, 0, 1], a1)), z, box)
    # top view: looking down the normal; the in-plane cell parallelogram
    corners = np.array([[0, 0], cell[0, :2], cell[0, :2] + cell[1, :2], cell[1, :2], [0, 0]])
    _draw(axes[1], pos[:, :2], pos[:, 2], z, corners)
    axes[0].set_title("side (a1 across, normal up)", fontsize=9)
    axes[1].set_title("top (looking down the normal)", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.savefig(path)
