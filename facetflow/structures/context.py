"""A study resolved against the materials table and the ligand library, and what the
analysis needs of it (``study.json``, ``facetflow.records.context``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from ase import Atoms
from ase.io import read

from facetflow.errors import Problem, SpecError
from facetflow.records.context import AnalysisContext, CompoundInfo, EngineChoice, LigandInfo
from facetflow.records.study import FacetSpec, Study
from facetflow.structures.bulk import primitive_cell
from facetflow.structures.growth_units import growth_species
from facetflow.structures.ligands import Ligand, get_ligand, ligand_from_xyz, molecule_names
from facetflow.structures.materials import Compound, get_compound
from facetflow.structures.references import formula_units
from facetflow.structures.slab import SlabRequest


@dataclass
class StudyContext:
    """Resolved materials and ligands of a study."""

    study: Study
    core: Compound
    shell: Compound | None
    ligands: dict[str, Ligand]
    molecules: dict[str, Atoms] = field(default_factory=dict)
    """Reference molecules of custom ligands that name themselves in ``reference``."""


def resolve(study: Study, base_dir: Path) -> StudyContext:
    """The study's compounds and every ligand it names (custom ones read from their XYZ
    files, relative to ``base_dir``)."""
    core = get_compound(study.core.material, "core.material").with_lattice(study.core.a,
                                                                           study.core.c)
    shell = get_compound(study.shell.material, "shell.material") if study.shell else None
    ligands: dict[str, Ligand] = {}
    molecules: dict[str, Atoms] = {}
    for k, cl in enumerate(study.custom_ligands):
        ligands[cl.name] = ligand_from_xyz(
            cl.name, base_dir / cl.file, cl.anchors, kind=cl.kind, charge=cl.charge,
            footprint=cl.footprint, modes=cl.modes, anchor_species=cl.anchor_species,
            reference=cl.reference, path=f"custom_ligands.{k}")
        if cl.name in cl.reference:  # the molecule of the XYZ file is its own reference
            molecules[cl.name] = read(str(base_dir / cl.file))
    names = {ls.name for ls in study.ligands} | {v.replace_with for v in study.variants}
    growth = {name for f in study.facets for name in f.growth_species} - set(ligands)
    if study.defects:
        names |= set(study.defects.ligands)
    compounds = [c for c in (core, shell) if c is not None]
    for name in sorted(growth):
        ligands[name] = growth_species(name, compounds)
    for name in sorted(names - set(ligands)):
        ligands[name] = get_ligand(name)
    ligands = with_references(study, ligands, [core, *([shell] if shell else [])])
    return StudyContext(study, core, shell, ligands, molecules)


def with_references(study: Study, ligands: dict[str, Ligand], compounds: list[Compound]
                    ) -> dict[str, Ligand]:
    """``ligands`` with the reactions of ``conditions.references`` in place of the
    library's (``SpecError`` for the problems of ``reference_problems``)."""
    elements = {el for c in compounds for el in (*c.cations, c.anion)}
    problems = reference_problems(study, set(ligands), elements)
    if problems:
        raise SpecError(problems)
    out = dict(ligands)
    for species, reaction in study.conditions.references.items():
        out[species] = replace(ligands[species], reference=dict(reaction))
    return out


def reference_problems(study: Study, species: set[str], elements: set[str]
                       ) -> list[Problem]:
    """Problems of ``conditions.references``: a species that is not a ligand, additive or
    growth species of the study (``species``), or a key that names no molecule of the
    library, bulk crystal (``bulk:``) or element of the study's compounds (``mu:``)."""
    allowed = [*molecule_names(), "bulk:<compound or element>",
               *(f"mu:{el}" for el in sorted(elements))]
    problems = []
    for name, reaction in study.conditions.references.items():
        where = f"conditions.references.{name}"
        if name not in species:
            problems.append(Problem(where, "not a ligand, additive or growth species of "
                                    "this study", name, ", ".join(sorted(species))))
        for key in reaction:
            known = (key in molecule_names() or key.startswith("bulk:")
                     or (key.startswith("mu:") and key[3:] in elements))
            if not known:
                problems.append(Problem(where, "unknown reference", key, ", ".join(allowed)))
    return problems


def facet_request(ctx: StudyContext, f: FacetSpec) -> SlabRequest:
    """The slab request of facet ``f``: the facet's overrides, else the study's defaults."""
    s = ctx.study
    termination = f.termination or (s.shell.termination if s.shell else None)
    return SlabRequest(
        compound=ctx.core, miller=tuple(f.miller),
        monolayers=f.monolayers or s.slab.monolayers,
        supercell=f.supercell_matrix, vacuum=f.vacuum or s.slab.vacuum,
        termination=termination, symmetric=f.is_symmetric(ctx.core.tetrahedral),
        shell=ctx.shell, shell_monolayers=s.shell.monolayers if s.shell else 0,
        fixed_monolayers=f.fixed_monolayers if f.fixed_monolayers is not None
        else s.slab.fixed_monolayers)


def compound_info(c: Compound) -> CompoundInfo:
    """What analysis needs of a compound: species roles and the formula unit."""
    cell = primitive_cell(c)
    n_fu = formula_units(cell, c)
    fu: dict[str, float] = {}
    for sym in cell.get_chemical_symbols():
        fu[sym] = fu.get(sym, 0) + 1.0 / n_fu
    return CompoundInfo(name=c.name, structure=c.structure, cations=list(c.cations),
                        anion=c.anion, a=c.a, formula_unit=fu)


def ligand_info(lig: Ligand) -> LigandInfo:
    """What analysis needs of a ligand: composition, kind, footprint, reaction, charge."""
    return LigandInfo(symbols=list(lig.symbols), kind=lig.kind, footprint=lig.footprint,
                      reference=dict(lig.reference), charge=lig.charge)


def analysis_context(ctx: StudyContext, engine: EngineChoice | None = None,
                     compare_with: dict | None = None) -> AnalysisContext:
    """The resolved study as ``study.json`` holds it (``engine``: the plan's engine and
    the study's settings for it; ``compare_with``: the findings to set beside the run)."""
    return AnalysisContext(
        study=ctx.study, core=compound_info(ctx.core),
        shell=compound_info(ctx.shell) if ctx.shell else None,
        ligands={name: ligand_info(lig) for name, lig in ctx.ligands.items()},
        engine=engine, compare_with=compare_with)
