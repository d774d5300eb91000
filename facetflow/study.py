"""The study spec: a YAML file a chemist writes, validated up front.

``load_study(path)`` returns a ``Study`` or raises ``SpecError`` carrying one problem per
mistake (field path, value, what is allowed). Nothing is written before a study is valid.

Units and conventions: lengths in Å; coverage theta = ligands per surface cation of the
outermost layer (per face), 0 < theta and theta x footprint <= 1 (full coverage is one
acetate or 0.5 Zn(acetate)2 per surface Zn); temperature in °C.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from facetflow.errors import Problem, SpecError

ENGINES = ("mlip", "vasp", "qe", "cp2k", "gpaw")
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


class SlabDefaults(_Spec):
    monolayers: Annotated[int, Field(ge=2, le=40)] = 8
    vacuum: Annotated[float, Field(ge=8.0, le=100.0)] = 15.0
    fixed_monolayers: Annotated[int, Field(ge=0, le=40)] | None = None


Coverage = Annotated[float, Field(gt=0.0, le=1.0)]


class FacetSpec(_Spec):
    """One facet: Miller indices in the conventional cell, in-plane supercell (two integers
    or a 2x2 matrix on the reduced 1x1 surface cell), and optional overrides."""

    miller: tuple[int, int, int]
    supercell: list[int] | list[list[int]] = [1, 1]
    monolayers: Annotated[int, Field(ge=2, le=40)] | None = None
    vacuum: Annotated[float, Field(ge=8.0, le=100.0)] | None = None
    symmetric: bool | None = None
    termination: str | None = None
    fixed_monolayers: Annotated[int, Field(ge=0, le=40)] | None = None
    coverages: dict[str, list[Coverage]] | None = None
    modes: dict[str, str] | None = None
    growth_species: list[str] = []

    @field_validator("miller")
    @classmethod
    def _nonzero(cls, v: tuple[int, int, int]) -> tuple[int, int, int]:
        if not any(v):
            raise ValueError("Miller indices (0, 0, 0) define no plane")
        return v

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
        return "".join(str(i) if i >= 0 else f"m{-i}" for i in self.miller)

    @property
    def supercell_matrix(self) -> tuple[tuple[int, int], tuple[int, int]]:
        v = self.supercell
        if isinstance(v[0], int):
            return ((v[0], 0), (0, v[1]))
        return ((v[0][0], v[0][1]), (v[1][0], v[1][1]))


class LigandSpec(_Spec):
    """A ligand and the coverages of its sweep; ``mode`` forces a binding mode."""

    name: str
    coverages: Annotated[list[Coverage], Field(min_length=1)]
    mode: str | None = None


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
    built: ``optimal`` builds them at every coverage so the optimum can be picked after
    the energies are known; or a list of coverages."""

    coverages: Literal["optimal"] | list[Coverage] = "optimal"


class EnumerationSpec(_Spec):
    """How many symmetry-unique arrangements per coverage, and how many symmetry-unique
    replacement positions per arrangement, are kept (most uniform first)."""

    max_configurations: Annotated[int, Field(ge=1, le=50)] = 2
    max_replacements: Annotated[int, Field(ge=1, le=20)] = 1


class EngineSpec(_Spec):
    name: Literal[ENGINES] = "mlip"  # type: ignore[valid-type]
    settings: dict = {}
    prerelax: Literal["mlip"] | None = None


class WorkflowSpec(_Spec):
    """How the plan is made and run.

    ``lattice_from_bulk``: slabs are scaled to the engine's own relaxed core lattice (so
    the bulk reference and the slab share one lattice and no spurious strain enters
    gamma). ``warm_start``: a structure derived from another (ligands on the capped slab,
    a variant or binding structure from its arrangement) starts from that structure's
    relaxed geometry. ``batch_size``: cheap MLIP calculations of one plan level are run as
    one batched relaxation of up to this many structures.
    """

    lattice_from_bulk: bool = True
    warm_start: bool = True
    batch_size: Annotated[int, Field(ge=1, le=1000)] = 64


class AnalysisSpec(_Spec):
    """Extra analysis. ``delta_mu``: species -> [min, max] (eV) over which gamma(theta),
    theta* and gamma* are also reported, as the chemical potential of that species moves
    away from its reference value (a cation of the core or shell: the anion moves the
    opposite way, keeping mu_cation + mu_anion = E(bulk); a ligand or additive: its mu
    alone). ``delta_mu_points`` values are spread evenly over each range."""

    delta_mu: dict[str, Annotated[list[float], Field(min_length=2, max_length=2)]] = {}
    delta_mu_points: Annotated[int, Field(ge=2, le=201)] = 11

    @model_validator(mode="after")
    def _ranges(self) -> AnalysisSpec:
        for name, (lo, hi) in self.delta_mu.items():
            if not lo < hi:
                raise ValueError(f"delta_mu.{name}: the range must be [min, max] with "
                                 f"min < max, got [{lo}, {hi}]")
        return self


