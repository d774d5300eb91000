"""The study schema: what a study file may say, as pydantic models (no loading here).

``facetflow.study`` loads a file into a ``Study`` and runs the checks that need the
materials table, the ligand library and the engines' settings.

Units and conventions: lengths in Å; coverage theta = ligands per surface cation of the
outermost layer (per face), 0 < theta and theta x footprint <= 1 (full coverage is one
acetate or 0.5 Zn(acetate)2 per surface Zn); temperature in °C; energies in eV.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from facetflow.records.calc import ENGINE_NAMES
from facetflow.records.electronic import ElectronicSpec
from facetflow.records.structure import Facet, miller_label

ENGINES = ENGINE_NAMES  # the one engine list (records.calc)
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CoreSpec(_Spec):
    """The core material; ``a``/``c`` override the tabulated experimental lattice (Å)."""

    material: str
    a: Annotated[float, Field(gt=1.0, lt=50.0)] | None = None
    c: Annotated[float, Field(gt=1.0, lt=50.0)] | None = None


class ShellSpec(_Spec):
    """Epitaxial shell: material, monolayers, outer termination (default cation)."""

    material: str
    monolayers: Annotated[int, Field(ge=1, le=10)] = 1
    termination: str | None = None


def _polar_tetrahedral(miller: tuple[int, ...]) -> bool:
    """Whether a facet of a tetrahedral material is polar by default: {111} of
    zincblende (three equal |indices|) or the basal (0001)/(000-1) of wurtzite (four
    indices with only l non-zero)."""
    if len(miller) == 4:
        return not any(miller[:3])
    return len({abs(i) for i in miller}) == 1


class SlabDefaults(_Spec):
    monolayers: Annotated[int, Field(ge=2, le=40)] = 8
    vacuum: Annotated[float, Field(ge=8.0, le=100.0)] = 15.0
    fixed_monolayers: Annotated[int, Field(ge=0, le=40)] | None = None


Coverage = Annotated[float, Field(gt=0.0, le=1.0)]


class FacetSpec(_Spec):
    """One facet: Miller indices in the conventional cell, in-plane supercell (two integers
    or a 2x2 matrix on the reduced 1x1 surface cell), and optional overrides.

    On hexagonal (wurtzite) materials ``miller`` may be four Miller-Bravais indices
    (h, k, i, l) with i = -(h + k), e.g. ``[1, 0, -1, 0]`` (m-plane), ``[0, 0, 0, -1]``;
    three-index input (h, k, l) on the hexagonal cell means the same plane and is shown
    as (h, k, -(h + k), l).

    ``name`` labels the facet in structure ids and the report (default: the Miller indices,
    e.g. ``100``); it lets one facet appear with two terminations (``100_CsI``,
    ``100_PbI2``)."""

    miller: tuple[int, int, int] | tuple[int, int, int, int] = Field(
        description="Miller indices (h, k, l) of the conventional cell, or Miller-Bravais "
                    "indices (h, k, i, l) with i = -(h + k) on hexagonal materials")
    name: Annotated[str, Field(pattern=NAME_PATTERN)] | None = None
    supercell: list[int] | list[list[int]] = [1, 1]
    monolayers: Annotated[int, Field(ge=2, le=40)] | None = None
    vacuum: Annotated[float, Field(ge=8.0, le=100.0)] | None = None
    symmetric: bool | None = None
    termination: str | None = None
    fixed_monolayers: Annotated[int, Field(ge=0, le=40)] | None = None
    coverages: dict[str, list[Coverage]] | None = None
    modes: dict[str, str] | None = None
    growth_species: list[str] = []

    @field_validator("miller", mode="before")
    @classmethod
    def _indices(cls, v):
        if isinstance(v, list | tuple) and len(v) not in (3, 4):
            raise ValueError(f"Miller indices are three integers (h, k, l) or four "
                             f"Miller-Bravais integers (h, k, i, l); got {len(v)}")
        return v

    @field_validator("miller")
    @classmethod
    def _nonzero(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if not any(v):
            raise ValueError("Miller indices (0, 0, 0) define no plane")
        if len(v) == 4 and v[2] != -(v[0] + v[1]):
            raise ValueError(f"Miller-Bravais indices (h, k, i, l) need i = -(h + k): got "
                             f"i = {v[2]} for h = {v[0]}, k = {v[1]} (allowed: "
                             f"i = {-(v[0] + v[1])})")
        return v

    @property
    def hkl(self) -> tuple[int, int, int]:
        """The three Miller indices (h, k, l) of the conventional cell (for Miller-Bravais
        input (h, k, i, l): (h, k, l) on the hexagonal cell a1, a2 at 120°, c)."""
        m = self.miller
        return (m[0], m[1], m[3]) if len(m) == 4 else (m[0], m[1], m[2])

    def in_four_index(self) -> FacetSpec:
        """The facet with Miller-Bravais indices (h, k, -(h + k), l) (hexagonal materials)."""
        if len(self.miller) == 4:
            return self
        h, k, l_ = self.hkl
        return self.model_copy(update={"miller": (h, k, -(h + k), l_)})

    @field_validator("supercell")
    @classmethod
    def _supercell(cls, v):
        if len(v) == 2 and all(isinstance(x, int) for x in v):
            if min(v) < 1:
                raise ValueError("supercell repeats must be >= 1")
            return v
        if len(v) == 2 and all(isinstance(r, list) and len(r) == 2 for r in v):
            det = v[0][0] * v[1][1] - v[0][1] * v[1][0]
            if det <= 0:
                raise ValueError("supercell matrix must have a positive determinant")
            return v
        raise ValueError("supercell must be [n1, n2] or a 2x2 integer matrix")

    @property
    def label(self) -> str:
        """The facet's label in ids and the report (``name``, else the Miller indices)."""
        return self.name or miller_label(self.miller)

    def is_symmetric(self, tetrahedral: bool) -> bool:
        """Whether the facet's slab is symmetric: as ``symmetric`` says, else every facet
        but the polar ones of a tetrahedral material, {111} of zincblende and (0001) of
        wurtzite (built with a pseudo-H passivated bottom)."""
        if self.symmetric is not None:
            return self.symmetric
        return not (tetrahedral and _polar_tetrahedral(self.miller))

    @property
    def facet(self) -> Facet:
        """The facet as structure records carry it."""
        return Facet(label=self.label, miller=tuple(self.miller))

    @property
    def supercell_matrix(self) -> tuple[tuple[int, int], tuple[int, int]]:
        v = self.supercell
        if isinstance(v[0], int):
            return ((v[0], 0), (0, v[1]))
        return ((v[0][0], v[0][1]), (v[1][0], v[1][1]))


