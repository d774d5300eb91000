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
    """Where one ligand binds: the surface atoms, the anchor targets (Å), a direction.

    ``removes``: slab atoms the ligand replaces (removed when it is placed; see
    ``replacement_sites``)."""

    atoms: tuple[int, ...]
    targets: np.ndarray
    direction: np.ndarray
    mode: str
    removes: tuple[int, ...] = ()

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


REPLACEMENT_MODES = ("atop", "monodentate", "chelating")
HOST_CONE_DEG = 35.0  # a host lies within this angle of -z below the replaced atom


def replaced_host(slab: Slab, index: int) -> int | None:
    """The atom beneath a surface atom that binds it: the nearest bonded atom of the other
    role (cation/anion) lying within ``HOST_CONE_DEG`` of straight below it; None when
    there is none (e.g. an A-site cation of a perovskite, which sits over a hollow)."""
    atoms = slab.atoms
    symbols = atoms.get_chemical_symbols()
    other = slab.anions if symbols[index] in slab.cations else slab.cations
    best = None
    cell = atoms.cell[:]
    for j, sym in enumerate(symbols):
        if sym not in other or j == index:
            continue
        v = atoms.positions[j] - atoms.positions[index]
        frac = np.linalg.solve(cell.T, v)
        frac[:2] -= np.round(frac[:2])
        v = frac @ cell
        d = float(np.linalg.norm(v))
        if d > 1.25 * (covalent_radius(sym) + covalent_radius(symbols[index])):
            continue
        if v[2] >= 0 or np.degrees(np.arccos(-v[2] / d)) > HOST_CONE_DEG:
            continue
        if best is None or d < best[0]:
            best = (d, j)
    return None if best is None else best[1]


def replacement_sites(slab: Slab, ligand: Ligand, mode: str, element: str) -> list[Site]:
    """Sites where ``ligand`` takes the place of one atom of ``element`` in the outermost
    plane (an X-type ligand for a surface halide, an ammonium for a surface A-site cation).

    The atom is removed (``Site.removes``). With a host beneath it (``replaced_host``) the
    first anchor goes along host -> removed atom at the anchor-host bond length
    (``atop``/``monodentate``), or both anchors straddle that line (``chelating``, two
    anchors on the host); without a host the anchor sits where the removed atom was.
    Two-anchor (chelating) sites come in every in-plane orientation that the surface
    symmetry makes of the first cell vector, so the site list is closed under symmetry.
    Modes other than ``REPLACEMENT_MODES`` give no sites."""
    atoms = slab.atoms
    symbols = atoms.get_chemical_symbols()
    a1 = atoms.cell[0].copy()
    u = a1 / np.linalg.norm(a1)
    z = np.array([0.0, 0.0, 1.0])
    directions = [u]
    if mode == "chelating":
        from facetflow.structures.symmetry import surface_operations

        cell = atoms.cell[:]
        for op in surface_operations(atoms):
            w = (op.apply_cartesian(np.array([u]), cell) -
                 op.apply_cartesian(np.zeros((1, 3)), cell))[0]
            w[2] = 0.0
            w /= np.linalg.norm(w)
            if all(abs(abs(float(np.dot(w, d))) - 1) > 1e-3 for d in directions):
                directions.append(w)
    sites: list[Site] = []
    anchor = ligand.anchor_symbol(0)
    for r in slab.surface_indices:
        if symbols[r] != element:
            continue
        host = replaced_host(slab, r)
        pos_r = atoms.positions[r]
        if host is not None:
            hpos = atoms.positions[host]
            v = pos_r - hpos
            frac = np.linalg.solve(atoms.cell[:].T, v)
            frac[:2] -= np.round(frac[:2])
            v = frac @ atoms.cell[:]
            axis = v / np.linalg.norm(v)
            target = hpos + axis * anchor_bond(anchor, symbols[host])
        else:
            axis, target = z, pos_r
        if mode in ("atop", "monodentate"):
            sites.append(Site((r,), target[None, :], u, mode, removes=(r,)))
        elif mode == "chelating" and len(ligand.anchors) == 2 and host is not None:
            d = anchor_bond(anchor, symbols[host])
            half = ligand.anchor_span / 2
            if half >= 0.9 * d:
                continue
            c = atoms.positions[host] + axis * np.sqrt(d**2 - half**2)
            for w in directions:
                sites.append(Site((r,), np.array([c - w * half, c + w * half]), w, mode,
                                  removes=(r,)))
    return sites


def choose_mode(slab: Slab, ligand: Ligand, requested: str | None = None,
                path: str = "ligand.mode", replaces: str | None = None
                ) -> tuple[str, list[Site]]:
    """The requested mode, or the ligand's first mode with sites on this slab. With
    ``replaces`` (an element), the sites are ``replacement_sites`` of that element."""
    modes = [requested] if requested else list(ligand.modes)
    for mode in modes:
        if mode not in ligand.modes:
            raise SpecError.single(path, f"{ligand.name} has no binding mode {mode!r}",
                                   mode, ligand.modes)
        sites = (replacement_sites(slab, ligand, mode, replaces) if replaces
                 else binding_sites(slab, ligand, mode))
        if sites:
            return mode, sites
    where = f" in place of surface {replaces}" if replaces else ""
    raise SpecError.single(path, f"{ligand.name} finds no binding site{where} on the "
                           f"{slab.termination}-terminated {slab.miller} face",
                           requested, ligand.modes)