class ConditionsSpec(_Spec):
    """Synthesis conditions: temperature (°C) and chemical-potential limit."""

    temperature_C: Annotated[float, Field(gt=-273.15, lt=2000.0)] = 340.0
    limit: Literal["cation-rich", "anion-rich"] = "cation-rich"


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

    @model_validator(mode="after")
    def _unique(self) -> Study:
        seen: dict = {}
        for i, f in enumerate(self.facets):
            if f.miller in seen:
                raise PydanticCustomError(
                    "duplicate", "facets.{i}: facet {m} is listed twice (also facets.{j})",
                    {"i": i, "m": list(f.miller), "j": seen[f.miller]})
            seen[f.miller] = i
        names: dict = {}
        for k, lig in enumerate(self.ligands):
            if lig.name in names:
                raise PydanticCustomError(
                    "duplicate", "ligands.{k}.name: ligand {n} is listed twice (also "
                    "ligands.{j})", {"k": k, "n": lig.name, "j": names[lig.name]})
            names[lig.name] = k
        return self


def _pydantic_problems(err: ValidationError) -> list[Problem]:
    out = []
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"]) or "<study>"
        msg = re.sub(r"^Value error, ", "", e["msg"])
        if e["type"] == "duplicate":  # "path: message" from the whole-study checks
            loc, msg = msg.split(": ", 1)
        value = e.get("input")
        if isinstance(value, dict | list) and len(repr(value)) > 120:
            value = None
        out.append(Problem(loc, msg, value))
    return out


def parse_study(data: object, source: str | None = None, base_dir: Path | None = None) -> Study:
    """Validate a study given as a mapping (from YAML); raise ``SpecError`` on problems."""
    if not isinstance(data, dict):
        raise SpecError([Problem("<study>", "a study must be a YAML mapping",
                                 type(data).__name__)], source)
    try:
        study = Study.model_validate(data)
    except ValidationError as err:
        raise SpecError(_pydantic_problems(err), source) from None
    problems = semantic_problems(study, base_dir or Path("."))
    if problems:
        raise SpecError(problems, source)
    return study


def load_study(path: str | Path) -> Study:
    """Read and validate a study file."""
    path = Path(path)
    if not path.is_file():
        raise SpecError([Problem("<file>", "study file not found", str(path))], str(path))
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise SpecError([Problem("<file>", f"not valid YAML: {exc}")], str(path)) from None
    return parse_study(data, str(path), path.parent)


def semantic_problems(study: Study, base_dir: Path) -> list[Problem]:
    """Checks that need the materials table and ligand library (collected, not raised)."""
    from facetflow.structures.ligands import MODES, get_ligand
    from facetflow.structures.materials import compound_names, get_compound

    problems: list[Problem] = []

    def check(fn, *args, **kw):
        try:
            return fn(*args, **kw)
        except SpecError as exc:
            problems.extend(exc.problems)
            return None

    check(get_compound, study.core.material, path="core.material")
    if study.shell:
        check(get_compound, study.shell.material, path="shell.material")
    known: dict[str, object] = {}
    for k, cl in enumerate(study.custom_ligands):
        f = base_dir / cl.file
        if not f.is_file():
            problems.append(Problem(f"custom_ligands.{k}.file", "file not found", cl.file))
        for m in cl.modes or []:
            if m not in MODES:
                problems.append(Problem(f"custom_ligands.{k}.modes", "unknown binding mode",
                                        m, ", ".join(MODES)))
        known[cl.name] = cl
    custom_footprint = {cl.name: cl.footprint for cl in study.custom_ligands}

    def ligand(name: str, path: str):
        if name in known:
            return known[name]
        lig = check(get_ligand, name, path=path)
        if lig is not None:
            known[name] = lig
        return lig

    for k, ls in enumerate(study.ligands):
        lig = ligand(ls.name, f"ligands.{k}.name")
        fp = custom_footprint.get(ls.name, getattr(lig, "footprint", 1))
        for j, theta in enumerate(ls.coverages):
            if theta * fp > 1 + 1e-9:
                problems.append(Problem(f"ligands.{k}.coverages.{j}", f"coverage exceeds full "
                                        f"coverage for a ligand of footprint {fp}", theta,
                                        f"0 < theta <= {1 / fp:g}"))
        if ls.mode and lig is not None and hasattr(lig, "modes") and ls.mode not in lig.modes:
            problems.append(Problem(f"ligands.{k}.mode", "binding mode not available for "
                                    "this ligand", ls.mode, ", ".join(lig.modes)))
    sweep = {ls.name for ls in study.ligands}
    for k, v in enumerate(study.variants):
        ligand(v.replace_with, f"variants.{k}.replace_with")
    for i, f in enumerate(study.facets):
        for name in f.growth_species:
            ligand(name, f"facets.{i}.growth_species")
        for name in (f.coverages or {}):
            if name not in sweep:
                problems.append(Problem(f"facets.{i}.coverages.{name}", "coverage override "
                                        "for a ligand that is not in ligands", name,
                                        ", ".join(sorted(sweep)) or "(no ligands)"))
        for name in (f.modes or {}):
            if name not in sweep and name not in f.growth_species and \
                    name not in {v.replace_with for v in study.variants}:
                problems.append(Problem(f"facets.{i}.modes.{name}", "mode given for a species "
                                        "the study does not use", name))
    known_mu = set(sweep) | {v.replace_with for v in study.variants}
    for material in (study.core.material, study.shell.material if study.shell else None):
        if material and material in compound_names():
            comp = get_compound(material)
            known_mu |= set(comp.cations) | {comp.anion}
    for name in study.analysis.delta_mu:
        if name not in known_mu:
            problems.append(Problem(f"analysis.delta_mu.{name}", "no chemical potential of "
                                    "that name in this study", name,
                                    ", ".join(sorted(known_mu))))
    if study.variants and not study.ligands:
        problems.append(Problem("variants", "variants replace a ligand, but the study has no "
                                "ligands"))
    return problems