class LigandSpec(_Spec):
    """A ligand and the coverages of its sweep; ``mode`` forces a binding mode.

    ``replaces``: an element of the outermost plane (e.g. ``Cs`` or ``I`` on a CsI-
    terminated perovskite face); each ligand then takes the place of one such surface atom
    (removed; the ligand's anchor goes to its site, at bonding distance from the atom
    beneath it when there is one), so theta counts replaced atoms per surface cation.
    Binding energies of such a ligand are taken against the slab with the surface atom
    removed and no ligand: E_b = E(slab - X + A) - E(slab - X) - mu_A.
    ``facets``: the facet labels where the ligand is swept (default every facet)."""

    name: str
    coverages: Annotated[list[Coverage], Field(min_length=1)]
    mode: str | None = None
    replaces: Annotated[str, Field(pattern=r"^[A-Z][a-z]?$")] | None = None
    facets: list[str] | None = None


class CustomLigandSpec(_Spec):
    """A user ligand from an XYZ file (path relative to the study file)."""

    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    file: str
    anchors: list[int]
    kind: Literal["X", "L", "Z", "X2", "growth"] = "X"
    charge: int = -1
    footprint: Annotated[int, Field(ge=1, le=4)] = 1
    modes: list[str] | None = None
    anchor_species: list[Literal["cation", "anion"]] | None = None
    reference: dict[str, float] = {}

    @field_validator("anchors")
    @classmethod
    def _anchors(cls, v: list[int]) -> list[int]:
        if not v:
            raise ValueError("a ligand needs one or two anchor atoms (0-based indices)")
        if len(v) > 2:
            raise ValueError("at most two anchor atoms are supported")
        return v


class VariantSpec(_Spec):
    """Replace one ligand by ``replace_with`` (e.g. F, HF) at the listed coverages."""

    replace_with: str
    coverages: Literal["all"] | list[Coverage] = "all"


class BindingSpec(_Spec):
    """Where binding structures (one ligand removed; growth species in its place) are
    built: ``optimal`` at the arrangement at theta* of each facet and ligand, once the
    coverage sweep's energies are known (a second stage of the run); or a list of
    coverages (first arrangement, built up front)."""

    coverages: Literal["optimal"] | list[Coverage] = "optimal"


class EnumerationSpec(_Spec):
    """How many symmetry-unique arrangements per coverage, and how many symmetry-unique
    replacement positions per arrangement, are kept (most uniform first)."""

    max_configurations: Annotated[int, Field(ge=1, le=50)] = 2
    max_replacements: Annotated[int, Field(ge=1, le=20)] = 1


