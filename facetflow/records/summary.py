"""``report/summary.json``: a study's results, as pydantic models (``Summary``).

Written by ``write_summary`` (the analysis step of every run and ``facetflow report``),
read by ``read_summary``; a document of another schema is refused by name. Its reference
page (docs/summary.md) is generated from these models by ``summary_reference``.

Units: energies in eV, areas in Å², interfacial and surface energies in meV/Å² (J/m²
alongside), temperatures in °C, coverage theta in ligands per surface cation. Binding
energies: E_b(A) = E(slab + A) - E(slab) - mu_A, negative = bound. A value that could not
be computed is null, and why is in ``missing``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from facetflow.records.electronic import ElectronicSummary
from facetflow.records.study import ConditionsSpec
from facetflow.records.uncertainty import UncertaintySummary

SUMMARY_SCHEMA = "facetflow.summary/1"
Num = float | None


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class EngineSummary(_Doc):
    """The engine of the final calculations."""

    name: str | None = Field(None, description="engine name (mlip, vasp, qe, cp2k, gpaw)")
    settings: dict[str, Any] = Field(default_factory=dict,
                                     description="the study's settings for it")
    identity: str | None = Field(None, description="code and model versions of the final "
                                                   "calculations")


class ChemicalPotential(_Doc):
    """mu of an element (eV per atom) or a ligand or additive (eV per unit)."""

    value: float = Field(description="mu (eV)")
    how: str = Field(description="the limit or reaction it comes from")


class PassivationEnergy(_Doc):
    """eps_host: energy of one pseudo-H bonded to a host element (pseudo-H method)."""

    value: float = Field(description="eV per pseudo-H")
    unit: str = Field(description="always 'eV per pseudo-H'")


class ReferenceEnergy(_Doc):
    """A reference calculation used for chemical potentials."""

    energy: Num = Field(description="eV per ``per``")
    per: str = Field(description="formula unit (compounds), atom (elemental bulk) or "
                                 "molecule")
    structure: str = Field(description="structure id")


class GammaBare(_Doc):
    """Surface energy of the bare core slab."""

    value: Num = Field(description="gamma_bare (meV/Å²)")
    j_m2: Num = Field(description="gamma_bare (J/m²)")
    method: str = Field(description="symmetric slab, or pseudo-H method for a slab with a "
                                    "passivated bottom")
    structure: str | None = Field(description="structure id of the bare slab")


class GammaPoint(_Doc):
    """gamma of one computed structure (paper eq. 3): gamma_bare + delta."""

    ligand: str | None = Field(None, description="the swept ligand")
    theta: Num = Field(None, description="coverage (ligands per surface cation)")
    variant: str | None = Field(None, description="additive replacing one ligand; null: none")
    delta: Num = Field(description="(E - E_bare - sum dn mu) / (n_faces A) (meV/Å²)")
    value: Num = Field(description="gamma (meV/Å²)")
    j_m2: Num = Field(description="gamma (J/m²)")
    structure: str | None = Field(None, description="structure id")
    lowest: bool | None = Field(None, description="the lowest arrangement at its theta")


class Optimum(_Doc):
    """theta* of a ligand (or ligand + variant) and gamma there."""

    theta: float = Field(description="theta* (ligands per surface cation)")
    delta: Num = Field(description="delta at theta* (meV/Å²)")
    value: Num = Field(description="gamma* (meV/Å²)")
    method: str = Field(description="how theta* was found")
    nearest_computed: float = Field(description="the computed coverage nearest theta*")
    structure: str = Field(description="lowest arrangement at that coverage")


class BindingEnergy(_Doc):
    """E_b at the computed coverage nearest theta*: [E(with) - E(vacancy) - n mu] / n."""

    species: str = Field(description="the bound species")
    role: str = Field(description="ligand, additive or growth")
    ligand: str | None = Field(None, description="the ligand sweep it belongs to")
    theta: Num = Field(description="coverage of the arrangement (ligands per surface cation)")
    value: Num = Field(description="E_b (eV; negative = bound)")
    structure: str = Field(description="structure with the species in place")
    reference: str = Field(description="the vacancy structure")
    n_sites: int = Field(description="sites changed (2 on symmetric slabs)")


class DeltaMuOptimum(_Doc):
    """theta* and gamma* at one shifted chemical potential."""

    theta: float = Field(description="theta*")
    value: Num = Field(description="gamma* (meV/Å²)")
    delta: Num = Field(description="delta at theta* (meV/Å²)")


class DeltaMuRow(_Doc):
    """One point of a chemical-potential sweep (``analysis.delta_mu``)."""

    delta_mu: float = Field(description="shift of mu (eV)")
    gamma_bare: Num = Field(description="gamma_bare there (meV/Å²)")
    optimum: dict[str, DeltaMuOptimum | None] = Field(description="per ligand (+variant)")


class FacetSummary(_Doc):
    """``facets.<label>``: one facet (label: its ``name``, else its Miller indices)."""

    miller: list[int] = Field(description="Miller indices")
    symmetric: bool | None = Field(description="both faces equivalent")
    n_faces: int | None = Field(description="faces carrying the surface")
    area: Num = Field(description="area of one face (Å²)")
    n_surface_cations: int | None = Field(description="cations of one outer plane")
    gamma_bare: GammaBare = Field(description="surface energy of the bare core slab")
    gamma_shell: GammaPoint | None = Field(None, description="the shell without ligands "
                                                             "(theta = 0)")
    gamma: list[GammaPoint] = Field(description="one point per computed structure")
    optimum: dict[str, Optimum | None] = Field(description="per ligand and ligand+variant")
    binding: list[BindingEnergy] = Field(description="E_b at theta*")
    gamma_vs_delta_mu: dict[str, list[DeltaMuRow]] | None = Field(
        None, description="per species of ``analysis.delta_mu``")


class GrowthInput(_Doc):
    """Inputs of the growth model for one facet (``analysis.growth``)."""

    theta_opt: float = Field(description="theta*")
    footprint: int = Field(description="surface cations per ligand")
    eb_growth: float = Field(description="E_b of the growth species (eV)")
    eb_ligand: float = Field(description="E_b of the ligand (eV)")
    n_ligands: int = Field(description="n of the additive's share 1/n of occupied sites: "
                                       "ligands per face of the arrangement at theta*")
    eb_additive: Num = Field(description="E_b of the additive (eV)")


class GrowthShape(_Doc):
    """The kinetic Wulff shape."""

    aspect_ratio: Num = Field(description="longest / shortest caliper")
    aspect_ratio_c: Num = Field(None, description="hexagonal crystals: length along c / "
                                "smallest basal width (> 1 rod, < 1 platelet)")
    point_group: str | None = Field(None, description="point group of the construction "
                                    "(bulk crystal), e.g. -43m, 6mm")
    material: str | None = Field(None, description="the crystal (core material)")
    facet_area_fractions: dict[str, float] | None = Field(None, description="per facet")
    error: str | None = Field(None, description="why no shape could be made")


class GrowthCase(_Doc):
    """Growth without or with one additive."""

    rates: dict[str, float] = Field(description="rate per facet, relative to the fastest")
    ranking: list[str] = Field(description="facets, fastest first")
    anisotropy_index: Num = Field(description="fastest / slowest rate")
    shape: GrowthShape | None = Field(description="kinetic Wulff shape")
    inputs: dict[str, GrowthInput] | None = Field(None, description="per facet")
    note: str | None = Field(None, description="why the case has no rates")


class Growth(_Doc):
    """The growth model and its cases."""

    model: str = Field(description="the model function")
    assumptions: list[str] = Field(description="every assumption of the model")
    temperature_C: float = Field(description="synthesis temperature (°C)")
    cases: dict[str, GrowthCase] = Field(description="'without additive', 'with <A>'")


class ComparisonCheck(_Doc):
    """One check of a finding."""

    kind: str = Field(description="check kind (facetflow.findings)")
    passed: bool | None = Field(description="null: not computed")
    text: str = Field(description="the numbers, in the paper's sign convention")


class ComparisonRow(_Doc):
    """A published finding beside this run's numbers."""

    id: str | None = Field(None, description="finding id")
    finding: str | None = Field(description="the paper's statement")
    paper: str | None = Field(description="paper (method)")
    this_run: str = Field(description="this run's numbers")
    verdict: str | None = Field(description="agrees, disagrees or not computed")
    engine: str | None = Field(description="engine (identity) of the run")
    checks: list[ComparisonCheck] | None = Field(None, description="one per check")
    run: str | None = Field(None, description="the study the row comes from")
    probability: float | None = Field(None, description="probability of agreement over "
                                      "the uncertainty samples (uncertainty.findings)")
    robustness: str | None = Field(None, description="robust agreement, robust "
                                   "disagreement, not robust or not computed")


