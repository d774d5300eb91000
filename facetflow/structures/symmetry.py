"""Slab symmetry from spglib: operations that keep the top face (surface symmetry) and
operations that swap the two faces of a symmetric slab.

A slab is handled as a 3D crystal whose third vector (0, 0, H) spans slab plus vacuum;
spglib's operations with R_zz = +1 map each face onto itself, those with R_zz = -1 swap
them. Atoms are told apart by element and pseudo-hydrogen charge.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import spglib
from ase import Atoms

SYMPREC = 0.01  # Å


@dataclass
class SymOp:
    """A space-group operation in fractional coordinates: x' = R x + t."""

    rotation: np.ndarray
    translation: np.ndarray

    def apply_cartesian(self, points: np.ndarray, cell: np.ndarray) -> np.ndarray:
        frac = np.asarray(points, float) @ np.linalg.inv(cell)
        new = frac @ self.rotation.T + self.translation
        return new @ cell

    @property
    def swaps_faces(self) -> bool:
        return int(self.rotation[2, 2]) == -1


def _types(atoms: Atoms) -> np.ndarray:
    z = atoms.numbers.astype(int) * 1000
    if "pseudo_h_charge" in atoms.arrays:
        z = z + np.round(atoms.arrays["pseudo_h_charge"] * 100).astype(int)
    return z


def slab_operations(atoms: Atoms, symprec: float = SYMPREC) -> list[SymOp]:
    """All operations of the slab that keep the slab plane (no mixing of z with x, y)."""
    cell = (atoms.cell[:], atoms.get_scaled_positions(wrap=True), _types(atoms))
    sym = spglib.get_symmetry(cell, symprec=symprec)
    ops = []
    if sym is None:
        return ops
    for r, t in zip(sym["rotations"], sym["translations"], strict=True):
        if r[2, 0] or r[2, 1] or r[0, 2] or r[1, 2]:
            continue
        ops.append(SymOp(np.array(r, int), np.array(t, float)))
    ops.sort(key=lambda o: (o.rotation.ravel().tolist(), np.round(o.translation, 6).tolist()))
    return ops


def surface_operations(atoms: Atoms, symprec: float = SYMPREC) -> list[SymOp]:
    """Operations mapping the top face onto itself (R_zz = +1), identity first."""
    ops = [o for o in slab_operations(atoms, symprec) if not o.swaps_faces]
    ops.sort(key=lambda o: (not np.array_equal(o.rotation, np.eye(3, dtype=int))
                            or not np.allclose(o.translation % 1.0, 0.0)))
    return ops


def is_involution(op: SymOp, tol: float = 1e-4) -> bool:
    """Whether applying ``op`` twice is the identity of the (super)cell: R R = 1 and
    R t + t a lattice vector. Only such an operation maps top-face adsorbates plus their
    images on the bottom face onto themselves."""
    r, t = op.rotation, op.translation
    if not np.array_equal(r @ r, np.eye(3, dtype=int)):
        return False
    twice = r @ t + t
    return bool(np.all(np.abs(twice - np.round(twice)) < tol))


def face_swap_operation(atoms: Atoms, symprec: float = SYMPREC) -> SymOp | None:
    """An involution that maps the slab onto itself and swaps its faces, or None.

    Preference: an inversion, then a mirror z -> -z, then any other; first by sort order.
    """
    ops = [o for o in slab_operations(atoms, symprec) if o.swaps_faces and is_involution(o)]
    if not ops:
        return None
    inv = [o for o in ops if np.array_equal(o.rotation, -np.eye(3, dtype=int))]
    mirror = [o for o in ops if np.array_equal(o.rotation, np.diag([1, 1, -1]))]
    return (inv or mirror or ops)[0]


def maps_onto_itself(atoms: Atoms, op: SymOp, tol: float = 0.05) -> bool:
    """Whether ``op`` maps every atom onto an atom of the same type (cell-periodic)."""
    cell = atoms.cell[:]
    new = op.apply_cartesian(atoms.positions, cell)
    types = _types(atoms)
    inv = np.linalg.inv(cell)
    for k in range(len(atoms)):
        d = (atoms.positions - new[k]) @ inv
        d -= np.round(d)
        dist = np.linalg.norm(d @ cell, axis=1)
        j = int(np.argmin(dist))
        if dist[j] > tol or types[j] != types[k]:
            return False
    return True
