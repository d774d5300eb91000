"""Growth model: relative shell-growth rates per facet from the optimal coverage and the
binding energies, and the kinetic Wulff shape of those rates.

Model (a documented choice; any function with the same signature can replace it):

* A facet f at its optimal coverage theta*_f has a fraction phi_f = 1 - theta*_f x
  footprint of its surface cations free. A growth unit G (Se, ZnSe) adds at a free site
  without a barrier (rate proportional to phi_f).
* On an occupied site G must displace the species bound there. Displacing X costs
  Delta_f(X) = max(0, E_b(G) - E_b(X)) (binding energies negative when bound, see
  docs/concepts.md), so that channel goes as exp(-Delta_f(X) / k_B T) at the synthesis temperature.
* Occupied sites hold the ligand, except that with an additive one ligand of the
  n_f ligands in the cell is replaced by it: fractions (n_f - 1)/n_f and 1/n_f.

    r_f = phi_f + (1 - phi_f) * sum_X w_X exp(-Delta_f(X) / k_B T)

Rates are reported relative to the fastest facet; the anisotropy index is max/min. A
kinetic Wulff construction (pymatgen's WulffShape, with rates in place of surface
energies: the distance of each facet from the centre is proportional to its growth
rate) gives the predicted shape; its aspect ratio is the ratio of the largest to the
smallest caliper width of the polyhedron (1 for a sphere, sqrt(3) for a cube). WulffShape
symmetrises with the cubic lattice's point group (m-3m), so the polar {111} A and
{-1-1-1} B faces of zincblende are one family here.

Assumptions: one growth unit per facet; no diffusion between facets; the additive
only changes the blocking species (its own effect on theta* enters through theta*).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

K_B = 8.617333262e-5  # eV/K


@dataclass(frozen=True)
class FacetGrowthInput:
    """What the model needs for one facet. Energies in eV (negative = bound)."""

    theta_opt: float
    footprint: int
    eb_growth: float
    eb_ligand: float
    n_ligands: int = 1
    eb_additive: float | None = None


def growth_rate(f: FacetGrowthInput, temperature_c: float) -> float:
    """Relative growth rate of one facet (see module docstring). Inputs may be arrays of
    samples (``analysis.uncertainty``); the rate is then an array."""
    kt = K_B * (temperature_c + 273.15)
    phi = np.maximum(0.0, 1.0 - np.asarray(f.theta_opt) * f.footprint)

    def channel(eb_x):
        return np.exp(-np.maximum(0.0, np.asarray(f.eb_growth) - eb_x) / kt)

    if f.eb_additive is None:
        blocked = channel(f.eb_ligand)
    else:
        n = max(f.n_ligands, 1)
        blocked = (n - 1) / n * channel(f.eb_ligand) + 1 / n * channel(f.eb_additive)
    rate = phi + (1.0 - phi) * blocked
    return float(rate) if np.ndim(rate) == 0 else rate


def relative_rates(facets: Mapping[str, FacetGrowthInput], temperature_c: float
                   ) -> dict[str, float]:
    """Growth rates normalised to the fastest facet."""
    raw = {k: growth_rate(v, temperature_c) for k, v in facets.items()}
    top = max(raw.values())
    return {k: v / top for k, v in raw.items()}


def anisotropy_index(rates: Mapping[str, float]) -> float:
    """max/min of the growth rates (1 = isotropic)."""
    values = list(rates.values())
    return max(values) / min(values)


@dataclass(frozen=True)
class Shape:
    aspect_ratio: float
    facet_area_fractions: dict[str, float]
    volume: float


def kinetic_wulff(lattice_a: float, rates: Mapping[tuple[int, int, int], float]) -> Shape:
    """Kinetic Wulff shape of a cubic crystal from per-family growth rates."""
    from pymatgen.analysis.wulff import WulffShape
    from pymatgen.core import Lattice

    millers: Sequence[tuple[int, int, int]] = list(rates)
    shape = WulffShape(Lattice.cubic(lattice_a), millers, [rates[m] for m in millers])
    pts = np.array(shape.wulff_pt_list)
    diameter, min_width = calipers(pts)
    fractions = {"".join(str(i) for i in m): float(v)
                 for m, v in shape.area_fraction_dict.items()}
    return Shape(aspect_ratio=float(diameter / min_width),
                 facet_area_fractions=fractions, volume=float(shape.volume))


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
