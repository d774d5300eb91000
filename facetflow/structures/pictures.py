"""PNG pictures of structures: a side view (along a1, slab normal up) and a top view."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from ase import Atoms  # noqa: E402
from ase.visualize.plot import plot_atoms  # noqa: E402


def render(atoms: Atoms, path: Path, title: str = "") -> None:
    """Write a two-panel PNG (side view, top view) of ``atoms`` to ``path``."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.5), dpi=80)
    view = atoms.copy()
    view.set_constraint()
    plot_atoms(view, axes[0], rotation="-90x", radii=0.6)
    plot_atoms(view, axes[1], rotation="", radii=0.6)
    axes[0].set_title("side (a1 across, normal up)", fontsize=9)
    axes[1].set_title("top (looking down the normal)", fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
