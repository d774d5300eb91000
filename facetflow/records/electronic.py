"""What a DFT calculation stores of its electronic structure (``ElectronicResult``).

Energies are Kohn-Sham eigenvalues in eV on the engine's own energy zero; the planar-
averaged electrostatic potential is on the same zero, so the vacuum level and every
eigenvalue can be put on the vacuum scale (E_vac = 0) by subtracting ``vacuum_level``.

The record is compact: one row per Kohn-Sham state (k-point, spin, band) with its
energy, occupation (0..1), k-point weight, the fraction of its projection weight on each
region of the slab (core, shell, pseudo-H, ligand, additive), its inverse participation
ratio over atoms, and -- only for the states within ``window`` eV of the Fermi level --
its weight on every atom. The potential is stored on a coarse grid along z.

Atom weights of a state n are PAW projections, w_na = sum_i |<p_i^a|psi_n>|^2,
normalised to sum_a w_na = 1. The inverse participation ratio over atoms is
IPR_n = sum_a w_na^2: 1 for a state on one atom, 1/N_atoms for one spread evenly.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

REGION_NAMES = ("core", "shell", "pseudo_h", "ligand", "additive")
"""Region names in the order of the ``region`` codes of ``facetflow.structures``."""


class PotentialProfile(BaseModel):
    """The planar-averaged electrostatic potential along z (average over the xy plane)."""

    model_config = ConfigDict(extra="forbid")

    z: list[float] = Field(description="heights of the coarse grid points, Å (0..c)")
    potential: list[float] = Field(description="planar average of the electrostatic "
                                   "potential energy of an electron, eV (engine zero)")


class ElectronicResult(BaseModel):
    """Eigenvalues, occupations, projections and the planar-averaged potential of one
    DFT calculation (module docstring)."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(description="code and mode that produced it (e.g. 'GPAW lcao')")
    fermi_level: float = Field(description="Fermi level, eV (engine zero)")
    n_spins: int = Field(1, description="1: spin-paired; 2: spin-polarised")
    energies: list[float] = Field(description="Kohn-Sham eigenvalue of each state, eV")
    occupations: list[float] = Field(description="occupation of each state, 0..1 "
                                     "(electrons per state / its spin degeneracy)")
    kweights: list[float] = Field(description="weight of each state's k-point (sum over "
                                  "the k-points of one band and spin = 1)")
    kpoints: list[int] = Field(description="index of each state's irreducible k-point")
    spins: list[int] = Field(description="spin channel of each state (0 or 1)")
    regions: dict[str, list[float]] = Field(default_factory=dict, description="region name "
                                            "-> fraction of each state's atom weight on "
                                            "that region (0..1); empty: no projections")
    ipr: list[float] = Field(default_factory=list, description="inverse participation "
                             "ratio over atoms of each state (1/N_atoms .. 1); empty: no "
                             "projections")
    window: float = Field(description="atom weights are kept for the states with "
                          "|E - E_F| <= window, eV")
    window_states: list[int] = Field(description="indices of those states")
    atom_weights: list[list[float]] = Field(description="for each state of window_states: "
                                            "its normalised weight on every atom")
    potential: PotentialProfile | None = Field(None, description="planar-averaged "
                                               "electrostatic potential (None: not given "
                                               "by the code)")
    notes: list[str] = Field(default_factory=list, description="what the code could not "
                             "provide, and approximations")


