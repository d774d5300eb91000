"""The electronic structure of a finished VASP run as an ``ElectronicResult``, read with
pymatgen: eigenvalues, occupations and k-point weights from ``vasprun.xml``
(``Vasprun``), the projections on atoms (``projected_eigenvalues``, written with
``LORBIT = 11``) and the planar-averaged local potential from ``LOCPOT`` (``Locpot``,
written with ``LVHAR = .TRUE.``: the electrostatic potential energy of an electron, eV).
What a run did not write (no projections, no LOCPOT) is left empty and stated in
``notes``. Atom weights are put back into the input's atom order (POSCAR order ``order``).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from ase import Atoms

from facetflow.engines.electronic_gpaw import DIGITS, POTENTIAL_BIN, WINDOW
from facetflow.records.electronic import (
    REGION_NAMES,
    ElectronicResult,
    PotentialProfile,
)

INCAR_TAGS = {"LORBIT": 11, "LVHAR": True}
"""INCAR tags a calculation asking for its electronic structure adds."""


def _weights(vr, order: list[int], n_atoms: int) -> np.ndarray | None:
    """Atom weights (states x atoms, input order), rows in the order of ``_states``."""
    proj = vr.projected_eigenvalues
    if not proj:
        return None
    rows = []
    for spin in sorted(proj, key=int, reverse=True):  # up first
        p = np.asarray(proj[spin]).sum(axis=3)  # k, band, ion
        for k in range(p.shape[0]):
            for b in range(p.shape[1]):
                w = np.zeros(n_atoms)
                w[order] = p[k, b]
                rows.append(w)
    w = np.array(rows)
    total = w.sum(axis=1, keepdims=True)
    return w / np.where(total > 0, total, 1.0)


def _states(vr) -> list[tuple[float, float, float, int, int]]:
    """(energy, occupation, k weight, k index, spin) of every state, spin up first."""
    out = []
    kw = vr.actual_kpoints_weights
    for s, spin in enumerate(sorted(vr.eigenvalues, key=int, reverse=True)):
        eig = np.asarray(vr.eigenvalues[spin])  # k, band, (energy, occupation)
        for k in range(eig.shape[0]):
            for b in range(eig.shape[1]):
                out.append((float(eig[k, b, 0]), float(eig[k, b, 1]), float(kw[k]), k, s))
    return out


def _potential(work: Path, c: float) -> PotentialProfile | None:
    path = work / "LOCPOT"
    if not path.is_file():
        return None
    from pymatgen.io.vasp import Locpot

    line = np.asarray(Locpot.from_file(str(path)).get_average_along_axis(2))
    nbins = max(1, int(round(c / POTENTIAL_BIN)))
    edges = np.linspace(0, len(line), nbins + 1).astype(int)
    pot = [float(line[a:b].mean()) for a, b in zip(edges[:-1], edges[1:], strict=True)
           if b > a]
    step = c / len(pot)
    return PotentialProfile(z=[round(step * (i + 0.5), 4) for i in range(len(pot))],
                            potential=[round(p, DIGITS) for p in pot])


def vasp_electronic(work: Path, atoms: Atoms, order: list[int]) -> ElectronicResult:
    """The electronic structure of the VASP run in ``work`` on ``atoms`` (input order;
    ``order``: input index of each POSCAR atom)."""
    from pymatgen.io.vasp import Vasprun

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vr = Vasprun(str(work / "vasprun.xml"), parse_dos=True, parse_eigen=True,
                     parse_projected_eigen=True, parse_potcar_file=False)
    rows = _states(vr)
    energies = np.array([r[0] for r in rows])
    ef = float(vr.efermi)
    notes = []
    w = _weights(vr, order, len(atoms))
    if w is None or len(w) != len(rows):
        w, notes = None, ["no projections in vasprun.xml (LORBIT = 11 not used): no "
                          "regions, IPR or atom weights"]
    potential = _potential(work, float(atoms.cell[2, 2]))
    if potential is None:
        notes.append("no LOCPOT (LVHAR not used): no vacuum level")
    region = np.asarray(atoms.arrays.get("region", np.zeros(len(atoms), int)))
    near = np.flatnonzero(np.abs(energies - ef) <= WINDOW) if w is not None else []
    return ElectronicResult(
        code="VASP", fermi_level=ef, n_spins=len(vr.eigenvalues),
        energies=[round(r[0], DIGITS) for r in rows],
        occupations=[round(r[1], DIGITS) for r in rows], kweights=[r[2] for r in rows],
        kpoints=[r[3] for r in rows], spins=[r[4] for r in rows],
        regions={} if w is None else {
            name: np.round(w[:, region == code].sum(axis=1), DIGITS).tolist()
            for code, name in enumerate(REGION_NAMES) if np.any(region == code)},
        ipr=[] if w is None else np.round((w ** 2).sum(axis=1), DIGITS).tolist(),
        window=WINDOW, window_states=[int(i) for i in near],
        atom_weights=[] if w is None else np.round(w[near], DIGITS).tolist(),
        potential=potential, notes=notes)
