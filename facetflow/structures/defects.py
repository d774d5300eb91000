"""Neutral point defects near the surface of a symmetric slab: vacancies and interstitials
at symmetry-unique positions in the outermost atomic planes, applied to both faces, and a
ligand bound next to each defect.

Positions
---------
* Vacancy ``V_X``: every atom of element X in the top ``layers`` planes is a candidate;
  candidates related by an operation that keeps the top face (``surface_operations``:
  in-plane translations of the supercell, rotations, mirrors, glides) form one orbit and
  one position.
* Interstitial ``X_int``: the empty sites of the slab found geometrically: on a grid
  (``GRID_STEP`` Å) between the top plane and the ``layers``-th plane below it, the
  interior local maxima of the clearance (distance to the nearest atom), each refined to
  the centre of its largest empty sphere (Nelder-Mead on the clearance), kept when they
  lie below the top plane and their clearance is at least ``MIN_CLEARANCE`` x the
  shortest cation-anion bond (the tetrahedral sites of a zincblende crystal have a
  clearance of one bond length). Maxima closer than ``MERGE`` Å are merged;
  symmetry-related ones form one position.

Positions are ordered from the surface inwards (then by decreasing clearance for
interstitials) and the first ``max_sites`` of each kind are kept. On a symmetric slab the
defect is put on both faces (its image under the face-swapping operation), so a defective
cell holds ``n_defects = 2`` defects and the formation energy per defect is
E_f = [E(defective) - E(pristine) - sum_i dn_i mu_i] / 2 (facetflow.analysis.defects).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from ase import Atoms
from ase.constraints import FixAtoms

from facetflow.errors import StructureError
from facetflow.structures import REGION_CORE
from facetflow.structures.coverage import (
    MIN_TO_SLAB,
    Adsorbate,
    SiteGrid,
    _min_image_distances,
    decorate,
    image_index,
)
from facetflow.structures.slab import Slab
from facetflow.structures.symmetry import SymOp, face_swap_operation, surface_operations
from facetflow.structures.topology import cation_anion_bonds

GRID_STEP = 0.2  # Å
MIN_CLEARANCE = 0.8  # x shortest cation-anion bond
MERGE = 0.5  # Å
ORBIT_TOL = 0.1  # Å, matching refined voids under symmetry


@dataclass(frozen=True)
class DefectSite:
    """One symmetry-unique defect position on the top face of a slab (pristine frame, Å).

    ``layer``: 0 for the outermost plane (vacancies), or the plane just above an
    interstitial; ``index``: the removed atom (vacancies); ``multiplicity``: equivalent
    positions per face in the cell; ``clearance``: distance from an interstitial to its
    nearest atom before relaxation."""

    kind: str
    element: str
    position: tuple[float, float, float]
    layer: int
    multiplicity: int
    index: int | None = None
    clearance: float | None = None

    @property
    def vacancy(self) -> bool:
        return self.kind.startswith("V_")

    def as_dict(self) -> dict:
        return {"kind": self.kind, "element": self.element, "layer": self.layer,
                "multiplicity": self.multiplicity,
                "position": [round(float(x), 4) for x in self.position],
                "removed_atom": self.index,
                "clearance": None if self.clearance is None else round(self.clearance, 4),
                "n_defects": 2}


def parse_kind(kind: str) -> tuple[str, str]:
    """``V_S`` -> ("vacancy", "S"); ``Zn_int`` -> ("interstitial", "Zn")."""
    if kind.startswith("V_"):
        return "vacancy", kind[2:]
    if kind.endswith("_int"):
        return "interstitial", kind[:-4]
    raise ValueError(f"unknown defect kind {kind!r}: V_<El> or <El>_int")


def _planes_from_top(slab: Slab) -> tuple[np.ndarray, list[float]]:
    """Per atom its layer counted from the top plane (0 = outermost; -1 for atoms that are
    not slab planes), and the heights of the planes from the top down."""
    plane = slab.atoms.arrays["plane"]
    top = int(plane.max())
    layer = np.where(plane >= 0, top - plane, -1)
    z = slab.atoms.positions[:, 2]
    heights = [float(z[plane == top - k].mean()) for k in range(top + 1)]
    return layer, heights


def _orbits(points: np.ndarray, ops: list[SymOp], cell: np.ndarray, tol: float
            ) -> list[list[int]]:
    """Groups of points (rows) mapped onto each other by ``ops`` (in-plane periodic)."""
    n = len(points)
    parent = list(range(n))

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for op in ops:
        img = op.apply_cartesian(points, cell)
        d = _min_image_distances(img, points, cell)
        for i in range(n):
            j = int(np.argmin(d[i]))
            if d[i, j] < tol:
                a, b = root(i), root(j)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(root(i), []).append(i)
    return sorted(groups.values())


def multiplicity(point: np.ndarray, ops: list[SymOp], cell: np.ndarray,
                 tol: float = ORBIT_TOL) -> int:
    """Distinct images of a point under ``ops`` in the cell (positions per face)."""
    images: list[np.ndarray] = []
    for op in ops:
        img = op.apply_cartesian(np.asarray(point, float)[None, :], cell)
        if not images or _min_image_distances(img, np.array(images), cell).min() > tol:
            images.append(img[0])
    return len(images)


def vacancy_sites(slab: Slab, element: str, layers: int) -> list[DefectSite]:
    """Symmetry-unique atoms of ``element`` in the top ``layers`` planes."""
    atoms = slab.atoms
    layer, _ = _planes_from_top(slab)
    symbols = np.array(atoms.get_chemical_symbols())
    cand = [int(i) for i in np.flatnonzero((symbols == element) & (layer >= 0) &
                                           (layer < layers))]
    if not cand:
        return []
    ops = surface_operations(atoms)
    groups = _orbits(atoms.positions[cand], ops, atoms.cell[:], 0.05)
    out = []
    for g in groups:
        i = min(cand[k] for k in g)
        out.append(DefectSite(f"V_{element}", element,
                              tuple(float(x) for x in atoms.positions[i]), int(layer[i]),
                              multiplicity(atoms.positions[i], ops, atoms.cell[:]), index=i))
    out.sort(key=lambda s: (s.layer, s.index))
    return out


def _clearance(points: np.ndarray, atoms: Atoms, chunk: int = 4000) -> np.ndarray:
    cell = atoms.cell[:]
    out = np.empty(len(points))
    for k in range(0, len(points), chunk):
        out[k:k + chunk] = _min_image_distances(points[k:k + chunk], atoms.positions,
                                                cell).min(axis=1)
    return out


def _refine(p: np.ndarray, atoms: Atoms) -> np.ndarray:
    """The centre of the largest empty sphere near ``p`` (maximum of the clearance)."""
    from scipy.optimize import minimize

    res = minimize(lambda x: -_clearance(x[None, :], atoms)[0], p, method="Nelder-Mead",
                   options={"xatol": 1e-4, "fatol": 1e-6, "maxiter": 400})
    return np.asarray(res.x, float)


def void_sites(slab: Slab, layers: int) -> list[tuple[np.ndarray, float, int, int]]:
    """Empty sites (position, clearance, layer above, multiplicity) between the top plane
    and the ``layers``-th plane below it, one representative per symmetry orbit, surface
    first."""
    atoms = slab.atoms
    cell = atoms.cell[:]
    layer, heights = _planes_from_top(slab)
    if len(heights) < 2:
        return []
    z_hi = heights[0]
    z_lo = heights[min(layers, len(heights) - 1)]
    n1 = max(int(np.ceil(np.linalg.norm(cell[0]) / GRID_STEP)), 4)
    n2 = max(int(np.ceil(np.linalg.norm(cell[1]) / GRID_STEP)), 4)
    nz = max(int(np.ceil((z_hi - z_lo) / GRID_STEP)), 2)
    f1, f2 = np.arange(n1) / n1, np.arange(n2) / n2
    zs = np.linspace(z_lo, z_hi, nz + 1)
    g1, g2, gz = np.meshgrid(f1, f2, zs, indexing="ij")
    pts = (g1[..., None] * cell[0] + g2[..., None] * cell[1])
    pts[..., 2] = gz
    clear = _clearance(pts.reshape(-1, 3), atoms).reshape(g1.shape)
    i, j, k = np.mgrid[0:n1, 0:n2, 0:nz + 1]
    is_max = np.ones_like(clear, bool)
    for d1 in (-1, 0, 1):
        for d2 in (-1, 0, 1):
            for d3 in (-1, 0, 1):
                if (d1, d2, d3) == (0, 0, 0):
                    continue
                nb = clear[(i + d1) % n1, (j + d2) % n2, np.clip(k + d3, 0, nz)]
                is_max &= clear >= nb - 1e-9
    is_max[:, :, 0] = is_max[:, :, -1] = False  # interior maxima only
    bonds = cation_anion_bonds(atoms, set(slab.cations), set(slab.anions))
    bond = float(np.linalg.norm(bonds[2], axis=1).min()) if len(bonds[0]) else 2.0
    cand = np.array([_refine(p, atoms) for p in pts[is_max]]).reshape(-1, 3)
    cval = _clearance(cand, atoms) if len(cand) else np.zeros(0)
    ok = ((cval >= MIN_CLEARANCE * bond) & (cand[:, 2] < z_hi - 0.05)
          & (cand[:, 2] > z_lo + 0.05))
    cand, cval = cand[ok], cval[ok]
    order = np.argsort(-np.round(cval, 3), kind="stable")
    chosen: list[int] = []
    for idx in order:
        if all(_min_image_distances(cand[idx][None], cand[c][None], cell)[0, 0] > MERGE
               for c in chosen):
            chosen.append(int(idx))
    if not chosen:
        return []
    cand, cval = cand[chosen], cval[chosen]
    ops = surface_operations(atoms)
    groups = _orbits(cand, ops, cell, ORBIT_TOL)
    out = []
    for g in groups:
        best = max(g, key=lambda m: (round(float(cval[m]), 3), float(cand[m][2])))
        above = sum(1 for h in heights if h > cand[best][2] + 1e-6)
        out.append((cand[best], float(cval[best]), max(above - 1, 0),
                    multiplicity(cand[best], ops, cell)))
    out.sort(key=lambda t: (-round(float(t[0][2]), 1), -round(t[1], 3)))
    return out


def defect_sites(slab: Slab, kind: str, layers: int, max_sites: int) -> list[DefectSite]:
    """The first ``max_sites`` symmetry-unique positions of ``kind`` (see module doc)."""
    what, element = parse_kind(kind)
    if what == "vacancy":
        sites = vacancy_sites(slab, element, layers)
    else:
        sites = [DefectSite(kind, element, tuple(float(x) for x in p), lay, m, clearance=c)
                 for p, c, lay, m in void_sites(slab, layers)]
    return sites[:max_sites]


def _swap(slab: Slab) -> SymOp:
    op = face_swap_operation(slab.atoms)
    if op is None:
        raise StructureError("defects need a symmetric slab with a face-swapping operation")
    return op


def apply_defect(slab: Slab, site: DefectSite) -> Atoms:
    """The slab (same frame, not re-centred) with the defect on the top face and its image
    on the bottom face. An interstitial atom is a slab atom (region core, plane of the
    layer above it); it is free to relax."""
    atoms = slab.atoms.copy()
    swap = _swap(slab)
    cell = atoms.cell[:]
    if site.vacancy:
        gone = {site.index, image_index(slab.atoms, swap, site.index)}
        del atoms[sorted(gone)]
        return atoms
    top = np.array(site.position, float)[None, :]
    bottom = swap.apply_cartesian(top, cell)
    bottom[0, 2] -= np.floor((bottom[0, 2] - 0.0) / cell[2, 2]) * cell[2, 2]
    plane = atoms.arrays["plane"]
    top_plane = int(plane.max())
    for pos, pl in ((top[0], top_plane - site.layer), (bottom[0], site.layer)):
        extra = Atoms(site.element, positions=[pos])
        extra.new_array("region", np.array([REGION_CORE]))
        extra.new_array("plane", np.array([pl]))
        extra.new_array("pseudo_h_charge", np.zeros(1))
        extra.new_array("ligand_id", np.array([-1]))
        atoms += extra
    fixed = [i for c in atoms.constraints if isinstance(c, FixAtoms) for i in c.index]
    atoms.set_constraint(FixAtoms(indices=sorted(fixed)))
    z = atoms.positions[:, 2]
    if z.min() < 0 or z.max() > cell[2, 2]:
        raise StructureError("an interstitial image fell outside the cell")
    return atoms


def defective_slab(slab: Slab, site: DefectSite) -> Slab:
    """A ``Slab`` whose atoms carry the defect (for ``decorate``)."""
    return replace(slab, atoms=apply_defect(slab, site))


def ligand_next_to(grid: SiteGrid, site: DefectSite) -> int | None:
    """Index of the binding site of ``grid`` (on the pristine slab) nearest the defect
    that does not use a removed atom and keeps ``MIN_TO_SLAB`` from an interstitial;
    None when no site qualifies."""
    cell = grid.slab.atoms.cell[:]
    pos = np.array(site.position, float)[None, :]
    best = None
    for k, s in enumerate(grid.sites):
        if site.vacancy and (site.index in s.atoms or site.index in s.removes):
            continue
        if not site.vacancy and np.min(_min_image_distances(grid.placed[k], pos, cell)
                                       ) < MIN_TO_SLAB:
            continue
        d = float(_min_image_distances(s.center[None], pos, cell)[0, 0])
        key = (round(d, 3), k)
        if best is None or key < best:
            best = key
    return None if best is None else best[1]


def ligand_pair(slab: Slab, grid: SiteGrid, k: int, site: DefectSite
                ) -> tuple[Atoms, Atoms]:
    """(pristine slab + ligand at site k, defective slab + the same ligand), both faces."""
    ads = Adsorbate(grid.ligand, grid.sites[k], grid.placed[k])
    return decorate(slab, [ads]), decorate(defective_slab(slab, site), [ads])