class ElectronicSpec(BaseModel):
    """The study's request for an electronic analysis (``analysis.electronic``; ``true``
    is this with its defaults). DFT engines only (``ELECTRONIC_ENGINES``).

    ``roles``: the structure roles whose final calculation also stores its electronic
    structure. ``margin``: a ligand metal ion whose reduction level E_red (vacuum scale)
    lies in the gap (VBM < E_red < CBM) or less than ``margin`` eV above the CBM is
    flagged electrochemically active (an electron in the conduction band can reduce it).
    ``scissor``: also report the band edges with the CBM moved to VBM + the experimental
    gap of the slab's outer material (materials table), keeping the VBM."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    roles: list[Literal["bare", "shell", "ligands", "variant", "binding", "defect",
                        "defect_ligand", "defect_reference"]] = [
        "bare", "shell", "ligands", "variant", "defect", "defect_ligand",
        "defect_reference"]
    margin: float = Field(0.5, ge=0.0, le=2.0, description="eV above the CBM within "
                          "which a reduction level still counts as active")
    scissor: bool = Field(True, description="also report scissor-corrected band edges")


ELECTRONIC_ENGINES = ("gpaw", "vasp")
"""Engines that store an electronic structure (``analysis.electronic``)."""


class BandEdges(BaseModel):
    """Band edges of one structure. Energies in eV on the vacuum scale (vacuum level =
    0) when the vacuum level is known, else on the engine's zero (``absolute`` False).
    VBM: highest state with occupation >= 0.5; CBM: lowest state with occupation < 0.5.
    IP = -VBM, EA = -CBM, work function = -E_F (vacuum scale)."""

    model_config = ConfigDict(extra="forbid")

    structure: str = Field(description="structure id")
    absolute: bool = Field(description="energies are on the vacuum scale")
    vbm: float = Field(description="valence-band maximum (HOMO-like), eV")
    cbm: float = Field(description="conduction-band minimum (LUMO-like), eV")
    gap: float = Field(description="CBM - VBM, eV (Kohn-Sham, PBE: underestimated)")
    fermi_level: float = Field(description="Fermi level, eV")
    vacuum_level: float | None = Field(None, description="planar-averaged potential in "
                                       "the vacuum, eV on the engine's zero")
    vacuum_flatness: float | None = Field(None, description="max - min of the planar "
                                          "average over the central half of the vacuum, eV")
    ionisation_potential: float | None = Field(None, description="-VBM, eV")
    electron_affinity: float | None = Field(None, description="-CBM, eV")
    work_function: float | None = Field(None, description="-E_F, eV")
    cbm_scissor: float | None = Field(None, description="VBM + experimental gap, eV")


class TrapState(BaseModel):
    """A state of a structure inside the gap of its pristine reference (both on the
    vacuum scale): VBM_ref + tol < E < CBM_ref - tol."""

    model_config = ConfigDict(extra="forbid")

    structure: str = Field(description="structure id")
    reference: str = Field(description="id of the pristine reference structure")
    defect: str | None = Field(None, description="defect kind, if any")
    ligand: str | None = Field(None, description="ligand of the structure, if any")
    energy: float = Field(description="energy on the vacuum scale, eV")
    above_vbm: float = Field(description="energy above the reference VBM, eV")
    occupation: float = Field(description="occupation 0..1")
    kweight: float = Field(description="weight of its k-point")
    ipr: float | None = Field(None, description="inverse participation ratio over atoms "
                              "(None: no projections)")
    ipr_ratio: float | None = Field(None, description="IPR x N_atoms (1: spread evenly; "
                                    "larger: localised)")
    defect_weight: float | None = Field(None, description="fraction of its weight on the "
                                        "atoms within DEFECT_RADIUS of a defect")
    localised: bool = Field(description="ipr_ratio >= LOCALISED_IPR_RATIO")
    on_defect: bool | None = Field(None, description="defect_weight >= ON_DEFECT_WEIGHT "
                                   "(None: no defect atoms known)")


class ReductionLevel(BaseModel):
    """A ligand metal ion's reduction level against the band edges of one facet."""

    model_config = ConfigDict(extra="forbid")

    ligand: str = Field(description="ligand name")
    couple: str | None = Field(None, description="e.g. 'Cd2+/Cd' (None: no reducible "
                               "metal ion in the ligand)")
    e0_V_she: float | None = Field(None, description="standard reduction potential, V vs "
                                   "SHE (aqueous)")
    level: float | None = Field(None, description="reduction level -4.44 eV - e E0 on "
                                "the vacuum scale, eV")
    vbm: float = Field(description="VBM of the structure, eV (vacuum scale)")
    cbm: float = Field(description="CBM used for the verdict, eV (vacuum scale)")
    above_cbm: float | None = Field(None, description="level - CBM, eV (< 0: in the gap)")
    active: bool = Field(description="VBM < level < CBM + margin")
    cbm_scissor: float | None = Field(None, description="VBM + experimental gap, eV")
    active_scissor: bool | None = Field(None, description="the verdict with cbm_scissor")
    source: str | None = Field(None, description="source of E0")