class EngineSpec(_Spec):
    """The engine and its settings. ``prerelax: mlip`` relaxes every slab with the ML
    potential before the engine's own calculation; ``final_task: single`` then makes that
    calculation a single point at the pre-relaxed geometry (slabs only: bulk and molecule
    references are still relaxed by the engine) -- the cheap protocol for checking ML
    energetics with DFT, stated in every result's task.

    ``dft_candidates`` m (with ``prerelax`` and ``workflow.starts`` k >= m): the engine's
    calculation is run from each of the m lowest ML minima of a structure, and the
    structure's energy is the lowest of those m results (AdsorbML's protocol: the ML
    ranking of nearby minima is not trusted, only its shortlist). ``prerelax_settings``
    override the pre-relaxer's presets (e.g. ``model``), so that a data set keeps its
    geometries when the embedded engine's default model changes.

    ``dft_frames`` [n1, n2, ...] (with ``prerelax``): the engine also computes a single
    point at the geometry reached after n optimizer steps of each structure's first ML
    pre-relaxation (that relaxation repeated and stopped after n steps). These frames
    lie along the relaxation, away from the minimum, so a reference data set gets
    energies and forces away from minima; they enter no analysis. A relaxation that
    converges in fewer than n steps gives its minimum as that frame."""

    name: Literal[ENGINES] = "mlip"  # type: ignore[valid-type]
    settings: dict = {}
    prerelax: Literal["mlip"] | None = None
    prerelax_settings: dict = {}
    final_task: Literal["relax", "single"] = "relax"
    dft_candidates: Annotated[int, Field(ge=1, le=16)] = 1
    dft_frames: Annotated[list[Annotated[int, Field(ge=1, le=10000)]],
                          Field(max_length=8)] = []

    @model_validator(mode="after")
    def _single_needs_geometry(self) -> EngineSpec:
        if self.final_task == "single" and self.prerelax is None:
            raise PydanticCustomError(
                "final_task", "final_task: single needs prerelax: mlip (a geometry to "
                "compute the single point at)")
        if self.dft_candidates > 1 and self.prerelax is None:
            raise PydanticCustomError(
                "dft_candidates", "dft_candidates: {m} needs prerelax: mlip (the ML minima "
                "the candidates are taken from)", {"m": self.dft_candidates})
        if self.dft_frames and self.prerelax is None:
            raise PydanticCustomError(
                "dft_frames", "dft_frames needs prerelax: mlip (the ML relaxation the "
                "frames are taken along)")
        if self.dft_frames != sorted(set(self.dft_frames)):
            raise PydanticCustomError(
                "dft_frames", "dft_frames: {v} must be distinct step counts in increasing "
                "order", {"v": self.dft_frames})
        return self


class PruneSpec(_Spec):
    """When a start j >= 1 of a structure stops early (``workflow.prune_starts``): after
    ``after_steps`` optimizer steps, if its energy lies more than ``above_eV`` (eV, total
    energy of the cell) above the minimum of the same structure's start 0, it is stopped
    and stored as pruned (its energy an upper bound of its own minimum, which cannot
    then be the structure's lowest). Applies to the batched ML optimizers (LBFGS, FIRE)."""

    after_steps: Annotated[int, Field(ge=1, le=10000)]
    above_eV: Annotated[float, Field(gt=0.0, le=100.0)]


