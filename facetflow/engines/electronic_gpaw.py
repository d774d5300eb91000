"""The electronic structure of a converged GPAW calculation as an ``ElectronicResult``.

Supported in both GPAW modes (LCAO and plane waves), spin-paired or polarised, in a
serial run. Eigenvalues and occupations come from the irreducible k-points; the atom
weight of state n on atom a is the PAW projection w_na = sum_i |<p_i^a|psi_n>|^2,
normalised over atoms (``records.electronic``). The planar average of GPAW's
electrostatic potential (``get_electrostatic_potential``, eV, the potential energy of an
electron on GPAW's zero) is averaged into bins of ``POTENTIAL_BIN`` Å along z.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms

from facetflow.records.electronic import REGION_NAMES, ElectronicResult, PotentialProfile

HARTREE = 27.211386245988  # eV
POTENTIAL_BIN = 0.2  # Å: bin width of the stored planar-averaged potential
WINDOW = 3.0  # eV: atom weights are kept for states within this of the Fermi level
DIGITS = 5  # decimals kept of weights and occupations


def planar_average(v: np.ndarray, c: float, bin_width: float = POTENTIAL_BIN
                   ) -> PotentialProfile:
    """The xy average of a potential on a grid (last axis along z, cell height ``c`` Å),
    averaged again into bins of about ``bin_width`` Å (values in eV)."""
    line = np.asarray(v, float).mean(axis=(0, 1))
    nbins = max(1, int(round(c / bin_width)))
    edges = np.linspace(0, len(line), nbins + 1).astype(int)
    pot = [float(line[a:b].mean()) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]
    step = c / len(pot)
    return PotentialProfile(z=[round(step * (i + 0.5), 4) for i in range(len(pot))],
                            potential=[round(p, DIGITS) for p in pot])


def _state_weights(atoms: Atoms, P_ani) -> np.ndarray:  # noqa: N803 - GPAW's name
    """Atom weights (states x atoms) from projections ``P_ani`` (atom -> bands x i)."""
    w = np.array([(np.abs(np.asarray(P_ani[a])) ** 2).sum(axis=1)
                  for a in range(len(atoms))]).T
    total = w.sum(axis=1, keepdims=True)
    return w / np.where(total > 0, total, 1.0)


def electronic_result(atoms: Atoms, calc, mode: str) -> ElectronicResult:
    """Read eigenvalues, occupations, projections and the planar-averaged potential of a
    converged GPAW calculator ``calc`` on ``atoms``."""
    nspins = calc.get_number_of_spins()
    kw = np.asarray(calc.get_k_point_weights(), float)
    ef = float(calc.get_fermi_level())
    rows: list[tuple] = []
    weights: list[np.ndarray] = []
    for wfs in calc.dft.ibzwfs:
        eps = np.asarray(wfs.eig_n) * HARTREE
        occ = np.asarray(wfs.occ_n, float)  # 0..1 in GPAW's new code
        P = wfs.P_ani.gather() if hasattr(wfs.P_ani, "gather") else wfs.P_ani
        w = _state_weights(atoms, P)
        for n in range(len(eps)):
            rows.append((float(eps[n]), float(occ[n]), float(kw[wfs.k]), int(wfs.k),
                         int(wfs.spin)))
        weights.append(w)
    w_all = np.vstack(weights)
    energies = np.array([r[0] for r in rows])
    region = np.asarray(atoms.arrays.get("region", np.zeros(len(atoms), int)))
    regions = {name: np.round(w_all[:, region == code].sum(axis=1), DIGITS).tolist()
               for code, name in enumerate(REGION_NAMES) if np.any(region == code)}
    near = np.flatnonzero(np.abs(energies - ef) <= WINDOW)
    v = calc.get_electrostatic_potential()
    return ElectronicResult(
        code=f"GPAW {mode}", fermi_level=ef, n_spins=nspins,
        energies=[round(e, DIGITS) for e in energies],
        occupations=[round(r[1], DIGITS) for r in rows], kweights=[r[2] for r in rows],
        kpoints=[r[3] for r in rows], spins=[r[4] for r in rows], regions=regions,
        ipr=np.round((w_all ** 2).sum(axis=1), DIGITS).tolist(), window=WINDOW,
        window_states=near.tolist(), atom_weights=np.round(w_all[near], DIGITS).tolist(),
        potential=planar_average(v, float(atoms.cell[2, 2])))
