"""Loading a study: a YAML file a chemist writes, validated up front.

``load_study(path)`` returns a ``Study`` (schema: ``facetflow.records.study``) or raises
``SpecError`` carrying one problem per mistake (field path, value, what is allowed).
Besides the schema it checks what needs the materials table, the ligand library, the
published findings and the engines' settings. Nothing is written before a study is valid.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from pydantic import ValidationError

from facetflow.engines.mlip_models import is_model_file
from facetflow.engines.presets import PURPOSES
from facetflow.engines.settings import gpaw_problems, settings_problems
from facetflow.errors import Problem, SpecError
from facetflow.findings import load_findings
from facetflow.records.electronic import ELECTRONIC_ENGINES
from facetflow.records.study import ENGINES, FacetSpec, Study
from facetflow.structures.context import reference_problems
from facetflow.structures.growth_units import growth_species
from facetflow.structures.ligands import MODES, Ligand, get_ligand
from facetflow.structures.materials import Compound, compound_names, get_compound

__all__ = ["ENGINES", "FacetSpec", "Study", "hexagonal_indices", "load_study",
           "parse_study", "semantic_problems"]


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
    problems = _index_problems(study)
    if problems:
        raise SpecError(problems, source)
    study = hexagonal_indices(study)
    study = _model_files_resolved(study, base_dir or Path("."))
    problems = semantic_problems(study, base_dir or Path("."))
    if problems:
        raise SpecError(problems, source)
    return study


def _model_files_resolved(study: Study, base_dir: Path) -> Study:
    """The study with each ML model file (``model: path/to/model.pth.tar`` in the mlip
    settings, any purpose) made absolute against the study file's folder: the
    calculations run from other directories."""
    def resolve(settings: dict) -> dict:
        out = dict(settings)
        for key, value in settings.items():
            if isinstance(value, dict):
                out[key] = resolve(value)
            elif key == "model" and isinstance(value, str) and is_model_file(value):
                out[key] = str((base_dir / value).resolve())
        return out

    engine = study.engine
    update = {}
    if engine.name == "mlip":
        update["settings"] = resolve(engine.settings)
    if engine.prerelax == "mlip":
        update["prerelax_settings"] = resolve(engine.prerelax_settings)
    analysis = study.analysis
    if analysis.calibration:  # the calibration data set, likewise
        analysis = analysis.model_copy(update={
            "calibration": str((base_dir / analysis.calibration).resolve())})
    return study.model_copy(update={"engine": engine.model_copy(update=update),
                                    "analysis": analysis})


def _hexagonal(study: Study) -> bool:
    """Whether the core material is hexagonal (wurtzite) in the materials table."""
    return study.core.material in compound_names() and \
        get_compound(study.core.material).structure == "wurtzite"


def _index_problems(study: Study) -> list[Problem]:
    """Four-index (Miller-Bravais) facets only on hexagonal materials; on those, one
    facet not written twice (in three and in four indices)."""
    if _hexagonal(study):
        seen: dict[str, int] = {}
        out = []
        for i, f in enumerate(study.facets):
            label = f.in_four_index().label
            if label in seen:
                out.append(Problem(f"facets.{i}.miller", f"the same facet as facets."
                                   f"{seen[label]} ({label})", list(f.miller),
                                   "each facet once, or a distinct name"))
            seen.setdefault(label, i)
        return out
    if study.core.material not in compound_names():
        return []
    structure = get_compound(study.core.material).structure
    return [Problem(f"facets.{i}.miller", f"four Miller-Bravais indices are for hexagonal "
                    f"(wurtzite) materials; core.material {study.core.material} is "
                    f"{structure}", list(f.miller), "three Miller indices (h, k, l)")
            for i, f in enumerate(study.facets) if len(f.miller) == 4]


def hexagonal_indices(study: Study) -> Study:
    """On a hexagonal core every facet in Miller-Bravais form (h, k, -(h + k), l), so labels,
    ids, tables and figures show four indices; a three-index default label named in
    ``ligands[].facets`` or ``defects.facets`` is renamed with it."""
    if not _hexagonal(study):
        return study
    facets = [f.in_four_index() for f in study.facets]
    renamed = {old.label: new.label for old, new in zip(study.facets, facets, strict=True)}
    update: dict = {"facets": facets}
    if any(ls.facets for ls in study.ligands):
        update["ligands"] = [ls.model_copy(update={"facets": [renamed.get(x, x) for x in
                                                              ls.facets]})
                             if ls.facets else ls for ls in study.ligands]
    if study.defects and study.defects.facets:
        update["defects"] = study.defects.model_copy(update={"facets": [
            renamed.get(x, x) for x in study.defects.facets]})
    return study.model_copy(update=update)


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
    """Checks that need the materials table, the ligand library, the findings and the
    engines' settings (collected, not raised), in the order of the study file."""
    ligands = _LigandNames(study)
    problems = _material_problems(study)
    problems += _custom_ligand_problems(study, base_dir)
    problems += _sweep_problems(study, ligands)
    for k, v in enumerate(study.variants):
        ligands.resolve(v.replace_with, f"variants.{k}.replace_with")
    problems += ligands.take()
    problems += _facet_species_problems(study, ligands)
    problems += _delta_mu_problems(study)
    problems += _references_problems(study)
    if study.analysis.compare_with:
        problems += load_findings(study.analysis.compare_with, base_dir)[1]
    problems += _calibration_problems(study.analysis)
    problems += settings_problems(study.engine.name, study.engine.settings)
    problems += gpaw_problems(study.engine.name, study.engine.settings,
                                PURPOSES if study.workflow.bulk_references
                                else ("slab", "molecule"))
    if study.engine.prerelax:
        problems += settings_problems(study.engine.prerelax, study.engine.prerelax_settings,
                                      "engine.prerelax_settings")
    elif study.engine.prerelax_settings:
        problems.append(Problem("engine.prerelax_settings", "settings for a pre-relaxer, but "
                                "the study has no engine.prerelax", "set",
                                "prerelax: mlip, or no prerelax_settings"))
    if study.variants and not study.ligands:
        problems.append(Problem("variants", "variants replace a ligand, but the study has no "
                                "ligands"))
    problems += _placement_problems(study)
    problems += _defect_problems(study, ligands)
    return problems + _electronic_problems(study)


