"""Atomic planes of a crystal stacked along a facet normal.

``plane_stack`` cuts the bulk along (hkl) (Miller indices in the conventional cell),
reduces the in-plane 1x1 cell, and groups atoms into planes of equal height. Everything
downstream (slab windows, terminations, shells, passivation) works on this stack.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.build import surface

from facetflow.structures.bulk import conventional_cell, miller_to_primitive, primitive_cell
from facetflow.structures.materials import Compound

PLANE_TOL = 0.15  # Å: atoms closer in height than this belong to one plane


@dataclass
class Plane:
    """One atomic plane: symbols and Cartesian positions (Å) in the oriented frame."""

    symbols: list[str]
    positions: np.ndarray

    @property
    def z(self) -> float:
        return float(self.positions[:, 2].mean())


@dataclass
class PlaneStack:
    """Planes ordered bottom to top, and the reduced in-plane 1x1 cell (rows a1, a2)."""

    cell2d: np.ndarray
    planes: list[Plane]
    block: int  # planes in one stoichiometric monolayer

    def __len__(self) -> int:
        return len(self.planes)


def four_index(miller: tuple[int, ...]) -> tuple[int, int, int, int]:
    """Miller-Bravais indices (h, k, -(h + k), l) of hexagonal (h, k, l) (a1, a2 at 120°)."""
    if len(miller) == 4:
        return tuple(int(i) for i in miller)  # type: ignore[return-value]
    h, k, l_ = miller
    return (h, k, -(h + k), l_)


def three_index(miller: tuple[int, ...]) -> tuple[int, int, int]:
    """(h, k, l) of Miller (h, k, l) or Miller-Bravais (h, k, i, l) indices; refuses
    four indices with i != -(h + k)."""
    if len(miller) == 3:
        return tuple(int(i) for i in miller)  # type: ignore[return-value]
    h, k, i, l_ = miller
    if i != -(h + k):
        raise ValueError(f"Miller-Bravais indices {tuple(miller)} need i = -(h + k) = "
                         f"{-(h + k)}, got i = {i}")
    return (h, k, l_)


def miller_text(compound: Compound, miller: tuple[int, ...]) -> str:
    """``(1 0 -1 0)`` on hexagonal (wurtzite) materials, ``(1 1 1)`` otherwise."""
    m = four_index(miller) if compound.structure == "wurtzite" else three_index(miller)
    return "(" + " ".join(str(i) for i in m) + ")"


def reduce_2d(a1: np.ndarray, a2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lagrange-Gauss reduction of an in-plane basis; right-handed, most orthogonal choice."""
    a1, a2 = a1.copy(), a2.copy()
    if np.linalg.norm(a1) > np.linalg.norm(a2):
        a1, a2 = a2, a1
    while True:
        mu = round(float(np.dot(a1, a2) / np.dot(a1, a1)))
        a2 = a2 - mu * a1
        if np.linalg.norm(a2) < np.linalg.norm(a1) - 1e-9:
            a1, a2 = a2, a1
            continue
        break
    # prefer the obtuse/orthogonal member of the pair a2, a2 - a1 only to make it orthogonal
    if abs(np.dot(a1, a2 - a1)) < abs(np.dot(a1, a2)) - 1e-9:
        a2 = a2 - a1
    if np.cross(a1, a2)[2] < 0:
        a2 = -a2
    return a1, a2


def plane_stack(compound: Compound, miller: tuple[int, ...], n_planes: int) -> PlaneStack:
    """At least ``n_planes`` planes of ``compound`` stacked along ``miller`` (conventional
    cell; Miller-Bravais (h, k, i, l) accepted on hexagonal cells)."""
    conv, prim = conventional_cell(compound), primitive_cell(compound)
    m = miller_to_primitive(three_index(miller), conv, prim)
    one = surface(prim, m, 1, periodic=False)
    per_layer = len(_cluster(one.positions[:, 2]))
    layers = n_planes // max(per_layer, 1) + 2
    atoms: Atoms = surface(prim, m, layers, periodic=False)
    if _polarity(compound, conv, three_index(miller), atoms) < 0:
        atoms = _turned_over(atoms)
    a1, a2 = reduce_2d(atoms.cell[0].copy(), atoms.cell[1].copy())
    pos = atoms.positions.copy()
    # wrap in-plane coordinates into the reduced cell
    basis = np.array([a1[:2], a2[:2]])
    frac = np.linalg.solve(basis.T, pos[:, :2].T).T
    frac -= np.floor(frac + 1e-8)
    pos[:, :2] = frac @ basis
    symbols = atoms.get_chemical_symbols()
    groups = _cluster(pos[:, 2])
    planes = [Plane([symbols[i] for i in g], pos[g]) for g in groups]
    stack = PlaneStack(np.array([a1, a2]), planes, block=1)
    stack.block = _stoichiometric_block(stack, compound)
    return stack


