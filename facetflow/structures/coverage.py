"""Ligand coverages: arrangements of ligands on the binding sites of a facet, reduced to
symmetry-unique ones, and variants in which one ligand is replaced (F, HF, a growth
species) or removed (vacancy).

Coverage theta = ligands per surface cation of the outermost layer (per face). A ligand
of footprint f (Zn(acetate)2: 2) covers f cations, so theta * f <= 1 (full coverage).

Two placed ligands are compatible when no atoms of one come closer to the other than
``MIN_HEAVY`` (heavy-heavy) or ``MIN_WITH_H`` (pairs with an H), in-plane periodic images
included; no surface atom takes more than ``MAX_ANCHORS_PER_ATOM`` anchors. Arrangements
are ordered by decreasing spread (smallest distance between ligand centres), then by a
canonical key, so the order is deterministic and the most uniform comes first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from ase import Atoms

from facetflow.errors import StructureError
from facetflow.structures import REGION_ADDITIVE, REGION_LIGAND
from facetflow.structures.ligands import Ligand, place
from facetflow.structures.periodic import in_plane_image
from facetflow.structures.sites import Site, anchor_bond
from facetflow.structures.slab import Slab, center_with_vacuum
from facetflow.structures.symmetry import SymOp, face_swap_operation, surface_operations

MIN_HEAVY = 2.0  # Å, between atoms of different adsorbates
MIN_WITH_H = 1.5  # Å, pairs involving hydrogen
MIN_TO_SLAB = 1.5  # Å, adsorbate atom to any slab atom
MAX_ANCHORS_PER_ATOM = 2
MAX_RAW = 200_000
MATCH_TOL = 0.05  # Å


def _min_image_distances(a: np.ndarray, b: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """Distances between every row of ``a`` and ``b`` with in-plane minimum image."""
    return np.linalg.norm(in_plane_image(b[None, :, :] - a[:, None, :], cell), axis=-1)


def _clash(pos_a, sym_a, pos_b, sym_b, cell) -> bool:
    d = _min_image_distances(pos_a, pos_b, cell)
    h = (np.array(sym_a) == "H")[:, None] | (np.array(sym_b) == "H")[None, :]
    return bool(np.any(d < np.where(h, MIN_WITH_H, MIN_HEAVY)))


def _self_clash(pos, sym, cell) -> bool:
    for n1 in (-1, 0, 1):
        for n2 in (-1, 0, 1):
            if (n1, n2) == (0, 0):
                continue
            shifted = pos + n1 * cell[0] + n2 * cell[1]
            d = np.linalg.norm(shifted[None, :, :] - pos[:, None, :], axis=-1)
            h = (np.array(sym) == "H")[:, None] | (np.array(sym) == "H")[None, :]
            if np.any(d < np.where(h, MIN_WITH_H, MIN_HEAVY)):
                return True
    return False


@dataclass
class SiteGrid:
    """The sites of one ligand in one mode on a slab, with placed geometries, the pairwise
    compatibility matrix and the site permutation of every surface symmetry operation."""

    slab: Slab
    ligand: Ligand
    mode: str
    sites: list[Site]
    placed: list[np.ndarray] = field(init=False)
    compat: np.ndarray = field(init=False)
    perms: np.ndarray = field(init=False)
    ops: list[SymOp] = field(init=False)

    def __post_init__(self) -> None:
        cell = self.slab.atoms.cell[:]
        slab_pos = self.slab.atoms.positions
        sym = list(self.ligand.symbols)
        placed, kept = [], []
        for s in self.sites:
            p = place(self.ligand, self.mode, s.targets, s.direction)
            # a replacing ligand sits where the atoms it replaces were
            others = np.delete(slab_pos, list(s.removes), axis=0) if s.removes else slab_pos
            if np.min(_min_image_distances(p, others, cell)) < MIN_TO_SLAB:
                continue
            if _self_clash(p, sym, cell):
                continue
            placed.append(p)
            kept.append(s)
        self.sites, self.placed = kept, placed
        n = len(kept)
        self.compat = np.ones((n, n), bool)
        for i in range(n):
            self.compat[i, i] = False
            for j in range(i + 1, n):
                ok = not _clash(placed[i], sym, placed[j], sym, cell)
                self.compat[i, j] = self.compat[j, i] = ok
        self.ops = surface_operations(self.slab.atoms)
        self.perms = np.array([self._permutation(op) for op in self.ops], int).reshape(
            len(self.ops), n)

    def _permutation(self, op: SymOp) -> list[int]:
        """Site index each site is mapped onto by ``op``: the first site whose targets
        all lie within MATCH_TOL of the mapped targets, and the other way round (all
        sites with the same number of targets compared at once)."""
        cell = self.slab.atoms.cell[:]
        perm = [-1] * len(self.sites)
        by_size: dict[int, list[int]] = {}
        for k, site in enumerate(self.sites):
            by_size.setdefault(len(site.targets), []).append(k)
        for idx in by_size.values():
            targets = np.array([self.sites[k].targets for k in idx])  # (n, t, 3)
            mapped = np.array([op.apply_cartesian(self.sites[k].targets, cell) for k in idx])
            d = targets[None, :, None, :, :] - mapped[:, None, :, None, :]  # (n, n, t, t, 3)
            dist = np.linalg.norm(in_plane_image(d, cell), axis=-1)
            match = ((dist.min(axis=3) < MATCH_TOL).all(axis=2)
                     & (dist.min(axis=2) < MATCH_TOL).all(axis=2))
            for row, k in enumerate(idx):
                hits = np.flatnonzero(match[row])
                if len(hits) == 0:
                    raise StructureError("a surface symmetry operation maps a binding site "
                                         "onto no site; the site list is not closed under "
                                         "symmetry")
                perm[k] = idx[int(hits[0])]
        return perm

    def usage(self, k: int) -> dict[int, int]:
        """Anchors that site ``k`` puts on each surface atom."""
        s = self.sites[k]
        n_anchor = len(self.ligand.anchors)
        if len(s.atoms) == 1:
            return {s.atoms[0]: n_anchor}
        if n_anchor == 1:
            return {a: 1 for a in s.atoms}
        out: dict[int, int] = {}
        for a in s.atoms:
            out[a] = out.get(a, 0) + 1
        return out


@dataclass(frozen=True)
class Arrangement:
    """A symmetry-unique choice of occupied sites; ``multiplicity`` = size of its orbit."""

    sites: tuple[int, ...]
    multiplicity: int
    spread: float


@dataclass
class CoverageEnumeration:
    n_ligands: int
    raw_count: int
    unique: list[Arrangement]


def n_ligands_for(theta: float, slab: Slab, ligand: Ligand) -> int:
    """Ligands per face at coverage theta; raises if theta is not representable."""
    if slab.n_surface_cations == 0:
        raise ValueError(f"the {slab.termination}-terminated face has no surface cations "
                         "to bind ligands (theta counts ligands per surface cation); leave "
                         "this facet out of the ligand's facets")
    n = theta * slab.n_surface_cations
    if abs(n - round(n)) > 1e-6:
        step = 1 / slab.n_surface_cations
        raise ValueError(f"coverage {theta} is not a multiple of 1/{slab.n_surface_cations} "
                         f"(={step:.4g}) on this supercell")
    if theta * ligand.footprint > 1 + 1e-9:
        raise ValueError(f"coverage {theta} x footprint {ligand.footprint} exceeds full "
                         "coverage (1)")
    return int(round(n))


def enumerate_arrangements(grid: SiteGrid, n: int, max_raw: int = MAX_RAW
                           ) -> CoverageEnumeration:
    """All compatible choices of ``n`` sites, reduced to symmetry-unique arrangements."""
    n_sites = len(grid.sites)
    if n == 0:
        return CoverageEnumeration(0, 1, [Arrangement((), 1, np.inf)])
    bits = [sum(1 << j for j in range(n_sites) if grid.compat[i, j]) for i in range(n_sites)]
    usage = [grid.usage(k) for k in range(n_sites)]
    combos: list[tuple[int, ...]] = []

    def rec(start: int, chosen: list[int], allowed: int, load: dict[int, int]) -> None:
        if len(chosen) == n:
            combos.append(tuple(chosen))
            if len(combos) > max_raw:
                raise StructureError(
                    f"more than {max_raw} raw arrangements of {n} {grid.ligand.name} on "
                    f"{grid.slab.miller}: use a smaller supercell or fewer coverages")
            return
        need = n - len(chosen)
        for s in range(start, n_sites):
            if not (allowed >> s) & 1:
                continue
            if bin(allowed >> s).count("1") < need:
                return
            if any(load.get(a, 0) + c > MAX_ANCHORS_PER_ATOM for a, c in usage[s].items()):
                continue
            new_load = dict(load)
            for a, c in usage[s].items():
                new_load[a] = new_load.get(a, 0) + c
            rec(s + 1, [*chosen, s], allowed & bits[s], new_load)

    rec(0, [], (1 << n_sites) - 1, {})
    if not combos:
        return CoverageEnumeration(n, 0, [])
    canon = _canonical_keys(grid.perms, np.array(combos, int))
    keys, counts = np.unique(canon, return_counts=True)
    unique = []
    for key, count in zip(keys.tolist(), counts.tolist(), strict=True):
        sites = tuple(i for i in range(n_sites) if (int(key) >> i) & 1)
        unique.append(Arrangement(sites, int(count), _spread(grid, sites)))
    unique.sort(key=lambda a: (-round(a.spread, 3), a.sites))
    return CoverageEnumeration(n, len(combos), unique)


def _canonical_keys(perms: np.ndarray, combos: np.ndarray) -> np.ndarray:
    """For each combination, the smallest bitmask over its symmetry images."""
    n_sites = perms.shape[1]
    if n_sites <= 63:
        weights = np.left_shift(np.uint64(1), perms.astype(np.uint64))  # (G, n_sites)
        masks = weights[:, combos].sum(axis=2)  # (G, R)
        return masks.min(axis=0)
    out = []
    for c in combos:
        out.append(min(sum(1 << int(p[s]) for s in c) for p in perms))
    return np.array(out, dtype=object)


def _spread(grid: SiteGrid, sites: tuple[int, ...]) -> float:
    if len(sites) < 2:
        return float("inf") if not sites else _self_spread(grid)
    centers = np.array([grid.sites[s].center for s in sites])
    d = _min_image_distances(centers, centers, grid.slab.atoms.cell[:])
    d[np.diag_indices(len(sites))] = np.inf
    return float(min(d.min(), _self_spread(grid)))


def _self_spread(grid: SiteGrid) -> float:
    cell = grid.slab.atoms.cell[:]
    return float(min(np.linalg.norm(cell[0]), np.linalg.norm(cell[1])))


def stabilizer_orbits(grid: SiteGrid, arrangement: Arrangement) -> list[list[int]]:
    """Orbits of the arrangement's ligands (positions in ``arrangement.sites``) under the
    operations that map the arrangement onto itself."""
    occupied = set(arrangement.sites)
    pos_of = {s: k for k, s in enumerate(arrangement.sites)}
    parent = list(range(len(arrangement.sites)))

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for p in grid.perms:
        if {int(p[s]) for s in occupied} != occupied:
            continue
        for s in arrangement.sites:
            a, b = root(pos_of[s]), root(pos_of[int(p[s])])
            if a != b:
                parent[max(a, b)] = min(a, b)
    groups: dict[int, list[int]] = {}
    for k in range(len(arrangement.sites)):
        groups.setdefault(root(k), []).append(k)
    return sorted(groups.values())


@dataclass
class Adsorbate:
    """One adsorbed species on the top face: which ligand, its site, its atoms."""

    ligand: Ligand
    site: Site
    positions: np.ndarray
    region: int = REGION_LIGAND


def adsorbates_of(grid: SiteGrid, arrangement: Arrangement) -> list[Adsorbate]:
    return [Adsorbate(grid.ligand, grid.sites[s], grid.placed[s]) for s in arrangement.sites]


def replacement(base: SiteGrid, arrangement: Arrangement, position: int,
                additive: SiteGrid) -> Adsorbate | None:
    """The additive placed where ligand ``position`` of the arrangement was removed.

    Candidates are the additive's own sites that share surface atoms with the removed
    site and, for a one-anchor additive, the removed ligand's anchor positions themselves
    (F taking the place of a carboxylate O). A candidate must fit the remaining ligands;
    the one sharing the most surface atoms, then the closest to the removed site, wins.
    None when nothing fits.
    """
    removed = base.sites[arrangement.sites[position]]
    others = [s for k, s in enumerate(arrangement.sites) if k != position]
    cell = base.slab.atoms.cell[:]
    load: dict[int, int] = {}
    for s in others:
        for a, c in base.usage(s).items():
            load[a] = load.get(a, 0) + c
    candidates = [(site, additive.placed[t], additive.usage(t))
                  for t, site in enumerate(additive.sites)]
    if len(additive.ligand.anchors) == 1:
        symbols = base.slab.atoms.get_chemical_symbols()
        for k, target in enumerate(removed.targets):
            host = removed.atoms[min(k, len(removed.atoms) - 1)]
            hpos = base.slab.atoms.positions[host]
            v = target - hpos
            v -= cell[:2].T @ np.round(np.linalg.solve(cell[:2, :2].T, v[:2]))
            bond = anchor_bond(additive.ligand.anchor_symbol(0), symbols[host])
            t = hpos + v / np.linalg.norm(v) * bond
            site = Site((host,), t[None, :], removed.direction, "atop")
            candidates.append((site, place(additive.ligand, "atop", site.targets,
                                           site.direction), {host: 1}))
    slab_pos = base.slab.atoms.positions
    best = None
    for t, (site, pos, usage) in enumerate(candidates):
        overlap = len(set(site.atoms) & set(removed.atoms))
        if overlap == 0:
            continue
        if any(load.get(a, 0) + c > MAX_ANCHORS_PER_ATOM for a, c in usage.items()):
            continue
        if np.min(_min_image_distances(pos, slab_pos, cell)) < MIN_TO_SLAB:
            continue
        if any(_clash(pos, additive.ligand.symbols, base.placed[s], base.ligand.symbols, cell)
               for s in others):
            continue
        dist = float(_min_image_distances(site.center[None], removed.center[None], cell)[0, 0])
        key = (-overlap, round(dist, 3), t)
        if best is None or key < best[0]:
            best = (key, Adsorbate(additive.ligand, site, pos, REGION_ADDITIVE))
    return None if best is None else best[1]


def _below(positions: np.ndarray, slab: Slab, original: np.ndarray) -> np.ndarray:
    """Shift a bottom-face image by whole cell heights (a face-swapping operation is
    defined modulo the cell's third vector) so that it lies where the mirror of its
    top-face original is: its mean height closest to 2 z_mid - mean(original z), z_mid the
    slab's mid-height. (An adsorbate that sits down in the surface plane, as one taking
    the place of a surface atom does, then stays inside the bottom face, not under it.)"""
    height = slab.atoms.cell[2, 2]
    z = slab.atoms.positions[:, 2]
    target = (z.min() + z.max()) - original[:, 2].mean()
    out = positions.copy()
    out[:, 2] += np.round((target - positions[:, 2].mean()) / height) * height
    return out


def image_index(atoms: Atoms, op, index: int, tol: float = MATCH_TOL * 4) -> int:
    """The atom that symmetry operation ``op`` maps atom ``index`` onto (same element,
    positions compared modulo the cell)."""
    cell = atoms.cell[:]
    img = op.apply_cartesian(atoms.positions[index][None, :], cell)[0]
    frac = (atoms.positions - img) @ np.linalg.inv(cell)
    frac -= np.round(frac)
    d = np.linalg.norm(frac @ cell, axis=1)
    d[np.array(atoms.get_chemical_symbols()) != atoms[index].symbol] = np.inf
    k = int(np.argmin(d))
    if d[k] > tol:
        raise StructureError(f"atom {index} has no image under the face-swapping operation")
    return k


def decorate(slab: Slab, adsorbates: list[Adsorbate], removes: tuple[int, ...] = ()
             ) -> Atoms:
    """The slab with adsorbates on the top face and, for a symmetric slab, their images on
    the bottom face under the slab's face-swapping operation (both faces identical).

    Slab atoms replaced by an adsorbate (``Site.removes``) and the atoms in ``removes``
    (e.g. the surface atom a replacing ligand took, in its vacancy structure) are deleted,
    with their images on the bottom face."""
    atoms = slab.atoms.copy()
    cell = atoms.cell[:]
    swap = face_swap_operation(slab.atoms) if slab.symmetric else None
    if slab.symmetric and swap is None:
        raise StructureError("symmetric slab without a face-swapping operation")
    gone = set(removes) | {i for ads in adsorbates for i in ads.site.removes}
    if swap is not None:
        gone |= {image_index(slab.atoms, swap, i) for i in list(gone)}
    faces = [(1, None)] + ([(-1, swap)] if swap is not None else [])
    lid = 0
    for _face, op in faces:
        for ads in adsorbates:
            pos = ads.positions if op is None else _below(
                op.apply_cartesian(ads.positions, cell), slab, ads.positions)
            mol = Atoms(ads.ligand.symbols, positions=pos)
            mol.new_array("region", np.full(len(mol), ads.region, int))
            mol.new_array("plane", np.full(len(mol), -1, int))
            mol.new_array("pseudo_h_charge", np.zeros(len(mol)))
            mol.new_array("ligand_id", np.full(len(mol), lid, int))
            lid += 1
            atoms += mol
    if gone:
        del atoms[sorted(gone)]
    center_with_vacuum(atoms, slab.vacuum)
    atoms.wrap()
    return atoms