def _calibration_problems(analysis) -> list[Problem]:
    """``analysis.calibration`` must be a data set, and ``calibration_studies`` studies of
    it."""
    cal, wanted = analysis.calibration, analysis.calibration_studies
    if not cal:
        return [Problem("analysis.calibration_studies", "studies of a calibration data set, "
                        "but the study names none", wanted, "set analysis.calibration")
                ] if wanted else []
    if not (Path(cal) / "reactions.json").is_file():
        return [Problem("analysis.calibration", "not a data set (no reactions.json)", cal,
                        "a folder written by facetflow dataset export")]
    doc = json.loads((Path(cal) / "reactions.json").read_text())
    known = sorted({r.get("study") for r in doc.get("reactions", [])} - {None})
    return [Problem(f"analysis.calibration_studies.{k}", "not a study of the data set", name,
                    ", ".join(known)) for k, name in enumerate(wanted) if name not in known]


def _references_problems(study: Study) -> list[Problem]:
    """``conditions.references``: species of the study and known reference keys."""
    if not study.conditions.references:
        return []
    species = {ls.name for ls in study.ligands} | {v.replace_with for v in study.variants}
    species |= {g for f in study.facets for g in f.growth_species}
    species |= {cl.name for cl in study.custom_ligands}
    if study.defects:
        species |= set(study.defects.ligands)
    elements = set()
    for spec in (study.core, study.shell):
        try:
            comp = get_compound(spec.material, "material") if spec else None
        except SpecError:
            continue  # reported by the material checks
        if comp is not None:
            elements |= {*comp.cations, comp.anion}
    return reference_problems(study, species, elements)