class WorkflowSpec(_Spec):
    """How the plan is made and run.

    ``lattice_from_bulk``: slabs are scaled to the engine's own relaxed core lattice (so
    the bulk reference and the slab share one lattice and no spurious strain enters
    gamma). ``warm_start``: a variant or binding structure (one local change to a ligand
    arrangement) starts from that arrangement's relaxed geometry; ligand arrangements
    start from the builder's guess (see ``workflows.plan``). ``batch_size``: cheap MLIP
    calculations of one plan level are run as one batched relaxation of up to this many
    structures. ``starts``: how many starts each structure with adsorbates is relaxed
    from; its energy is the lowest of them (ligand shells are floppy, so one start can end
    in a high local minimum). Start 0 is the usual one (the builder's guess, or the warm
    start); start j >= 1 is the builder's guess with every adsorbate turned about the
    surface normal by up to ``start_rotation`` degrees and every free atom rattled by
    ``start_rattle`` Å (``structures.perturb``). A structure warm-started from another
    starts from that structure's lowest start. With ``prerelax``, the starts are ML
    pre-relaxations and one DFT relaxation follows from the lowest.
    """

    lattice_from_bulk: bool = True
    warm_start: bool = True
    batch_size: Annotated[int, Field(ge=1, le=1000)] = 64
    starts: Annotated[int, Field(ge=1, le=16)] = 1
    start_rotation: Annotated[float, Field(ge=0.0, le=180.0)] = 30.0
    start_rattle: Annotated[float, Field(ge=0.0, le=0.5)] = 0.05
    prune_starts: PruneSpec | None = None
    """Stop starts j >= 1 that are far above start 0 part-way through (``PruneSpec``);
    start j then runs after start 0. None: every start runs to convergence."""
    committee: list[Literal["chgnet", "sevennet-0", "sevennet-l3i5"]] = []
    """ML potentials evaluated as single points at the final geometry of every calculation
    (after the engine's own calculation; stored by content hash like every calculation).
    The spread of a quantity over the engine's result and these gives its model
    uncertainty (``analysis.uncertainty``). Models as ``facetflow engines`` lists them;
    the engine's own model is not repeated."""
    bulk_references: bool = True
    """false: no bulk references are computed, so chemical potentials of the core and
    shell elements (gamma, growth-species binding, defect energies) stay unknown; binding
    energies of ligands and additives (molecular references) are still computed. For
    binding-energy checks with Gamma-point codes, where a primitive bulk cell is not
    meaningful. Needs lattice_from_bulk: false."""

    @model_validator(mode="after")
    def _lattice_needs_bulk(self) -> WorkflowSpec:
        if not self.bulk_references and self.lattice_from_bulk:
            raise PydanticCustomError(
                "bulk_references", "bulk_references: false needs lattice_from_bulk: false "
                "(the slabs are scaled to the relaxed bulk lattice)")
        return self


class AnalysisSpec(_Spec):
    """Extra analysis. ``delta_mu``: species -> [min, max] (eV) over which gamma(theta),
    theta* and gamma* are also reported, as the chemical potential of that species moves
    away from its reference value (a cation of the core or shell: the anion moves the
    opposite way, keeping mu_cation + mu_anion = E(bulk); a ligand or additive: its mu
    alone). ``delta_mu_points`` values are spread evenly over each range."""

    delta_mu: dict[str, Annotated[list[float], Field(min_length=2, max_length=2)]] = {}
    delta_mu_points: Annotated[int, Field(ge=2, le=201)] = 11
    compare_with: str | None = None
    """Published findings to set beside this run's (``summary.json: paper_comparison``):
    the name of a file in ``facetflow/data/papers/`` (without ``.yaml``) or a path to a
    YAML file of the same form (see ``facetflow.analysis.paper``)."""
    calibration: str | None = None
    """A reference data set (``facetflow dataset export``; path relative to the study
    file) whose DFT binding energies calibrate the ML model's error bars: the RMS of the
    model's ML - DFT residuals per species family (``facetflow dataset score DATASET
    --model NAME`` computes the model's values) sets the calibration noise of the binding
    energies of that family (``analysis.calibration``)."""
    calibration_studies: list[str] = []
    """The studies of the calibration data set whose residuals count (their names, the
    ``study`` of its reactions; empty: all): a data set that spans other chemistry (a
    halide perovskite's ionic ligands beside a III-V core's carboxylates) would otherwise
    lend this study its errors there."""
    electronic: bool | ElectronicSpec = False
    """Electronic analysis (DFT engines only): ``true`` or an ``ElectronicSpec`` (roles,
    margin, scissor); see ``facetflow.analysis.electronic``."""

    @property
    def electronic_spec(self) -> ElectronicSpec | None:
        """The electronic analysis asked for (None: none)."""
        if self.electronic is True:
            return ElectronicSpec()
        return self.electronic or None

    @model_validator(mode="after")
    def _ranges(self) -> AnalysisSpec:
        for name, (lo, hi) in self.delta_mu.items():
            if not lo < hi:
                raise ValueError(f"delta_mu.{name}: the range must be [min, max] with "
                                 f"min < max, got [{lo}, {hi}]")
        return self


DEFECT_KIND = r"^(V_[A-Z][a-z]?|[A-Z][a-z]?_int)$"


