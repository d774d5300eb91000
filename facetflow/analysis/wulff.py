"""Wulff constructions with the crystal's own point group (WulffPack's ``SingleCrystal``).

The polyhedron is the inner envelope of the planes n_f . x = d_f, with n_f running over
every facet of each family (the family's orbit under the point group of the bulk
crystal) and d_f the family's surface energy (equilibrium shape) or growth rate (kinetic
shape). The point group is that of the conventional cell of ``structures.bulk``:
-43m for zincblende, so {111} (A, cation face) and {-1-1-1} (B, anion face) are
different families and unequal rates make tetrahedra; 6mm for wurtzite, so (0001) and
(000-1) are different families and the prism faces {10-10}, {11-20} form rods or
platelets; m-3m for rocksalt and cubic perovskites.

Miller indices are (h, k, l) of the conventional cell, or Miller-Bravais (h, k, i, l) on
hexagonal crystals; a family must not be given twice (two symmetry-equivalent indices
with different values are refused with the family named).

Measures of the shape (all dimensionless):

* aspect ratio: largest over smallest caliper width (1 for a sphere, sqrt(3) for a cube);
* aspect ratio along c (hexagonal crystals): the length of the polyhedron along c over
  its smallest caliper width in the basal plane (> 1: a rod, < 1: a platelet);
* facet area fractions: each family's share of the surface area.

``halfspace_shape`` builds the same polyhedron without WulffPack, as the intersection of
the half-spaces n . x <= d_f over ``family_normals`` (~1 ms instead of ~10 ms), for
constructions repeated many times (the error-bar samples of ``analysis.uncertainty``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import spglib

from facetflow.structures.bulk import conventional_cell
from facetflow.structures.materials import Compound

SYMPREC = 1e-5


@dataclass(frozen=True)
class WulffResult:
    """A Wulff polyhedron: its measures and its faces (lengths in units of the smallest
    distance d_f of the construction, volume in its cube; Cartesian frame of the
    conventional cell)."""

    point_group: str
    aspect_ratio: float
    aspect_ratio_c: float | None
    facet_area_fractions: dict[tuple[int, ...], float]
    volume: float
    faces: list[tuple[tuple[int, ...], np.ndarray]]


def point_group(compound: Compound) -> str:
    """Hermann-Mauguin symbol of the bulk point group (spglib), e.g. ``-43m``, ``6mm``."""
    at = conventional_cell(compound)
    ds = spglib.get_symmetry_dataset((at.cell[:], at.get_scaled_positions(), at.numbers),
                                     symprec=SYMPREC)
    return str(ds.pointgroup)


def wulff_shape(compound: Compound, values: Mapping[tuple[int, ...], float]) -> WulffResult:
    """The Wulff polyhedron of ``compound`` with the distance of each family proportional to
    its value (surface energy, or growth rate for a kinetic shape); values > 0."""
    from wulffpack import SingleCrystal

    if len(values) < 1:
        raise ValueError("a Wulff construction needs at least one facet family")
    bad = {m: v for m, v in values.items() if not v > 0}
    if bad:
        raise ValueError(f"Wulff distances must be positive; got {bad}")
    prim = conventional_cell(compound)
    _check_standard(prim)
    low = min(values.values())
    energies = {tuple(int(i) for i in m): float(v) / low for m, v in values.items()}
    try:
        particle = SingleCrystal(energies, prim, natoms=1000, symprec=SYMPREC)
    except ValueError as exc:  # WulffPack's message says what is wrong (open shape, ...)
        raise ValueError(f"Wulff construction of {compound.name} "
                         f"({point_group(compound)}) from {sorted(energies)}: {exc}") from None
    faces = [(tuple(form.parent_miller_indices), _polygon(np.array(f.vertices, float)))
             for form in particle.forms for f in form.facets if len(f.vertices)]
    # WulffPack scales the shape to natoms; back to units of the smallest distance
    unit = next(float(np.dot(f.normal, f.vertices[0])) / form.energy
                for form in particle.forms for f in form.facets if len(f.vertices))
    faces = [(m, v / unit) for m, v in faces]
    pts = np.vstack([v for _m, v in faces])
    diameter, width = calipers(pts)
    fractions = {tuple(k): float(v) for k, v in particle.facet_fractions.items()}
    return WulffResult(point_group=point_group(compound), aspect_ratio=diameter / width,
                       aspect_ratio_c=_aspect_along_c(pts, prim.cell[:])
                       if compound.structure == "wurtzite" else None,
                       facet_area_fractions=fractions, volume=float(particle.volume) / unit**3,
                       faces=faces)


def family_normals(compound: Compound, miller: tuple[int, ...]) -> np.ndarray:
    """Unit normals (Cartesian, conventional-cell frame) of every facet of the family of
    ``miller`` (Miller, or Miller-Bravais on hexagonal crystals) under the crystal's
    point group: a plane h . x = d maps to (h R^-1) . x' = d under the fractional rotation
    R, and its normal is sum_i h'_i b_i with b_i the reciprocal vectors. The same orbits as
    ``wulff_shape`` uses, for constructions repeated many times (error-bar samples)."""
    at = conventional_cell(compound)
    ds = spglib.get_symmetry_dataset((at.cell[:], at.get_scaled_positions(), at.numbers),
                                     symprec=SYMPREC)
    m = tuple(miller)
    hkl = np.array(m[:2] + m[3:] if len(m) == 4 else m, float)
    images = {tuple(np.round(hkl @ np.linalg.inv(rot), 6)) for rot in ds.rotations}
    normals = np.array(sorted(images)) @ np.linalg.inv(at.cell[:]).T
    return normals / np.linalg.norm(normals, axis=1, keepdims=True)


def _polygon(vertices: np.ndarray) -> np.ndarray:
    """A convex face's vertices in order around it (by angle about their centroid in the
    face's plane), duplicates dropped."""
    uniq: list[np.ndarray] = []
    for v in vertices:
        if not any(np.allclose(v, u, atol=1e-8) for u in uniq):
            uniq.append(v)
    pts = np.array(uniq)
    if len(pts) < 3:
        return pts
    centre = pts.mean(axis=0)
    _u, _s, vt = np.linalg.svd(pts - centre)
    e1, e2 = vt[0], vt[1]
    angles = np.arctan2((pts - centre) @ e2, (pts - centre) @ e1)
    return pts[np.argsort(angles)]


