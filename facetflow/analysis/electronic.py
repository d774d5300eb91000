"""Electronic structure of the facets: band edges on the vacuum scale, trap states, DOS
projected on regions, ligand-induced shifts and the electrochemical window of ligands.

Conventions (docs/electronic.md):

* Vacuum level: the mean of the planar-averaged electrostatic potential over the central
  half of the vacuum gap (between the top atom and the bottom atom's periodic image);
  its flatness is max - min there. Energies on the vacuum scale are E - E_vac.
* Band edges: VBM = highest state with occupation >= 0.5, CBM = lowest state with
  occupation < 0.5 (Kohn-Sham, PBE: the gap is underestimated). IP = -VBM, EA = -CBM,
  work function = -E_F on the vacuum scale. Optional scissor: CBM = VBM + E_g(exp).
* Trap states of a structure: its states inside the gap of the pristine reference, both
  on the vacuum scale, VBM_ref + TRAP_TOLERANCE < E < CBM_ref - TRAP_TOLERANCE. Each
  carries its energy above VBM_ref, occupation, IPR and weight on the atoms within
  ``DEFECT_RADIUS`` of a defect; it is localised when IPR x N_atoms >=
  ``LOCALISED_IPR_RATIO``, and on the defect when that weight is at least
  ``ON_DEFECT_WEIGHT``.
* Reduction level of a metal ion M(n+)/M on the vacuum scale: E = -4.44 eV - e E0 (E0 in
  V vs SHE, aqueous). Electrochemically active when VBM < E < CBM + margin. Computed
  counterpart on the slab carrying the ligand: its lowest empty ligand-localised state
  (ligand weight >= ``LIGAND_STATE_WEIGHT``) against the slab's lowest empty state;
  active when less than the margin above it.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import numpy as np
import yaml
from ase import Atoms

from facetflow.records.electronic import (
    BandEdges,
    ElectronicResult,
    ReductionLevel,
    TrapState,
)

TRAP_TOLERANCE = 0.1  # eV: a trap state lies at least this far inside the reference gap
DEFECT_RADIUS = 3.0  # Å: atoms this close to a defect centre are "around the defect"
LOCALISED_IPR_RATIO = 2.0  # IPR x N_atoms: twice as concentrated as an even spread
ON_DEFECT_WEIGHT = 0.5  # a trap is on the defect with at least this weight around it
LIGAND_STATE_WEIGHT = 0.5  # a state is the ligand's with at least this weight on it
OCCUPIED = 0.5  # occupation separating valence from conduction states
DOS_WIDTH = 0.1  # eV: Gaussian broadening of the DOS


def vacuum_level(e: ElectronicResult, atoms: Atoms) -> tuple[float, float] | None:
    """(vacuum level, flatness) in eV from the planar-averaged potential: mean and
    max - min over the central half of the vacuum gap along z; None without a potential
    or a gap."""
    if e.potential is None:
        return None
    c = float(atoms.cell[2, 2])
    z = np.asarray(e.potential.z)
    v = np.asarray(e.potential.potential)
    zs = np.sort(np.mod(atoms.positions[:, 2], c))
    gaps = np.diff(np.append(zs, zs[0] + c))
    i = int(np.argmax(gaps))
    lo, width = zs[i], gaps[i]
    inside = np.mod(z - lo, c)
    sel = (inside > 0.25 * width) & (inside < 0.75 * width)
    if not sel.any():
        return None
    return float(v[sel].mean()), float(v[sel].max() - v[sel].min())


def band_edges(structure: str, e: ElectronicResult, atoms: Atoms,
               gap_exp: float | None = None) -> BandEdges:
    """Band edges of one structure (module docstring), on the vacuum scale when the
    potential gives a vacuum level."""
    eps = np.asarray(e.energies)
    occ = np.asarray(e.occupations)
    if not (occ >= OCCUPIED).any() or not (occ < OCCUPIED).any():
        raise ValueError(f"{structure}: no occupied or no empty state in the calculation "
                         "(add bands)")
    vac = vacuum_level(e, atoms)
    shift = vac[0] if vac else 0.0
    vbm = float(eps[occ >= OCCUPIED].max()) - shift
    cbm = float(eps[occ < OCCUPIED].min()) - shift
    ef = e.fermi_level - shift
    return BandEdges(
        structure=structure, absolute=vac is not None, vbm=vbm, cbm=cbm, gap=cbm - vbm,
        fermi_level=ef, vacuum_level=vac[0] if vac else None,
        vacuum_flatness=vac[1] if vac else None,
        ionisation_potential=-vbm if vac else None,
        electron_affinity=-cbm if vac else None, work_function=-ef if vac else None,
        cbm_scissor=vbm + gap_exp if gap_exp is not None else None)


def defect_centres(defective: Atoms, pristine: Atoms, tol: float = 0.5) -> np.ndarray:
    """Positions (Å) of the defects of ``defective`` made from ``pristine`` (both as
    built): atoms of either that have no atom of the same element within ``tol`` Å in
    the other (vacancies: pristine atoms; interstitials: added atoms)."""
    def unmatched(a: Atoms, b: Atoms) -> list[np.ndarray]:
        out = []
        for i, p in enumerate(a.positions):
            same = [j for j, s in enumerate(b.get_chemical_symbols()) if s == a[i].symbol]
            if not same:
                out.append(p)
                continue
            d = b.positions[same] - p
            d -= np.round(d @ np.linalg.inv(a.cell[:])) @ a.cell[:] * [1, 1, 0] @ np.eye(3)
            if np.min(np.linalg.norm(d, axis=1)) > tol:
                out.append(p)
        return out
    found = unmatched(pristine, defective) + unmatched(defective, pristine)
    return np.array(found).reshape(-1, 3)


def atoms_near(atoms: Atoms, centres: np.ndarray, radius: float = DEFECT_RADIUS
               ) -> list[int]:
    """Indices of the atoms within ``radius`` Å of any centre (minimum image in xy)."""
    near = set()
    inv = np.linalg.inv(atoms.cell[:])
    for c in centres:
        d = atoms.positions - c
        frac = d @ inv
        frac[:, :2] -= np.round(frac[:, :2])
        r = np.linalg.norm(frac @ atoms.cell[:], axis=1)
        near.update(int(i) for i in np.flatnonzero(r < radius))
    return sorted(near)


def trap_states(structure: str, e: ElectronicResult, atoms: Atoms, edges: BandEdges,
                reference: str, ref_edges: BandEdges, defect: str | None = None,
                ligand: str | None = None, near: list[int] | None = None
                ) -> list[TrapState]:
    """The states of ``structure`` inside the gap of its pristine reference (module
    docstring); ``near``: indices of the atoms around the defect."""
    shift = (edges.vacuum_level or 0.0) if edges.absolute else 0.0
    lo, hi = ref_edges.vbm + TRAP_TOLERANCE, ref_edges.cbm - TRAP_TOLERANCE
    weights = dict(zip(e.window_states, e.atom_weights, strict=True))
    n_atoms = len(atoms)
    out = []
    for n, eps in enumerate(e.energies):
        en = eps - shift
        if not lo < en < hi:
            continue
        w = weights.get(n)
        dw = float(np.sum(np.asarray(w)[near])) if (w is not None and near) else None
        ipr = e.ipr[n] if e.ipr else None
        ratio = ipr * n_atoms if ipr is not None else None
        out.append(TrapState(
            structure=structure, reference=reference, defect=defect, ligand=ligand,
            energy=round(en, 4), above_vbm=round(en - ref_edges.vbm, 4),
            occupation=e.occupations[n], kweight=e.kweights[n], ipr=ipr,
            ipr_ratio=None if ratio is None else round(ratio, 3),
            defect_weight=None if dw is None else round(dw, 4),
            localised=ratio is not None and ratio >= LOCALISED_IPR_RATIO,
            on_defect=None if dw is None else dw >= ON_DEFECT_WEIGHT))
    return out


def projected_dos(e: ElectronicResult, shift: float, grid: np.ndarray,
                  groups: dict[str, list[int]] | None = None, width: float = DOS_WIDTH
                  ) -> dict[str, np.ndarray]:
    """Total DOS and DOS projected on each region (states/eV per cell, spin degeneracy
    included) on ``grid`` (eV, same scale as energies - ``shift``), Gaussian broadened;
    ``groups``: name -> atom indices projected on as well (from the states with stored
    atom weights only)."""
    eps = np.asarray(e.energies) - shift
    g = np.exp(-0.5 * ((grid[:, None] - eps[None, :]) / width) ** 2) / (
        width * np.sqrt(2 * np.pi))
    k = np.asarray(e.kweights) * (2.0 / e.n_spins)
    out = {"total": g @ k}
    for name, frac in e.regions.items():
        out[name] = g @ (k * np.asarray(frac))
    for name, atoms in (groups or {}).items():
        frac = np.zeros(len(eps))
        if e.window_states:
            frac[e.window_states] = np.asarray(e.atom_weights)[:, atoms].sum(axis=1)
        out[name] = g @ (k * frac)
    return out


def ligand_state_above_cbm(e: ElectronicResult) -> float | None:
    """On a ligand-covered slab: the lowest empty state with ligand weight >=
    ``LIGAND_STATE_WEIGHT`` minus the lowest empty state with less (the slab's CBM), eV;
    None without ligand projections or without either kind of empty state."""
    lig = e.regions.get("ligand")
    if not lig:
        return None
    eps, occ, w = (np.asarray(x) for x in (e.energies, e.occupations, lig))
    empty = occ < OCCUPIED
    own, slab = empty & (w >= LIGAND_STATE_WEIGHT), empty & (w < LIGAND_STATE_WEIGHT)
    if not own.any() or not slab.any():
        return None
    return float(eps[own].min() - eps[slab].min())


@cache
def _redox_table() -> dict:
    text = resources.files("facetflow.data").joinpath("redox.yaml").read_text()
    return yaml.safe_load(text)


def reduction_couples() -> dict[str, dict]:
    """Metal symbol -> its couple (ion, n, E0 in V vs SHE, source) from ``redox.yaml``."""
    return dict(_redox_table()["couples"])


def vacuum_level_of(e0: float) -> float:
    """Reduction level on the vacuum scale, eV: -E_abs(SHE) - e E0 (E_abs = 4.44 V)."""
    return -float(_redox_table()["absolute_she_V"]) - float(e0)


def reduction_level(ligand: str, symbols: list[str], vbm: float, cbm: float,
                    margin: float) -> ReductionLevel:
    """The verdict for a ligand made of ``symbols``: its metal ion's reduction level
    against the band edges (vacuum scale, eV); a ligand without a tabulated metal is
    inert (nothing to reduce)."""
    couples = reduction_couples()
    metal = next((s for s in symbols if s in couples), None)
    if metal is None:
        return ReductionLevel(ligand=ligand, vbm=vbm, cbm=cbm, active=False)
    c = couples[metal]
    level = vacuum_level_of(c["E0"])
    return ReductionLevel(
        ligand=ligand, couple=f"{c['ion']}/{metal}", e0_V_she=float(c["E0"]),
        level=round(level, 4), vbm=vbm, cbm=cbm, above_cbm=round(level - cbm, 4),
        active=bool(vbm < level < cbm + margin), source=c["source"])


def experimental_gap(material: str) -> tuple[float, str] | None:
    """(band gap in eV, source) of a compound in the materials table, if tabulated."""
    text = resources.files("facetflow.data").joinpath("materials.yaml").read_text()
    entry = (yaml.safe_load(text)["compounds"].get(material) or {}).get("band_gap")
    return (float(entry["value"]), str(entry["source"])) if entry else None