class DefectLimit(_Doc):
    """A chemical-potential limit of the defective material."""

    name: str = Field(description="e.g. Zn-rich")
    mu: dict[str, float] | None = Field(description="mu per element (eV per atom)")
    how: str = Field(description="how the limit is formed, or why not")


class FormationEnthalpy(_Doc):
    """dH_f = E(compound) - sum_i n_i E(elemental reference i)."""

    value: Num = Field(description="dH_f (eV per formula unit)")
    per: str = Field(description="always 'formula unit'")
    how: str = Field(description="the formula")


class DefectEntry(_Doc):
    """One defect structure, without or with a ligand next to the defect."""

    facet: str = Field(description="facet label")
    defect: str = Field(description="V_X or X_int")
    site: int | None = Field(description="symmetry-unique position, 0 first")
    layer: int | None = Field(description="plane from the top (0 = outermost)")
    multiplicity: int | None = Field(description="equivalent positions")
    ligand: str | None = Field(description="ligand next to the defect; null: none")
    structure: str = Field(description="structure id")
    reference: str = Field(description="pristine slab (with the same ligand)")
    n_defects: int = Field(description="defects in the cell")
    dn: dict[str, int] = Field(description="atoms added per element")
    E_f: dict[str, Num] = Field(description="per limit (eV per defect)")
    dE_f: Num = Field(description="E_f(with ligand) - E_f(without) (eV; > 0 suppressed)")
    E_b_ligand_at_defect: Num = Field(description="E_b of the ligand next to the defect "
                                                  "(eV)")
    E_b_ligand_pristine: Num = Field(description="E_b of the ligand at the same site of the "
                                                 "pristine slab (eV)")
    lowest: bool = Field(description="most stable position of this defect and ligand")


