"""Monkhorst-Pack k-point meshes from a k-point density."""

from __future__ import annotations

import numpy as np
from ase import Atoms

VACUUM_LENGTH = 15.0  # Å: a lattice-plane spacing longer than this is vacuum (1 k-point)


def kpoint_mesh(atoms: Atoms, density: float) -> tuple[int, int, int]:
    """Monkhorst-Pack mesh N_i = ceil(2 pi density / L_i), ``density`` in k-points per
    Å^-1, L_i the spacing of the lattice planes normal to b_i (Å); non-periodic axes and
    axes longer than ``VACUUM_LENGTH`` (vacuum, molecule boxes) get 1."""
    if density <= 0:
        return (1, 1, 1)
    out = []
    recip = atoms.cell.reciprocal()  # rows b_i / (2 pi)
    for i in range(3):
        length = 1.0 / np.linalg.norm(recip[i])
        if not atoms.pbc[i] or length > VACUUM_LENGTH:
            out.append(1)
        else:
            out.append(max(1, int(np.ceil(2 * np.pi * density / length))))
    return tuple(out)
