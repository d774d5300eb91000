"""Bulk crystals from the materials table.

``conventional_cell`` gives the cell in which users write Miller indices (cubic for
zincblende, rocksalt and perovskite; hexagonal for wurtzite); ``primitive_cell`` the
smallest cell, used to cut slabs with the smallest in-plane 1x1 cell.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.build import bulk as ase_bulk

from facetflow.structures.materials import Compound, Element


def conventional_cell(compound: Compound) -> Atoms:
    """Conventional cell of ``compound`` (Å)."""
    s, a = compound.structure, compound.a
    if s == "zincblende":
        return ase_bulk(compound.cation + compound.anion, "zincblende", a=a, cubic=True)
    if s == "rocksalt":
        return ase_bulk(compound.cation + compound.anion, "rocksalt", a=a, cubic=True)
    if s == "wurtzite":
        return _wurtzite(compound)
    if s == "perovskite":
        return _perovskite(compound)
    raise ValueError(f"unsupported structure {s!r}")


def primitive_cell(compound: Compound) -> Atoms:
    """Primitive cell (Å): fcc primitive for zincblende/rocksalt, the conventional otherwise."""
    s, a = compound.structure, compound.a
    if s in ("zincblende", "rocksalt"):
        return ase_bulk(compound.cation + compound.anion, s, a=a)
    return conventional_cell(compound)


def _wurtzite(compound: Compound) -> Atoms:
    a, c = compound.a, compound.c
    if c is None:
        raise ValueError(f"{compound.name}: wurtzite needs a lattice constant c")
    u = compound.u if compound.u is not None else 0.375
    cell = [[a, 0, 0], [-a / 2, a * np.sqrt(3) / 2, 0], [0, 0, c]]
    frac = [[1 / 3, 2 / 3, 0], [2 / 3, 1 / 3, 0.5], [1 / 3, 2 / 3, u], [2 / 3, 1 / 3, 0.5 + u]]
    symbols = [compound.cation, compound.cation, compound.anion, compound.anion]
    return Atoms(symbols, scaled_positions=frac, cell=cell, pbc=True)


def _perovskite(compound: Compound) -> Atoms:
    """Cubic ABX3: A at the corner, B at the body centre, X at the face centres."""
    a_site, b_site = compound.cations
    x = compound.anion
    frac = [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]
    return Atoms([a_site, b_site, x, x, x], scaled_positions=frac,
                 cell=np.eye(3) * compound.a, pbc=True)


def element_bulk(element: Element) -> Atoms:
    """Bulk elemental reference (e.g. hcp Zn for the cation-rich limit), primitive cell."""
    kwargs = {"a": element.a}
    if element.c is not None:
        kwargs["c"] = element.c
    return ase_bulk(element.name, element.structure, **kwargs)


def miller_to_primitive(miller: tuple[int, int, int], conventional: Atoms,
                        primitive: Atoms) -> tuple[int, int, int]:
    """Miller indices written in the conventional cell, re-expressed on the primitive cell.

    The plane normal is the reciprocal vector G = h b1 + k b2 + l b3 of the conventional
    cell; its primitive Miller indices are (a'_i . G), scaled to coprime integers.
    """
    g = np.asarray(miller, float) @ np.linalg.inv(conventional.cell[:]).T
    m = primitive.cell[:] @ g
    nz = np.abs(m[np.abs(m) > 1e-8])
    for scale in range(1, 25):
        trial = m / nz.min() * scale
        if np.allclose(trial, np.round(trial), atol=1e-6):
            ints = np.round(trial).astype(int)
            gcd = np.gcd.reduce(np.abs(ints[ints != 0]))
            return tuple(int(v) for v in ints // gcd)
    raise ValueError(f"cannot express {miller} on the primitive cell")