class DefectsSummary(_Doc):
    """Formation energies of point defects (``analysis.defects``)."""

    material: str = Field(description="the defective (outer) material")
    elements: list[str] = Field(description="its elements")
    limits: dict[str, DefectLimit] = Field(description="cation-rich, anion-rich")
    formation_enthalpy: FormationEnthalpy = Field(description="of the material")
    convention: str = Field(description="the formula of E_f and dE_f")
    entries: list[DefectEntry] = Field(description="by facet, defect, site, ligand")


class StartRow(_Doc):
    """The starts of one structure."""

    starts: int = Field(description="starts planned")
    done: int = Field(description="starts computed")
    lowest_start: int = Field(description="0: the usual start")
    pruned: int = Field(0, description="starts stopped early, far above start 0 "
                        "(workflow.prune_starts)")
    spread_eV: float | None = Field(description="highest - lowest energy of its starts "
                                    "relaxed to the end (eV); None with fewer than two")
    gap_eV: float | None = Field(None, description="E(start 0) - lowest energy (eV): what "
                                                   "one start would have missed")


class CandidateRow(_Doc):
    """The engine's calculations from the m lowest ML minima of one structure."""

    candidates: int = Field(description="candidates planned (engine.dft_candidates)")
    done: int = Field(description="candidates computed")
    lowest_candidate: int = Field(description="which was lowest with the engine (0: the "
                                  "ML-lowest minimum)")
    gain_eV: float = Field(description="E(candidate 0) - lowest candidate energy (eV, >= 0)")


class CandidatesSummary(_Doc):
    """How often the engine and the ML potential disagree on the lowest of a structure's
    ML minima (``engine.dft_candidates`` > 1)."""

    per_structure: int = Field(description="candidates per structure")
    structures: int = Field(description="structures with two or more candidates computed")
    lowest_not_candidate_0: int = Field(description="structures where the engine's lowest "
                                        "is not the ML-lowest minimum")
    gain_eV: dict[str, float] = Field(description="median and max of E(candidate 0) - "
                                      "lowest (eV)")
    by_structure: dict[str, CandidateRow] = Field(description="by structure id")