def _bond_moment(compound: Compound, atoms: Atoms, direction: np.ndarray) -> float:
    """Third moment of the cation -> anion bond vectors projected on ``direction`` (Å³):
    zero along a non-polar direction, its sign tells which way a polar stacking points
    (positive along [111] of zincblende and [0001] of wurtzite, whose single bond between
    a cation plane and the anion plane above it points up)."""
    from facetflow.structures.topology import cation_anion_bonds

    _i, _j, vec = cation_anion_bonds(atoms, set(compound.cations), {compound.anion})
    proj = vec @ (direction / np.linalg.norm(direction))
    return float(np.sum(proj**3)) / max(len(proj), 1)


def _polarity(compound: Compound, conv: Atoms, miller: tuple[int, int, int],
              stack: Atoms) -> float:
    """+1 when ``surface``'s stack points along the plane normal G = h b1 + k b2 + l b3 of
    the conventional cell (or the direction is not polar), -1 when it points along -G."""
    g = np.asarray(miller, float) @ np.linalg.inv(conv.cell[:]).T
    want = _bond_moment(compound, conv, g)
    if abs(want) < 1e-6:
        return 1.0
    probe = stack.copy()
    probe.pbc = (True, True, False)
    got = _bond_moment(compound, probe, np.array([0.0, 0.0, 1.0]))
    return 1.0 if want * got > 0 else -1.0


def _turned_over(atoms: Atoms) -> Atoms:
    """``atoms`` rotated by 180° about x (a proper rotation): the stack upside down,
    shifted back to heights z >= 0 (Å) as ``surface`` gives them."""
    out = atoms.copy()
    flip = np.array([1.0, -1.0, -1.0])
    out.set_cell(atoms.cell[:] * flip, scale_atoms=False)
    pos = atoms.positions * flip
    pos[:, 2] -= pos[:, 2].min()
    out.positions = pos
    return out


def _cluster(z: np.ndarray) -> list[list[int]]:
    order = np.argsort(z, kind="stable")
    groups: list[list[int]] = []
    last = None
    for i in order:
        if last is None or z[i] - last > PLANE_TOL:
            groups.append([int(i)])
        else:
            groups[-1].append(int(i))
        last = z[i]
    return groups


def formula_counts(symbols: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in symbols:
        out[s] = out.get(s, 0) + 1
    return out


def reduced_formula(symbols: list[str], order: tuple[str, ...]) -> str:
    """Reduced formula with species in ``order`` (cations first), e.g. 'PbI2', 'InAs', 'Zn'."""
    counts = formula_counts(symbols)
    g = int(np.gcd.reduce(list(counts.values())))
    parts = []
    for s in [*order, *sorted(set(counts) - set(order))]:
        if s in counts:
            n = counts[s] // g
            parts.append(s if n == 1 else f"{s}{n}")
    return "".join(parts)


def _stoichiometric_block(stack: PlaneStack, compound: Compound) -> int:
    """Smallest number of consecutive planes whose composition is the bulk formula."""
    bulk_formula = reduced_formula(list(primitive_cell(compound).get_chemical_symbols()),
                                   compound.species)
    for b in range(1, 13):
        for start in range(0, min(len(stack), 12)):
            if start + b > len(stack):
                break
            syms = [s for p in stack.planes[start:start + b] for s in p.symbols]
            if reduced_formula(syms, compound.species) == bulk_formula:
                return b
    raise ValueError(f"no stoichiometric block of planes for {compound.name}")