class _LigandNames:
    """Resolves ligand names of a study (custom ligands first, then the library),
    collecting a problem for each unknown name once per place it is used."""

    def __init__(self, study: Study) -> None:
        self.custom = {cl.name: cl for cl in study.custom_ligands}
        self.known: dict[str, Ligand] = {}
        self.problems: list[Problem] = []

    def take(self) -> list[Problem]:
        """The problems noted since the last call."""
        out, self.problems = self.problems, []
        return out

    def resolve(self, name: str, path: str) -> Ligand | None:
        """The library ligand ``name`` (None: a custom ligand, or unknown: noted)."""
        if name in self.custom:
            return None
        if name not in self.known:
            try:
                self.known[name] = get_ligand(name, path=path)
            except SpecError as exc:
                self.problems += exc.problems
                return None
        return self.known[name]

    def modes(self, name: str, ligand: Ligand | None) -> list[str] | None:
        """The binding modes of a ligand (None: not known before it is built)."""
        if name in self.custom:
            return self.custom[name].modes
        return list(ligand.modes) if ligand is not None else None

    def footprint(self, name: str, ligand: Ligand | None) -> int:
        """Surface cations one ligand occupies (1 when unknown)."""
        if name in self.custom:
            return self.custom[name].footprint
        return ligand.footprint if ligand is not None else 1


def _compounds(study: Study) -> list[Compound]:
    """The study's core and shell compounds that the materials table knows."""
    names = (study.core.material, study.shell.material if study.shell else None)
    return [get_compound(m) for m in names if m and m in compound_names()]


def _material_problems(study: Study) -> list[Problem]:
    problems: list[Problem] = []
    places = [("core.material", study.core.material)]
    if study.shell:
        places.append(("shell.material", study.shell.material))
    for path, name in places:
        try:
            get_compound(name, path=path)
        except SpecError as exc:
            problems += exc.problems
    return problems


def _custom_ligand_problems(study: Study, base_dir: Path) -> list[Problem]:
    problems: list[Problem] = []
    for k, cl in enumerate(study.custom_ligands):
        if not (base_dir / cl.file).is_file():
            problems.append(Problem(f"custom_ligands.{k}.file", "file not found", cl.file))
        for m in cl.modes or []:
            if m not in MODES:
                problems.append(Problem(f"custom_ligands.{k}.modes", "unknown binding mode",
                                        m, ", ".join(MODES)))
    return problems


def _sweep_problems(study: Study, ligands: _LigandNames) -> list[Problem]:
    """Each swept ligand: known, coverages within full coverage (theta x footprint <= 1),
    a binding mode it has."""
    problems: list[Problem] = []
    for k, ls in enumerate(study.ligands):
        lig = ligands.resolve(ls.name, f"ligands.{k}.name")
        problems += ligands.take()
        fp = ligands.footprint(ls.name, lig)
        for j, theta in enumerate(ls.coverages):
            if theta * fp > 1 + 1e-9:
                problems.append(Problem(f"ligands.{k}.coverages.{j}", f"coverage exceeds full "
                                        f"coverage for a ligand of footprint {fp}", theta,
                                        f"0 < theta <= {1 / fp:g}"))
        modes = ligands.modes(ls.name, lig)
        if ls.mode and modes is not None and ls.mode not in modes:
            problems.append(Problem(f"ligands.{k}.mode", "binding mode not available for "
                                    "this ligand", ls.mode, ", ".join(modes)))
    return problems


def _facet_species_problems(study: Study, ligands: _LigandNames) -> list[Problem]:
    """Growth species known; coverage and mode overrides only for species the study uses."""
    problems: list[Problem] = []
    sweep = {ls.name for ls in study.ligands}
    additives = {v.replace_with for v in study.variants}
    compounds = _compounds(study)
    for i, f in enumerate(study.facets):
        for name in f.growth_species:
            if name not in ligands.custom:
                try:
                    growth_species(name, compounds, f"facets.{i}.growth_species")
                except SpecError as exc:
                    problems += exc.problems
        for name in (f.coverages or {}):
            if name not in sweep:
                problems.append(Problem(f"facets.{i}.coverages.{name}", "coverage override "
                                        "for a ligand that is not in ligands", name,
                                        ", ".join(sorted(sweep)) or "(no ligands)"))
        for name in (f.modes or {}):
            if name not in sweep | additives | set(f.growth_species):
                problems.append(Problem(f"facets.{i}.modes.{name}", "mode given for a species "
                                        "the study does not use", name))
    return problems


