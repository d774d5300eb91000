"""Structures made from a ligand arrangement or a facet's slab by one local change:
one ligand replaced by an additive (variants), removed or replaced by a growth species
(binding structures), and point defects with and without a ligand next to them.

Binding energies (eV) are taken against the vacancy at the same symmetry-unique position:
E_b(A) = E(A in the freed site) - E(vacancy) - mu_A; every replacement names its vacancy
in ``vacancy`` when the binding structures of its arrangement are built.
"""

from __future__ import annotations

from dataclasses import dataclass

from facetflow.errors import SpecError
from facetflow.records.structure import Role
from facetflow.structures.built import BuiltStructure
from facetflow.structures.coverage import (
    adsorbates_of,
    decorate,
    replacement,
    stabilizer_orbits,
)
from facetflow.structures.defects import (
    DefectSite,
    apply_defect,
    defect_sites,
    ligand_next_to,
    ligand_pair,
)
from facetflow.structures.facet_build import FacetBuild, LigandArrangement
from facetflow.structures.ids import (
    defect_id,
    defect_ligand_id,
    defect_reference_id,
    replacement_id,
)

VACANCY = "vacancy"


@dataclass(frozen=True)
class _Change:
    """Replace one ligand by ``species`` (``vacancy``: remove it), named at ``path`` of
    the study."""

    role: Role
    species: str
    path: str


def replacements(fb: FacetBuild, arr: LigandArrangement, notes: list[str]
                 ) -> list[BuiltStructure]:
    """Variant (F, HF ...) and binding (vacancy, growth species) structures of one
    arrangement: one per symmetry-unique ligand position, up to ``max_replacements``.
    Binding structures are built for the arrangement at theta* (``binding.coverages:
    optimal``, given by ``fb.optimum``) or, at listed coverages, for the first (most
    uniform) arrangement; a replacement that is not built is noted in ``notes`` (the
    arrangement's)."""
    changes = _changes(fb, arr, notes)
    binding = any(c.role == Role.BINDING for c in changes)
    orbits = stabilizer_orbits(arr.grid, arr.sites)[
        : fb.ctx.study.enumeration.max_replacements]
    out: list[BuiltStructure] = []
    for change in changes:
        for r, orbit in enumerate(orbits):
            vacancy = replacement_id(arr.id, VACANCY, r) if binding else None
            made = _replaced(fb, arr, change, r, orbit, vacancy, notes)
            if made is not None:
                out.append(made)
    return out


def _binding_wanted(fb: FacetBuild, arr: LigandArrangement) -> bool:
    """Whether the binding structures of ``arr`` are built (see ``replacements``)."""
    coverages = fb.ctx.study.binding.coverages
    if coverages == "optimal":
        return fb.optimum.get(arr.ligand) == arr.id
    return arr.index == 0 and any(abs(arr.theta - t) < 1e-9 for t in coverages)


def _changes(fb: FacetBuild, arr: LigandArrangement, notes: list[str]) -> list[_Change]:
    """The changes made to ``arr``: the study's variants at its coverage, then the
    vacancy and each growth species of the facet when its binding structures are wanted.
    A ligand that replaces surface atoms gets neither variants nor growth species."""
    study = fb.ctx.study
    replacing = any(s.removes for s in arr.grid.sites)
    out = [_Change(Role.VARIANT, v.replace_with, f"variants.{k}")
           for k, v in enumerate(study.variants)
           if v.coverages == "all" or any(abs(arr.theta - t) < 1e-9 for t in v.coverages)]
    if replacing and out:
        notes.append("variants of a ligand that replaces surface atoms are not built")
        out = []
    if not _binding_wanted(fb, arr):
        return out
    out.append(_Change(Role.BINDING, VACANCY, "binding"))
    for name in fb.spec.growth_species:
        if replacing:
            notes.append(f"growth species {name} is not built in place of a ligand that "
                         "replaces surface atoms")
            continue
        out.append(_Change(Role.BINDING, name, f"facets.{fb.index}.growth_species"))
    return out