class StartsSummary(_Doc):
    """How much the start decided (``workflow.starts`` > 1)."""

    stage: str = Field(description="final, or prerelax (ML pre-relaxations)")
    per_structure: int = Field(description="starts per structure")
    structures: int = Field(description="structures with several starts computed")
    lowest_not_start_0: int = Field(description="structures whose lowest start is not 0")
    pruned: int = Field(0, description="starts stopped early, far above start 0 "
                        "(workflow.prune_starts)")
    spread_eV: dict[str, float | None] = Field(description="median and max (eV) over the "
                                               "structures with two starts relaxed to the "
                                               "end")
    by_structure: dict[str, StartRow] = Field(description="by structure id")
    candidates: CandidatesSummary | None = Field(None, description="with dft_candidates > 1: "
                                                 "the engine's choice among the ML minima")


class Missing(_Doc):
    """A structure whose energy is not available."""

    structure: str = Field(description="structure id")
    reason: str = Field(description="not computed, failed (with the error), no result")


class StoreProblem(_Doc):
    """A store row that could not be used."""

    calc_hash: str = Field(description="calculation hash")
    reason: str = Field(description="why (checksum mismatch, ...)")


class GrowthRank(_Doc):
    """The growth ranking of one case at one shifted chemical potential."""

    ranking: list[str] = Field(description="facets, fastest first")
    anisotropy_index: float = Field(description="fastest / slowest rate")


class GrowthVsMu(_Doc):
    """One point of ``growth_vs_delta_mu``."""

    delta_mu: float = Field(description="shift of mu (eV)")
    cases: dict[str, GrowthRank] = Field(description="by growth case")


class Summary(_Doc):
    """The whole document."""

    schema_: str = Field(SUMMARY_SCHEMA, alias="schema", description="schema name/version")
    study: str = Field(description="study name")
    engine: EngineSummary = Field(description="the engine of the final calculations")
    conditions: ConditionsSpec = Field(description="synthesis temperature (°C) and the "
                                                   "chemical-potential limit (study file)")
    versions: dict[str, str] = Field(description="facetflow and the packages deciding "
                                                 "its numbers")
    chemical_potentials: dict[str, ChemicalPotential] = Field(
        description="mu per element (eV per atom) and per ligand or additive (eV per unit)")
    passivation: dict[str, PassivationEnergy] = Field(description="per host element")
    references: dict[str, ReferenceEnergy] = Field(description="by reference key")
    facets: dict[str, FacetSummary] = Field(description="by facet label (its ``name``, "
                                                        "else the Miller indices)")
    growth: Growth = Field(description="growth model: rates and kinetic Wulff shapes")
    missing: list[Missing] = Field(description="structures whose energy is not available")
    store_problems: list[StoreProblem] = Field(description="store rows that could not be "
                                                           "used (recomputed)")
    defects: DefectsSummary | None = Field(None, description="only with a ``defects`` "
                                                             "section in the study")
    starts: StartsSummary | None = Field(None, description="only with several starts per "
                                                           "structure")
    paper_comparison: list[ComparisonRow] = Field(
        default_factory=list, description="only with ``analysis.compare_with``")
    growth_vs_delta_mu: dict[str, list[GrowthVsMu]] | None = Field(
        None, description="per species of ``analysis.delta_mu``: the growth ranking and "
                          "anisotropy as its mu moves")
    uncertainty: UncertaintySummary | None = Field(
        None, description="error bars of every number and probabilities of rankings and "
                          "findings (facetflow.analysis.uncertainty)")
    electronic: ElectronicSummary | None = Field(None, description="only with "
                                                 "``analysis.electronic`` (DFT engines)")


class SummaryError(ValueError):
    """A summary of another schema, or not a summary."""


def summary_text(summary: Summary) -> str:
    """The bytes of summary.json: sorted keys, no timestamps (an unchanged store gives
    the same text); keys absent from the built summary stay absent."""
    data = summary.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return json.dumps(data, indent=1, sort_keys=True, default=float) + "\n"


def read_summary(path: Path) -> Summary:
    """The summary at ``path``; ``SummaryError`` names another schema."""
    data = json.loads(Path(path).read_text())
    found = data.get("schema") if isinstance(data, dict) else None
    if found != SUMMARY_SCHEMA:
        raise SummaryError(f"{path}: summary schema {found} is not {SUMMARY_SCHEMA} (written "
                           "by another facetflow version); run facetflow report again")
    return Summary.model_validate(data)
