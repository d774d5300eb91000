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
kinetic Wulff construction (``facetflow.analysis.wulff``: WulffPack with the bulk
crystal's point group, rates in place of surface energies: the distance of each facet
from the centre is proportional to its growth rate) gives the predicted shape; its aspect
ratio is the ratio of the largest to the smallest caliper width of the polyhedron (1 for
a sphere, sqrt(3) for a cube), and on hexagonal crystals the aspect ratio along c (length
along c over the smallest basal width: > 1 a rod, < 1 a platelet). With -43m (zincblende)
{111} A and {-1-1-1} B are different families; with 6mm (wurtzite) (0001) and (000-1).

A facet the ligand does not bind (left out of the first ligand's ``facets``) is free:
theta* = 0, phi = 1, r = 1, the fastest possible rate.

Assumptions: one growth unit per facet; no diffusion between facets; the additive
only changes the blocking species (its own effect on theta* enters through theta*).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from facetflow.analysis.wulff import wulff_shape
from facetflow.records.study import Study
from facetflow.structures.materials import Compound, get_compound

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


FREE_FACET = FacetGrowthInput(theta_opt=0.0, footprint=1, eb_growth=0.0, eb_ligand=0.0)
"""A facet the growth model's ligand does not bind (left out of its ``facets``, e.g. the
anion-terminated (000-1) of wurtzite for a carboxylate): every site free, r = 1."""


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
    """A kinetic Wulff shape: aspect ratio (largest / smallest caliper width), aspect
    ratio along c (hexagonal crystals: length along c / smallest basal width; > 1 rod,
    < 1 platelet), area fraction per family (keys: the indices written together, e.g.
    ``111``, ``-1-1-1``, ``10-10``), volume (in units of the slowest facet's distance
    cubed) and the bulk point group."""

    aspect_ratio: float
    facet_area_fractions: dict[str, float]
    volume: float
    aspect_ratio_c: float | None = None
    point_group: str = ""


def kinetic_wulff(compound: Compound, rates: Mapping[tuple[int, ...], float]) -> Shape:
    """Kinetic Wulff shape of ``compound`` with its own point group
    (``facetflow.analysis.wulff``) from per-family growth rates (keys: Miller or
    Miller-Bravais indices)."""
    shape = wulff_shape(compound, rates)
    fractions = {family_key(m): v for m, v in shape.facet_area_fractions.items()}
    return Shape(aspect_ratio=shape.aspect_ratio, facet_area_fractions=fractions,
                 volume=shape.volume, aspect_ratio_c=shape.aspect_ratio_c,
                 point_group=shape.point_group)


def family_key(miller: tuple[int, ...] | list[int]) -> str:
    """A family's key in ``Shape.facet_area_fractions``: its indices written together
    (``111``, ``-1-1-1``, ``10-10``)."""
    return "".join(str(int(i)) for i in miller)


def study_core(study: Study) -> Compound:
    """The study's core compound with its lattice overrides (Å): the crystal whose point
    group the kinetic Wulff shape has."""
    return get_compound(study.core.material).with_lattice(study.core.a, study.core.c)