def _check_standard(prim) -> None:
    """WulffPack reads Miller indices on spglib's standardised cell; ours must be it."""
    ds = spglib.get_symmetry_dataset((prim.cell[:], prim.get_scaled_positions(), prim.numbers),
                                     symprec=SYMPREC)
    if not (np.allclose(ds.transformation_matrix, np.eye(3))
            and np.allclose(ds.std_rotation_matrix, np.eye(3))):
        raise ValueError("the conventional cell is not spglib's standard setting; Miller "
                         "indices would be read in another frame")


def _aspect_along_c(points: np.ndarray, cell: np.ndarray) -> float:
    """Length along c over the smallest caliper width in the basal plane."""
    c = cell[2] / np.linalg.norm(cell[2])
    along = points @ c
    length = float(along.max() - along.min())
    a1 = cell[0] / np.linalg.norm(cell[0])
    a2 = np.cross(c, a1)
    angles = np.linspace(0.0, np.pi, 720, endpoint=False)
    dirs = np.outer(np.cos(angles), a1) + np.outer(np.sin(angles), a2)
    proj = points @ dirs.T
    return length / float((proj.max(axis=0) - proj.min(axis=0)).min())


def calipers(points: np.ndarray, n: int = 2000) -> tuple[float, float]:
    """Largest caliper width (the diameter: the largest distance between two vertices)
    and smallest width (over the hull's face normals and n directions spread evenly over
    the sphere) of a convex polyhedron given by its vertices."""
    from scipy.spatial import ConvexHull
    from scipy.spatial.distance import pdist

    k = np.arange(n) + 0.5
    polar = np.arccos(1 - 2 * k / n)
    azim = np.pi * (1 + 5**0.5) * k
    dirs = np.stack([np.cos(azim) * np.sin(polar), np.sin(azim) * np.sin(polar),
                     np.cos(polar)], axis=1)
    dirs = np.vstack([dirs, ConvexHull(points).equations[:, :3]])
    proj = points @ dirs.T
    return float(pdist(points).max()), float((proj.max(axis=0) - proj.min(axis=0)).min())


def halfspace_shape(normals: list[np.ndarray], distances, n_dirs: int = 300
                    ) -> tuple[float, np.ndarray]:
    """Aspect ratio (largest over smallest caliper width, ``calipers`` with ``n_dirs``
    directions) and area fraction of each family (in the order of ``normals``) of the
    polyhedron {x : n . x <= d_f for every normal n of family f}; d_f > 0 in any length
    unit (surface energies, or growth rates for a kinetic shape). A family whose planes
    do not touch the shape has fraction 0; NaN everywhere when the planes do not close
    a shape."""
    from scipy.spatial import ConvexHull, HalfspaceIntersection, QhullError

    d = np.concatenate([np.full(len(n), float(r))
                        for n, r in zip(normals, distances, strict=True)])
    nrm = np.vstack(normals)
    family = np.concatenate([np.full(len(n), i) for i, n in enumerate(normals)])
    try:
        pts = HalfspaceIntersection(np.hstack([nrm, -d[:, None]]), np.zeros(3)).intersections
        hull = ConvexHull(pts)
        big, small = calipers(pts, n=n_dirs)
    except (QhullError, ValueError):  # an open or degenerate shape
        return float("nan"), np.full(len(normals), np.nan)
    return big / small, _family_areas(hull, nrm, d, family, len(normals))


def _family_areas(hull, normals: np.ndarray, distances: np.ndarray, family: np.ndarray,
                  n_families: int) -> np.ndarray:
    """Area fraction per family of a convex hull's surface: each triangle of the hull
    belongs to the plane n . x = d it lies on (the smallest |n . c - d| at its centroid
    c: any other plane meets the triangle at most along an edge)."""
    tri = hull.points[hull.simplices]
    areas = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]),
                                 axis=1)
    off = np.abs(tri.mean(axis=1) @ normals.T - distances)
    per = np.bincount(family[np.argmin(off, axis=1)], weights=areas, minlength=n_families)
    return per / per.sum()