class TrapCount(BaseModel):
    """Trap states of one defect structure (per defect kind and ligand)."""

    model_config = ConfigDict(extra="forbid")

    structure: str = Field(description="structure id")
    defect: str | None = Field(description="defect kind")
    ligand: str | None = Field(description="ligand bound next to the defect (None: bare)")
    reference: str = Field(description="pristine reference structure")
    n_trap: int = Field(description="states (k-point resolved) inside the reference gap")
    n_localised: int = Field(description="of these, localised (IPR ratio)")
    n_on_defect: int = Field(0, description="of these, with most of their weight on the "
                             "atoms around the defect")
    levels_above_vbm: list[float] = Field(description="distinct trap energies above the "
                                          "reference VBM, eV (0.01 eV)")
    near_atoms: int = Field(description="atoms within DEFECT_RADIUS of a defect")
    n_atoms: int = Field(description="atoms in the cell")


class TrapSummary(BaseModel):
    """Trap states of the defect structures: every state, and a count per structure."""

    model_config = ConfigDict(extra="forbid")

    states: list[TrapState] = Field(description="every trap state")
    counts: list[TrapCount] = Field(description="one row per defect structure")


class LigandShift(BaseModel):
    """Band-edge shift of a ligand-covered (or shell-capped) slab against the facet's
    outer slab, eV (> 0: up, towards the vacuum level)."""

    model_config = ConfigDict(extra="forbid")

    facet: str
    structure: str
    ligand: str | None
    theta: float | None = Field(description="coverage, ligands per surface cation")
    reference: str
    d_vbm: float = Field(description="VBM(covered) - VBM(reference), eV")
    d_cbm: float = Field(description="CBM(covered) - CBM(reference), eV")
    d_work_function: float | None = Field(description="change of the work function, eV")


class WindowRow(ReductionLevel):
    """A ligand's reduction level against the band edges of one facet's slab, and the
    computed counterpart on the slab carrying the ligand: where its lowest empty
    ligand-localised state lies against the lowest empty slab state."""

    facet: str = Field(description="facet label")
    structure: str = Field(description="slab whose band edges are used")
    absolute: bool = Field(description="band edges on the vacuum scale")
    covered: str | None = Field(None, description="slab carrying the ligand (None: none "
                                "computed)")
    ligand_state_above_cbm: float | None = Field(
        None, description="on ``covered``: lowest empty state with ligand weight >= "
        "LIGAND_STATE_WEIGHT minus the lowest empty state with less, eV (< 0: an empty "
        "ligand level below the conduction band)")
    active_computed: bool | None = Field(None, description="ligand_state_above_cbm < "
                                         "margin: an injected electron can go to the "
                                         "ligand (False also when no empty state of the "
                                         "computed ones is the ligand's)")


class DosCurve(BaseModel):
    """Total and region-projected DOS of one structure on a uniform energy grid (states
    per eV per cell, spin degeneracy included, Gaussian broadening ``width``)."""

    model_config = ConfigDict(extra="forbid")

    e0: float = Field(description="first grid energy, eV (scale of the band edges)")
    step: float = Field(description="grid spacing, eV")
    width: float = Field(description="Gaussian broadening (standard deviation), eV")
    total: list[float] = Field(description="total DOS, states/eV")
    regions: dict[str, list[float]] = Field(description="DOS projected on each region")


class ElectronicSummary(BaseModel):
    """``summary.json: electronic`` (``facetflow.analysis.electronic_summary``)."""

    model_config = ConfigDict(extra="forbid")

    approximations: list[str] = Field(description="what the numbers neglect")
    thresholds: dict[str, float] = Field(description="trap tolerance (eV), defect radius "
                                         "(Å), localised IPR ratio, active margin (eV)")
    band_edges: dict[str, BandEdges] = Field(description="by structure id")
    trap_states: TrapSummary
    ligand_shifts: list[LigandShift]
    electrochemical_window: list[WindowRow]
    dos: dict[str, DosCurve] = Field(default_factory=dict, description="by structure id: "
                                     "from VBM - 3 eV to CBM + 3 eV")
