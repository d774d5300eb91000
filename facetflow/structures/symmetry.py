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
    R t + t a lattice vector (e.g. a glide whose translation is half a supercell vector;
    with an even multiplier along it the glide squares to a 1x1 translation that is not
    one of the supercell)."""
    r, t = op.rotation, op.translation
    if not np.array_equal(r @ r, np.eye(3, dtype=int)):
        return False
    twice = r @ t + t
    return bool(np.all(np.abs(twice - np.round(twice)) < tol))


def face_swap_operation(atoms: Atoms, symprec: float = SYMPREC) -> SymOp | None:
    """An isometry of the slab that swaps its faces, or None.

    Any such operation (inversion, mirror z -> -z, glide, two-fold screw or rotation)
    makes the bottom face the image of the top one, so both faces are equivalent and
    gamma = Delta E / 2A holds for the bottom decorated as the image of the top. It need
    not be an involution of the supercell. Preference (stable ids for slabs that have
    several): an involution before others; among them an inversion, then a mirror, then
    the first by sort order.
    """
    ops = [o for o in slab_operations(atoms, symprec) if o.swaps_faces]
    if not ops:
        return None

    def rank(o: SymOp) -> tuple[int, int]:
        kind = 0 if np.array_equal(o.rotation, -np.eye(3, dtype=int)) else \
            1 if np.array_equal(o.rotation, np.diag([1, 1, -1])) else 2
        return (0 if is_involution(o) else 1, kind)

    return min(ops, key=rank)


def face_swap_kind(op: SymOp, cell: np.ndarray) -> str:
    """A word for a face-swapping operation: ``inversion``, ``mirror``, ``glide``,
    ``two-fold rotation``, ``two-fold screw`` or ``rotoinversion`` (from the Cartesian
    rotation and the in-plane translation)."""
    cart = cell.T @ op.rotation @ np.linalg.inv(cell.T)
    det, trace = round(float(np.linalg.det(cart))), round(float(np.trace(cart)))
    t = op.translation.copy()
    t[:2] -= np.round(t[:2])
    shift = np.linalg.norm(t[:2] @ cell[:2, :2]) > 1e-3
    if det < 0 and trace == -3:
        return "inversion"
    if det < 0 and trace == 1:
        return "glide" if shift else "mirror"
    if det > 0 and trace == -1:
        return "two-fold screw" if shift else "two-fold rotation"
    return "rotoinversion"


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