def _delta_mu_problems(study: Study) -> list[Problem]:
    """``analysis.delta_mu`` names chemical potentials the study has."""
    known = {ls.name for ls in study.ligands} | {v.replace_with for v in study.variants}
    for comp in _compounds(study):
        known |= set(comp.cations) | {comp.anion}
    return [Problem(f"analysis.delta_mu.{name}", "no chemical potential of that name in "
                    "this study", name, ", ".join(sorted(known)))
            for name in study.analysis.delta_mu if name not in known]


def _placement_problems(study: Study) -> list[Problem]:
    """``ligands[].facets`` name facets of the study; ``replaces`` an element of the slab."""
    problems: list[Problem] = []
    labels = [f.label for f in study.facets]
    species = {el for comp in _compounds(study) for el in comp.species}
    for k, ls in enumerate(study.ligands):
        for j, lab in enumerate(ls.facets or []):
            if lab not in labels:
                problems.append(Problem(f"ligands.{k}.facets.{j}", "no facet of that label",
                                        lab, ", ".join(labels)))
        if ls.replaces and species and ls.replaces not in species:
            problems.append(Problem(f"ligands.{k}.replaces", "not an element of the slab",
                                    ls.replaces, ", ".join(sorted(species))))
    return problems


def _defect_problems(study: Study, ligands: _LigandNames) -> list[Problem]:
    """The ``defects`` section: facets of the study, kinds of elements of the slab listed
    once, known ligands, symmetric slabs."""
    d = study.defects
    if d is None:
        return []
    problems: list[Problem] = []
    labels = [f.label for f in study.facets]
    species = {el for comp in _compounds(study) for el in comp.species}
    for j, lab in enumerate(d.facets or []):
        if lab not in labels:
            problems.append(Problem(f"defects.facets.{j}", "no facet of that label", lab,
                                    ", ".join(labels)))
    for j, kind in enumerate(d.kinds):
        el = kind[2:] if kind.startswith("V_") else kind[:-4]
        if species and el not in species:
            problems.append(Problem(f"defects.kinds.{j}", f"{el} is not an element of the "
                                    "slab", kind, ", ".join(f"V_{x}, {x}_int"
                                                            for x in sorted(species))))
    if len(set(d.kinds)) != len(d.kinds):
        problems.append(Problem("defects.kinds", "a defect kind is listed twice", d.kinds))
    for j, name in enumerate(d.ligands):
        ligands.resolve(name, f"defects.ligands.{j}")
    problems += ligands.take()
    return problems + _asymmetric_defect_problems(study)


def _asymmetric_defect_problems(study: Study) -> list[Problem]:
    """Defects are built on symmetric slabs only (``FacetSpec.is_symmetric``)."""
    d = study.defects
    tetra = (study.core.material in compound_names()
             and get_compound(study.core.material).tetrahedral)
    return [Problem(f"facets.{i}.symmetric", "defects are built on symmetric slabs (the "
                    "defect and its image on both faces)", f.symmetric, "true, or list the "
                    "other facets in defects.facets")
            for i, f in enumerate(study.facets)
            if (d.facets is None or f.label in d.facets) and not f.is_symmetric(tetra)]


def _electronic_problems(study: Study) -> list[Problem]:
    """``analysis.electronic`` needs an engine that stores an electronic structure."""
    if study.analysis.electronic_spec is None or study.engine.name in ELECTRONIC_ENGINES:
        return []
    why = ("the ML potential has no electrons" if study.engine.name == "mlip"
           else f"the {study.engine.name} engine does not store one yet")
    return [Problem("analysis.electronic", f"an electronic analysis needs a DFT engine "
                    f"that stores eigenvalues, projections and the potential ({why}); "
                    f"engine.name is {study.engine.name}", study.analysis.electronic,
                    ", ".join(ELECTRONIC_ENGINES))]
