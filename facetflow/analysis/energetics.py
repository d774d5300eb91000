"""Energetics of facets: chemical potentials, surface energies, interfacial energies,
binding energies and the optimal coverage.

Units: energies in eV, areas in Å^2; surface and interfacial energies are returned in
eV/Å^2 (``to_mev_per_a2`` and ``to_j_per_m2`` convert). Conventions (docs/concepts.md):

* Chemical potentials. Cation-rich limit: mu_cation = E(cation metal, per atom) and
  mu_anion = E(compound, per formula unit) - mu_cation (so mu_Zn + mu_Se = E_ZnSe(bulk));
  anion-rich limit: mu_anion = E(elemental anion reference) and mu_cation = E(compound)
  - mu_anion. Ligands: mu = sum_k c_k E_k of the stated reaction (acetate =
  CH3COOH - 1/2 H2).
* Symmetric slab (two identical faces): gamma = (E_slab - sum_i n_i mu_i) / (2 A).
  With a stoichiometric slab this is (E_slab - n E_bulk) / (2 A).
* Interfacial energy (paper eq. 3, generalised to non-stoichiometric slabs):
  gamma(theta) = gamma_bare + [E(shell + ligands) - E(bare) - sum_i dn_i mu_i] / (n_faces A),
  dn_i the atoms added to the bare slab (shell atoms, ligand atoms as ligand units).
* Binding energy: E_b(A) = E(slab + A) - E(slab) - mu_A; negative means bound. (The
  paper's eq. 4 is written with the opposite sign, but its quoted values, e.g. F on {111}
  ~ -1.6 eV, follow this one.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

EV_PER_A2_TO_J_PER_M2 = 16.02176634  # 1 eV/Å^2 = 16.02 J/m^2


def to_mev_per_a2(gamma_ev_per_a2: float) -> float:
    return 1000.0 * gamma_ev_per_a2


def to_j_per_m2(gamma_ev_per_a2: float) -> float:
    return EV_PER_A2_TO_J_PER_M2 * gamma_ev_per_a2


@dataclass(frozen=True)
class ChemicalPotentials:
    """Chemical potentials (eV per atom or per ligand unit) and how each was chosen."""

    values: dict[str, float]
    choices: dict[str, str]

    def __getitem__(self, key: str) -> float:
        return self.values[key]


def compound_limits(e_compound: float, e_cation_ref: float, e_anion_ref: float,
                    cation: str, anion: str, limit: str = "cation-rich",
                    delta_mu_cation: float = 0.0) -> ChemicalPotentials:
    """mu of a binary compound's species in a chemical-potential limit.

    ``e_compound`` per formula unit; ``e_cation_ref`` / ``e_anion_ref`` per atom of the
    elemental references. ``delta_mu_cation`` (eV, <= 0) moves mu_cation below its rich
    limit, for gamma as a function of Delta mu.
    """
    if limit == "cation-rich":
        mu_c = e_cation_ref + delta_mu_cation
        mu_a = e_compound - mu_c
        how = (f"{cation}-rich: mu_{cation} = E({cation} bulk) + {delta_mu_cation:g} eV; "
               f"mu_{anion} = E({cation}{anion}) - mu_{cation}")
    elif limit == "anion-rich":
        mu_a = e_anion_ref
        mu_c = e_compound - mu_a
        how = (f"{anion}-rich: mu_{anion} = E({anion} reference); "
               f"mu_{cation} = E({cation}{anion}) - mu_{anion}")
    else:
        raise ValueError(f"limit must be 'cation-rich' or 'anion-rich', got {limit!r}")
    return ChemicalPotentials({cation: mu_c, anion: mu_a}, {cation: how, anion: how})


def reaction_mu(reference: Mapping[str, float], energies: Mapping[str, float]) -> float:
    """mu = sum_k c_k E_k of a stated reaction (missing energies raise KeyError); with
    arrays of sampled energies (``analysis.uncertainty``), an array of samples."""
    total = sum(c * energies[k] for k, c in reference.items())
    return float(total) if np.ndim(total) == 0 else total


def symmetric_surface_energy(e_slab: float, counts: Mapping[str, float],
                             mu: Mapping[str, float], area: float) -> float:
    """gamma = (E_slab - sum_i n_i mu_i) / (2 A)  (eV/Å^2), both faces identical."""
    return (e_slab - sum(n * mu[s] for s, n in counts.items())) / (2.0 * area)


def interfacial_energy(gamma_bare: float, e_covered: float, e_bare: float,
                       added: Mapping[str, float], mu: Mapping[str, float], area: float,
                       n_faces: int) -> float:
    """Paper eq. 3, generalised: gamma_bare + (E_cov - E_bare - sum dn_i mu_i)/(n_faces A)."""
    return gamma_bare + (e_covered - e_bare - sum(n * mu[s] for s, n in added.items())) / (
        n_faces * area)


def binding_energy(e_with: float, e_without: float, mu_species: float,
                   n_sites: int = 1) -> float:
    """E_b = [E(slab + A) - E(slab) - n mu_A] / n per bound species (eV; < 0 bound).

    ``n_sites`` = 2 for a symmetric slab where A was added on both faces."""
    return (e_with - e_without - n_sites * mu_species) / n_sites


@dataclass(frozen=True)
class Optimum:
    theta: float
    gamma: float
    method: str


def optimal_coverage(thetas: Sequence[float], gammas: Sequence[float]) -> Optimum:
    """Coverage of minimal gamma. The lowest computed point is refined by the vertex of the
    parabola through it and its two neighbours when it is an interior minimum (the vertex
    is kept only inside the neighbours' interval); at an end point the end point is the
    optimum."""
    t = np.asarray(thetas, float)
    g = np.asarray(gammas, float)
    ok = np.isfinite(g)
    t, g = t[ok], g[ok]
    if len(t) == 0:
        raise ValueError("no finite interfacial energies")
    order = np.argsort(t)
    t, g = t[order], g[order]
    k = int(np.argmin(g))
    if 0 < k < len(t) - 1:
        a, b, c = np.polyfit(t[k - 1:k + 2], g[k - 1:k + 2], 2)
        if a > 0:
            tv = -b / (2 * a)
            if t[k - 1] <= tv <= t[k + 1]:
                return Optimum(float(tv), float(np.polyval([a, b, c], tv)),
                               "vertex of the parabola through the lowest point and its "
                               "neighbours")
        return Optimum(float(t[k]), float(g[k]), "lowest computed point")
    return Optimum(float(t[k]), float(g[k]), "lowest computed point (end of the range)")


def passivation_energy(e_slab: float, counts: Mapping[str, float], mu: Mapping[str, float],
                       n_pseudo_h: int) -> float:
    """eps_host (eV per pseudo-H): the energy of one pseudo-H on its host in a slab whose
    faces are all passivated by that host's pseudo-H (pseudo-H chemical-potential method,
    Zhang et al., Sci. Rep. 6, 20055, 2016): (E_slab - sum_i n_i mu_i) / N_H, the sum over
    the slab's atoms other than the pseudo-H."""
    return (e_slab - sum(n * mu[s] for s, n in counts.items())) / n_pseudo_h


def polar_surface_energy(e_slab: float, counts: Mapping[str, float], mu: Mapping[str, float],
                         pseudo_h: Mapping[str, int], eps: Mapping[str, float],
                         area: float) -> float:
    """gamma of the one free face of an asymmetric slab whose bottom is pseudo-H
    passivated: (E_slab - sum_i n_i mu_i - sum_host N_H(host) eps_host) / A (eV/Å^2).
    ``counts`` excludes the pseudo-H; ``pseudo_h`` counts them per host element."""
    passivated = sum(n * eps[h] for h, n in pseudo_h.items())
    return (e_slab - sum(n * mu[s] for s, n in counts.items()) - passivated) / area
