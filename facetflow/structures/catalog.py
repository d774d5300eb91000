"""Every structure of a study, in a deterministic order, with its record.

Roles (``facetflow.records.structure.Role``)
--------------------------------------------
``bare``       the core slab of a facet (reference for the shell and ligands, eq. 3)
``shell``      the shell-capped slab without ligands (theta = 0)
``ligands``    a symmetry-unique arrangement of the swept ligand at coverage theta
``variant``    one ligand of an arrangement replaced by an additive (F, HF, ...)
``binding``    one ligand removed (``variant: vacancy``) or replaced by a growth species
               (Se, ZnSe): E_b(A) = E(replaced by A) - E(vacancy) - mu_A; each such
               structure names its vacancy in ``vacancy``
``defect``     a point defect (``defects`` section) at a symmetry-unique position
``defect_ligand``     the defect with a ligand bound at the site nearest to it
``defect_reference``  the pristine slab with that ligand at that site (E_f reference)
``reference``  bulk and molecular references for chemical potentials
``passivation``  pseudo-H passivated slabs (energy per pseudo-H, asymmetric slabs)

A ligand with ``replaces: X`` takes the place of a surface atom X (removed); its vacancy
structure lacks both the ligand and X.

For symmetric slabs every adsorbate, replacement and vacancy is applied to both faces.
Ids come from ``facetflow.structures.ids``; relationships are record fields.
"""

from __future__ import annotations

from pathlib import Path

from facetflow.errors import Problem, SpecError
from facetflow.records.plan import Optimum
from facetflow.records.study import FacetSpec, LigandSpec, Study
from facetflow.structures.built import BuiltStructure
from facetflow.structures.context import StudyContext, facet_request, resolve
from facetflow.structures.coverage import adsorbates_of, decorate, enumerate_arrangements
from facetflow.structures.facet_build import FacetBuild, LigandArrangement
from facetflow.structures.ids import arrangement_id, slab_id
from facetflow.structures.ligand_changes import defect_structures, replacements
from facetflow.structures.reference_set import passivation_structures, reference_structures
from facetflow.structures.slab import build_facet_slabs


def build_catalog(study: Study, base_dir: Path = Path("."),
                  optimum: Optimum | None = None) -> list[BuiltStructure]:
    """All structures of ``study``; raises ``SpecError`` (nothing built) on any problem.

    With ``binding.coverages: optimal`` the binding structures (one ligand removed; a
    growth species in its place) belong to the arrangement at theta*, which is known only
    once the coverage sweep is computed: ``optimum`` maps facet label -> ligand -> the id
    of that arrangement's structure (``deferred_binding``); without it they are left out
    (the first stage of a run)."""
    ctx = resolve(study, base_dir)
    out: list[BuiltStructure] = []
    problems: list[Problem] = []
    for i, f in enumerate(study.facets):
        try:
            out += _facet_structures(ctx, i, f, (optimum or {}).get(f.label, {}), problems)
        except SpecError as exc:
            for p in exc.problems:
                p.path = p.path if p.path.startswith("facets") else f"facets.{i}.{p.path}"
            problems += exc.problems
    if problems:
        raise SpecError(problems)
    if study.workflow.bulk_references and any(
            not s.record.symmetric for s in out if s.record.role == "bare"):
        # (the pseudo-H energies they give need the bulk chemical potentials too)
        out += passivation_structures(ctx.core, study.slab.vacuum)
    return out + reference_structures(ctx)


def deferred_binding(study: Study) -> bool:
    """Whether the study's binding structures wait for theta* (a second stage of the run):
    ``binding.coverages: optimal`` and some ligand sweep that binding structures follow."""
    return study.binding.coverages == "optimal" and bool(study.ligands)


def _facet_structures(ctx: StudyContext, index: int, f: FacetSpec, optimum: dict[str, str],
                      problems: list[Problem]) -> list[BuiltStructure]:
    """The facet's slabs, ligand sweeps (with their replacements) and defects."""
    slabs = build_facet_slabs(facet_request(ctx, f), path=f"facets.{index}")
    fb = FacetBuild(ctx, f, index, slabs.capped or slabs.bare,
                    slab_id(f.label, slabs.capped is not None), optimum)
    bare = slabs.bare
    out = [fb.slab_structure(slab_id(f.label, False), bare, "bare")]
    if slabs.capped is not None:
        out.append(fb.slab_structure(fb.slab_id, slabs.capped, "shell", theta=0.0,
                                     parent=out[0].id))
    for k, ls in enumerate(ctx.study.ligands):
        if ls.facets is None or f.label in ls.facets:
            out += _sweep(fb, k, ls, problems)
    defects = ctx.study.defects
    if defects and (defects.facets is None or f.label in defects.facets):
        out += defect_structures(fb)
    return out


def _sweep(fb: FacetBuild, k: int, ls: LigandSpec, problems: list[Problem]
           ) -> list[BuiltStructure]:
    """Ligand ``ls`` (``ligands.k``) at each of its coverages on the facet: up to
    ``enumeration.max_configurations`` symmetry-unique arrangements each, most uniform
    first, each followed by its replacements; a coverage that cannot be built is a
    problem (collected)."""
    f = fb.spec
    overridden = bool(f.coverages) and ls.name in f.coverages
    cov_path = f"facets.{fb.index}.coverages.{ls.name}" if overridden else \
        f"ligands.{k}.coverages"
    grid = fb.grid(ls.name, ls.mode, f"ligands.{k}.mode", ls.replaces)
    out: list[BuiltStructure] = []
    for theta in (f.coverages or {}).get(ls.name, ls.coverages):
        n = fb.ligands_at(theta, ls.name, cov_path, problems)
        if n is None:
            continue
        enum = enumerate_arrangements(grid, n)
        if not enum.unique:
            problems.append(Problem(cov_path, f"no sterically allowed arrangement of {n} "
                                    f"{ls.name} ({grid.mode}) on the {f.label} supercell",
                                    theta, "a lower coverage or a larger supercell"))
            continue
        note = (f"{enum.raw_count} raw arrangements, {len(enum.unique)} symmetry-unique, "
                f"mode {grid.mode}" + (f", each in place of a surface {ls.replaces}"
                                       if ls.replaces else ""))
        kept = enum.unique[: fb.ctx.study.enumeration.max_configurations]
        for c, found in enumerate(kept):
            arr = LigandArrangement(arrangement_id(f.label, ls.name, theta, c), ls.name, theta, c,
                              grid, found)
            notes = [note]
            changed = replacements(fb, arr, notes)
            atoms = decorate(fb.slab, adsorbates_of(grid, found))
            out.append(fb.structure(arr.id, atoms, "ligands", [grid.ligand] * n,
                                    ligand=ls.name, theta=theta, n_ligands=n,
                                    parent=fb.slab_id, multiplicity=found.multiplicity,
                                    notes=notes))
            out += changed
    return out
