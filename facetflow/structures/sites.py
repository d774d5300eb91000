"""Binding sites on the top face of a slab, for one ligand in one binding mode.

Anchor-to-surface bond lengths are the sum of covalent radii (Cordero et al. 2008, as
tabulated by ASE) times ``BOND_STRETCH``; that puts Zn-O at 1.97 Å, Zn-Se at 2.54 Å,
In-O at 2.18 Å, within 10 % of typical crystal values. Relaxation refines them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facetflow.errors import SpecError
from facetflow.structures.ligands import Ligand
from facetflow.structures.slab import Slab
from facetflow.structures.topology import cation_anion_bonds, covalent_radius

BOND_STRETCH = 1.05
NEAREST_SHELL_TOL = 0.3  # Å: pairs within this of the shortest feasible pair count as nearest


@dataclass
class Site:
    """Where one ligand binds: the surface atoms, the anchor targets (Å), a direction."""

    atoms: tuple[int, ...]
    targets: np.ndarray
    direction: np.ndarray
    mode: str

    @property
    def center(self) -> np.ndarray:
        return self.targets.mean(axis=0)


def anchor_bond(anchor: str, surface_atom: str) -> float:
    """Starting anchor-surface bond length (Å)."""
    return BOND_STRETCH * (covalent_radius(anchor) + covalent_radius(surface_atom))


def _role(slab: Slab, symbol: str) -> str:
    return "cation" if symbol in slab.cations else "anion"


def _dangling_direction(slab: Slab, index: int, bonds: tuple) -> np.ndarray:
    """In-plane direction of the dangling bonds of a surface atom (two back-bonds), else a1."""
    i, j, vec = bonds
    back = [vec[k] for k in range(len(i)) if i[k] == index]
    back += [-vec[k] for k in range(len(j)) if j[k] == index]
    if len(back) == 2:
        u = np.cross([0.0, 0.0, 1.0], back[0] - back[1])
        u[2] = 0.0
        if np.linalg.norm(u) > 1e-6:
            return u / np.linalg.norm(u)
    a1 = slab.atoms.cell[0].copy()
    return a1 / np.linalg.norm(a1)


def _pairs(slab: Slab, first: list[int], second: list[int], same: bool):
    """Surface atom pairs (i, j, vector i->j) with in-plane periodic images."""
    pos = slab.atoms.positions
    cell = slab.atoms.cell[:]
    out = []
    for i in first:
        for j in second:
            for n1 in (-1, 0, 1):
                for n2 in (-1, 0, 1):
                    v = pos[j] + n1 * cell[0] + n2 * cell[1] - pos[i]
                    d = np.linalg.norm(v)
                    if d < 1e-6:
                        continue
                    if same and (j, i) < (i, j):
                        continue
                    if same and i == j and (n1, n2) < (0, 0):
                        continue
                    out.append((i, j, v, d))
    return out


def binding_sites(slab: Slab, ligand: Ligand, mode: str) -> list[Site]:
    """All sites of ``mode`` for ``ligand`` on the top face of ``slab`` (possibly none)."""
    atoms = slab.atoms
    symbols = atoms.get_chemical_symbols()
    surf = list(slab.surface_indices)
    by_role = {r: [i for i in surf if _role(slab, symbols[i]) == r] for r in ("cation", "anion")}
    bonds = cation_anion_bonds(atoms, set(slab.cations), set(slab.anions))
    z = np.array([0.0, 0.0, 1.0])
    sites: list[Site] = []
    n_anchor = len(ligand.anchors)
    span = ligand.anchor_span
    if mode in ("atop", "monodentate"):
        for i in by_role[ligand.anchor_species[0]]:
            d = anchor_bond(ligand.anchor_symbol(0), symbols[i])
            t = atoms.positions[i] + d * z
            sites.append(Site((i,), t[None, :], _dangling_direction(slab, i, bonds), mode))
    elif mode == "chelating" and n_anchor == 2:
        for i in by_role[ligand.anchor_species[0]]:
            d = anchor_bond(ligand.anchor_symbol(0), symbols[i])
            if span / 2 >= 0.9 * d:
                continue
            h = np.sqrt(d**2 - (span / 2) ** 2)
            u = _dangling_direction(slab, i, bonds)
            c = atoms.positions[i] + h * z
            sites.append(Site((i,), np.array([c - u * span / 2, c + u * span / 2]), u, mode))
    elif mode == "bridging":
        first = by_role[ligand.anchor_species[0]]
        second = by_role[ligand.anchor_species[-1]]
        same = ligand.anchor_species[0] == ligand.anchor_species[-1]
        feasible = []
        for i, j, v, dist in _pairs(slab, first, second, same):
            u = v / dist
            mid = atoms.positions[i] + v / 2
            if n_anchor == 2:
                d = anchor_bond(ligand.anchor_symbol(0), symbols[i])
                delta = (dist - span) / 2
                if abs(delta) >= 0.85 * d:
                    continue
                h = np.sqrt(d**2 - delta**2)
                t = np.array([mid - u * span / 2 + h * z, mid + u * span / 2 + h * z])
            else:
                d = anchor_bond(ligand.anchor_symbol(0), symbols[i])
                if dist / 2 >= 0.9 * d:
                    continue
                h = np.sqrt(d**2 - (dist / 2) ** 2)
                t = (mid + h * z)[None, :]
            feasible.append((dist, Site((i, j), t, u, mode)))
        if feasible:
            shortest = min(f[0] for f in feasible)
            sites = [s for dist, s in feasible if dist <= shortest + NEAREST_SHELL_TOL]
    return sites


def choose_mode(slab: Slab, ligand: Ligand, requested: str | None = None,
                path: str = "ligand.mode") -> tuple[str, list[Site]]:
    """The requested mode, or the ligand's first mode with sites on this slab."""
    modes = [requested] if requested else list(ligand.modes)
    for mode in modes:
        if mode not in ligand.modes:
            raise SpecError.single(path, f"{ligand.name} has no binding mode {mode!r}",
                                   mode, ligand.modes)
        sites = binding_sites(slab, ligand, mode)
        if sites:
            return mode, sites
    raise SpecError.single(path, f"{ligand.name} finds no binding site on the "
                           f"{slab.termination}-terminated {slab.miller} face",
                           requested, ligand.modes)