class DefectsSpec(_Spec):
    """Neutral point defects in the outermost planes of symmetric slabs.

    ``kinds``: ``V_X`` (vacancy of element X) or ``X_int`` (interstitial X), X a species
    of the core (or shell). Each is put at every symmetry-unique position in the top
    ``layers`` atomic planes (vacancies: the atoms of X there, one orbit per position under
    the operations that keep the top face; interstitials: the empty sites of largest
    clearance between those planes), at most ``max_sites`` positions per kind, and its
    image on the bottom face (both faces identical, two defects per cell).

    E_f = [E(defective slab) - E(pristine slab) - sum_i dn_i mu_i] / n_defects (eV), with
    dn_i the atoms added (interstitial +1, vacancy -1 per defect), in each chemical-
    potential limit of ``limits`` (cation-rich: mu_cation = E(metal); anion-rich: mu_anion
    = E(elemental anion reference, e.g. S8)). With each of ``ligands`` bound at the binding
    site nearest the defect, E_f(L) uses the pristine slab with that ligand at that site
    as reference, and the passivation effect is dE_f = E_f(L) - E_f (> 0: the ligand makes
    the defect costlier to form)."""

    kinds: Annotated[list[Annotated[str, Field(pattern=DEFECT_KIND)]], Field(min_length=1)]
    facets: list[str] | None = None
    layers: Annotated[int, Field(ge=1, le=6)] = 2
    max_sites: Annotated[int, Field(ge=1, le=20)] = 2
    ligands: list[str] = []
    limits: Annotated[list[Literal["cation-rich", "anion-rich"]],
                      Field(min_length=1)] = ["cation-rich", "anion-rich"]


Reaction = dict[str, float]


class ConditionsSpec(_Spec):
    """Synthesis conditions: temperature (°C), chemical-potential limit of the core and
    shell elements, and the reactions that price adsorbates.

    ``references``: species (a ligand, additive or growth species of the study) ->
    reaction mu = sum_k c_k E(k) in place of the ligand library's (keys: a molecule of
    the library, ``bulk:<compound or element>``, or ``mu:<element>`` = mu of an element of
    the core or shell in ``limit``). States the synthesis's precursors, e.g. Se from
    trioctylphosphine selenide modelled as Me3PSe -> Me3P + Se: ``Se: {Me3PSe: 1, Me3P:
    -1}``; F from ZnF2: ``F: {ZnF2: 0.5, "mu:Zn": -0.5}``. Without an entry a species keeps
    the library's reaction (Se, S: the thermodynamic limit of the study's own compound)."""

    temperature_C: Annotated[float, Field(gt=-273.15, lt=2000.0)] = 340.0
    limit: Literal["cation-rich", "anion-rich"] = "cation-rich"
    references: dict[str, Annotated[Reaction, Field(min_length=1)]] = {}


class Study(_Spec):
    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    description: str = ""
    core: CoreSpec
    shell: ShellSpec | None = None
    slab: SlabDefaults = SlabDefaults()
    facets: Annotated[list[FacetSpec], Field(min_length=1)]
    ligands: list[LigandSpec] = []
    custom_ligands: list[CustomLigandSpec] = []
    variants: list[VariantSpec] = []
    binding: BindingSpec = BindingSpec()
    enumeration: EnumerationSpec = EnumerationSpec()
    engine: EngineSpec = EngineSpec()
    workflow: WorkflowSpec = WorkflowSpec()
    analysis: AnalysisSpec = AnalysisSpec()
    conditions: ConditionsSpec = ConditionsSpec()
    defects: DefectsSpec | None = None

    @model_validator(mode="after")
    def _unique(self) -> Study:
        seen: dict = {}
        for i, f in enumerate(self.facets):
            key = f.name or f.miller  # one miller may appear under two names
            if key in seen:
                raise PydanticCustomError(
                    "duplicate", "facets.{i}: facet {m} is listed twice (also facets.{j})",
                    {"i": i, "m": f.name or list(f.miller), "j": seen[key]})
            seen[key] = i
        labels = [f.label for f in self.facets]
        for i, lab in enumerate(labels):
            if lab in labels[:i]:
                raise PydanticCustomError(
                    "duplicate", "facets.{i}.name: facet label {n} is used twice (also "
                    "facets.{j})", {"i": i, "n": lab, "j": labels.index(lab)})
        names: dict = {}
        for k, lig in enumerate(self.ligands):
            if lig.name in names:
                raise PydanticCustomError(
                    "duplicate", "ligands.{k}.name: ligand {n} is listed twice (also "
                    "ligands.{j})", {"k": k, "n": lig.name, "j": names[lig.name]})
            names[lig.name] = k
        if self.engine.dft_candidates > self.workflow.starts:
            raise PydanticCustomError(
                "dft_candidates", "engine.dft_candidates: {m} is more than workflow.starts "
                "({k}): the candidates are the lowest of the ML starts; allowed 1 to {k}",
                {"m": self.engine.dft_candidates, "k": self.workflow.starts})
        return self
