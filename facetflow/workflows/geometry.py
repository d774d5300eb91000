"""Geometry at execution time: the starting structure of a calculation from its inputs.

* ``scale_to_lattice``: a slab built at the study's lattice parameter is scaled uniformly
  by s = (V_relaxed / V_built)^(1/3) of the core's primitive cell, so slab and bulk
  reference share the engine's relaxed lattice (exact for cubic lattices; for hexagonal
  ones the c/a change is neglected).
* ``match_atoms`` / ``warm_start``: a structure one local change away from its parent
  (a variant, a binding structure) starts from the parent's relaxed geometry: matched
  atoms take their parent atom's relaxation displacement, new atoms that of the nearest
  parent atom, removed ones included (``WARM_START_RULE``, part of the hash).
* ``initial_atoms``: a plan node's built structure, checked against its hash.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms

from facetflow.records.calc import dict_to_atoms, structure_hash
from facetflow.records.plan import Calculation
from facetflow.structures.periodic import in_plane_image

MATCH_TOL = 0.05  # Å, for matching atoms between a structure and its parent
MIN_MATCHED = 0.5  # fraction of the parent's atoms that must match for a warm start
WARM_START_RULE = 2  # in the hash of warm-started calculations: 2 = new atoms follow the
# nearest parent atom, removed ones included (1 was: the nearest kept atom)


def initial_atoms(node: Calculation) -> Atoms:
    """The initial structure of ``node``, checked against its hash (a corrupted plan is
    refused with ``ValueError``)."""
    atoms = dict_to_atoms(node.structure)
    if structure_hash(atoms) != node.structure_hash:
        raise ValueError(f"structure of {node.key} does not match its hash: the plan file "
                         "was changed or corrupted; run the study again to rebuild it")
    return atoms


def match_atoms(child: Atoms, parent: Atoms, tol: float = MATCH_TOL) -> list[int] | None:
    """child index -> parent index for atoms of the same element at the same place (within
    ``tol`` Å, in-plane minimum image) up to one uniform shift (found from the first atoms,
    which structures built by decoration share); -1 for atoms the parent lacks or whose
    nearest parent atom an earlier child atom took. None when fewer than ``MIN_MATCHED``
    of the parent's atoms are found or the in-plane cells differ."""
    if len(child.cell) != 3 or not np.allclose(child.cell[:2], parent.cell[:2], atol=1e-4):
        return None
    csym = np.array(child.get_chemical_symbols())
    psym = np.array(parent.get_chemical_symbols())
    n = min(len(child), len(parent))
    same = csym[:n] == psym[:n]
    if not same.any():
        return None
    shift = np.median(child.positions[:n][same] - parent.positions[:n][same], axis=0)
    nearest, dist = _nearest_same_element(child.positions, csym, parent.positions + shift,
                                          psym, child.cell[:])
    mapping: list[int] = []
    used: set[int] = set()
    for j, d in zip(nearest.tolist(), dist.tolist(), strict=True):
        if j >= 0 and d < tol and j not in used:
            mapping.append(j)
            used.add(j)
        else:
            mapping.append(-1)
    if len(used) < MIN_MATCHED * len(parent):
        return None
    return mapping


def _nearest_same_element(positions: np.ndarray, symbols: np.ndarray, others: np.ndarray,
                          other_symbols: np.ndarray, cell: np.ndarray
                          ) -> tuple[np.ndarray, np.ndarray]:
    """For each position: the index of the nearest of ``others`` with the same element
    (in-plane minimum image; the first on a tie; -1 when that element is absent) and its
    distance (Å)."""
    inv = np.linalg.inv(cell)
    nearest = np.full(len(positions), -1)
    dist = np.full(len(positions), np.inf)
    for element in np.unique(symbols):
        rows = np.flatnonzero(symbols == element)
        cand = np.flatnonzero(other_symbols == element)
        if len(cand) == 0:
            continue
        frac = (others[cand][None, :, :] - positions[rows][:, None, :]) @ inv
        frac[..., :2] -= np.round(frac[..., :2])
        d = np.linalg.norm(frac @ cell, axis=2)
        k = np.argmin(d, axis=1)
        nearest[rows] = cand[k]
        dist[rows] = d[np.arange(len(rows)), k]
    return nearest, dist


def scale_to_lattice(atoms: Atoms, built_volume: float, relaxed_volume: float) -> Atoms:
    """``atoms`` scaled uniformly by (V_relaxed / V_built)^(1/3) (cell and positions;
    volumes in Å^3)."""
    out = atoms.copy()
    s = (relaxed_volume / built_volume) ** (1.0 / 3.0)
    out.set_cell(out.cell[:] * s, scale_atoms=True)
    return out


def warm_start(child: Atoms, parent_initial: Atoms, parent_final: Atoms,
               mapping: list[int]) -> Atoms:
    """``child`` moved by its parent's relaxation: matched atoms take their parent atom's
    displacement (minimum image); a new atom takes that of the parent atom nearest to it
    in the parent's built geometry, removed atoms included, so an F built where a
    carboxylate O was follows that O to its relaxed place (``WARM_START_RULE``)."""
    cell = parent_initial.cell[:]

    def image(v: np.ndarray) -> np.ndarray:
        return in_plane_image(v, cell) if parent_initial.cell.rank == 3 else v

    d = image(parent_final.positions - parent_initial.positions)
    out = child.copy()
    m = np.asarray(mapping)
    matched = np.flatnonzero(m >= 0)
    if len(matched) == 0:
        return out
    disp = np.zeros((len(child), 3))
    disp[matched] = d[m[matched]]
    # the uniform shift between child and parent (re-centring), as in match_atoms
    shift = np.median(image(child.positions[matched] - parent_initial.positions[m[matched]]),
                      axis=0)
    placed = parent_initial.positions + shift
    for i in np.flatnonzero(m < 0):
        dist = np.linalg.norm(image(placed - child.positions[i]), axis=1)
        disp[i] = d[int(np.argmin(dist))]
    out.positions = out.positions + disp
    return out