def _replaced(fb: FacetBuild, arr: LigandArrangement, change: _Change, r: int,
              orbit: list[int], vacancy: str | None, notes: list[str]
              ) -> BuiltStructure | None:
    """``arr`` with the ligand at its ``r``-th symmetry-unique position (``orbit``)
    changed; None (noted) when the new species finds no site there."""
    grid = arr.grid
    n = len(arr.sites.sites)
    pos = orbit[0]
    kept = [a for k, a in enumerate(adsorbates_of(grid, arr.sites)) if k != pos]
    # the surface atom a replacing ligand took stays out in its vacancy structure
    freed = grid.sites[arr.sites.sites[pos]].removes
    members = [grid.ligand] * (n - 1)
    if change.species != VACANCY:
        add_grid = fb.grid(change.species, None, change.path)
        added = replacement(grid, arr.sites, pos, add_grid)
        if added is None:
            notes.append(f"{change.species} finds no site in place of ligand {pos}")
            return None
        kept.append(added)
        members.append(add_grid.ligand)
    fields = {"parent": arr.id, "binding_parent": None}
    if freed and n == 1:
        # the slab less the replaced atoms: the same structure for every ligand that
        # replaces them, relaxed once from the relaxed slab (warm start)
        fields = {"parent": fb.slab_id, "binding_parent": arr.id}
    return fb.structure(
        replacement_id(arr.id, change.species, r), decorate(fb.slab, kept, removes=freed),
        change.role, members, ligand=arr.ligand, theta=arr.theta, n_ligands=n - 1,
        variant=change.species, multiplicity=len(orbit), site=r,
        vacancy=None if change.species == VACANCY else vacancy, **fields)


def defect_structures(fb: FacetBuild) -> list[BuiltStructure]:
    """Each defect kind at its symmetry-unique positions, alone and with each of the
    ``defects`` section's ligands bound at the site nearest to it, plus the pristine slab
    with that ligand at that site (the reference of E_f with the ligand)."""
    spec = fb.ctx.study.defects
    out: list[BuiltStructure] = []
    for j, kind in enumerate(spec.kinds):
        sites = defect_sites(fb.slab, kind, spec.layers, spec.max_sites)
        if not sites:
            raise SpecError.single(f"defects.kinds.{j}", f"no position for {kind} in the "
                                   f"top {spec.layers} planes of {fb.label}", kind)
        for n, site in enumerate(sites):
            out += _defect_at(fb, kind, n, site)
    return out


def _defect_at(fb: FacetBuild, kind: str, n: int, site: DefectSite) -> list[BuiltStructure]:
    """Defect ``kind`` at its ``n``-th position, then for each ligand the pristine slab
    with it next to the defect's place and the defect with it."""
    did = defect_id(fb.label, kind, n)
    notes = [f"{kind} in layer {site.layer} from the top, on both faces"]
    with_ligands: list[BuiltStructure] = []
    for m, name in enumerate(fb.ctx.study.defects.ligands):
        grid = fb.grid(name, None, f"defects.ligands.{m}")
        k = ligand_next_to(grid, site)
        if k is None:
            notes.append(f"{name} finds no binding site next to {kind}")
            continue
        ref, both = ligand_pair(fb.slab, grid, k, site)
        where = {**site.as_dict(), "ligand_site": int(k), "ligand_mode": grid.mode}
        common = {"ligand": name, "n_ligands": 1, "defect": kind, "defect_site": where,
                  "defect_structure": did, "site": n}
        rid = defect_reference_id(did, name)
        with_ligands += [
            fb.structure(rid, ref, Role.DEFECT_REFERENCE, [grid.ligand],
                         parent=fb.slab_id, **common),
            fb.structure(defect_ligand_id(did, name), both, Role.DEFECT_LIGAND,
                         [grid.ligand], parent=rid, variant=kind,
                         multiplicity=site.multiplicity, **common)]
    defect = fb.structure(did, apply_defect(fb.slab, site), Role.DEFECT, [],
                          parent=fb.slab_id, defect=kind, variant=kind,
                          defect_site=site.as_dict(), multiplicity=site.multiplicity,
                          site=n, notes=notes)
    return [defect, *with_ligands]
