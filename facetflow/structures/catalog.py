"""Every structure of a study, in a deterministic order, with its metadata.

Roles
-----
``bare``       the core slab of a facet (reference for the shell and ligands, eq. 3)
``shell``      the shell-capped slab without ligands (theta = 0)
``ligands``    a symmetry-unique arrangement of the swept ligand at coverage theta
``variant``    one ligand of an arrangement replaced by an additive (F, HF, ...)
``binding``    one ligand removed (``variant: vacancy``) or replaced by a growth species
               (Se, ZnSe): E_b(A) = E(replaced by A) - E(vacancy) - mu_A
``defect``     a point defect (``defects`` section) at a symmetry-unique position
``defect_ligand``     the defect with a ligand bound at the site nearest to it
``defect_reference``  the pristine slab with that ligand at that site (E_f reference)
``reference``  bulk and molecular references for chemical potentials

A ligand with ``replaces: X`` takes the place of a surface atom X (removed); its vacancy
structure lacks both the ligand and X.

For symmetric slabs every adsorbate, replacement and vacancy is applied to both faces.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ase import Atoms
from ase.constraints import FixAtoms

from facetflow.errors import Problem, SpecError
from facetflow.structures.coverage import (
    Arrangement,
    SiteGrid,
    adsorbates_of,
    decorate,
    enumerate_arrangements,
    n_ligands_for,
    replacement,
    stabilizer_orbits,
)
from facetflow.structures.electrons import electron_count
from facetflow.structures.ligands import Ligand, get_ligand, ligand_from_xyz
from facetflow.structures.materials import Compound, get_compound
from facetflow.structures.references import reference_atoms
from facetflow.structures.sites import choose_mode
from facetflow.structures.slab import FacetSlabs, Slab, SlabRequest, build_facet_slabs
from facetflow.study import FacetSpec, Study


@dataclass
class StructureRecord:
    """One structure and what the manifest says about it."""

    id: str
    atoms: Atoms
    role: str
    facet: str | None = None
    termination: str | None = None
    ligand: str | None = None
    theta: float | None = None
    n_ligands: int = 0
    variant: str | None = None
    symmetric: bool | None = None
    parent: str | None = None
    multiplicity: int | None = None
    area: float | None = None
    n_faces: int | None = None
    n_surface_cations: int | None = None
    electron_count: dict | None = None
    reference_key: str | None = None
    notes: list[str] = field(default_factory=list)
    defect: str | None = None
    defect_site: dict | None = None
    binding_parent: str | None = None
    """The ligand structure a binding structure belongs to when ``parent`` names another
    (the shared vacancy of ligands that replace a surface atom)."""

    def manifest_entry(self, file: str) -> dict:
        a = self.atoms
        ph = a.arrays.get("pseudo_h_charge")
        pseudo: dict[str, int] = {}
        if ph is not None:
            for q in ph[ph > 0]:
                key = f"{q:g}"
                pseudo[key] = pseudo.get(key, 0) + 1
        fixed = sum(len(c.index) for c in a.constraints if hasattr(c, "index"))
        return {
            "id": self.id, "facet": self.facet, "termination": self.termination,
            "role": self.role, "ligand": self.ligand, "theta": self.theta,
            "n_ligands": self.n_ligands, "variant": self.variant,
            "n_atoms": len(a), "formula": a.get_chemical_formula(),
            "symmetric": self.symmetric, "pseudo_h": pseudo, "file": file,
            "parent": self.parent, "multiplicity": self.multiplicity,
            "area_A2": None if self.area is None else round(self.area, 6),
            "n_faces": self.n_faces, "n_surface_cations": self.n_surface_cations,
            "n_fixed": fixed, "electron_count": self.electron_count,
            "reference": self.reference_key, "notes": self.notes,
            "defect": self.defect, "defect_site": self.defect_site,
            "binding_parent": self.binding_parent,
        }


@dataclass
class StudyContext:
    """Resolved materials and ligands of a study."""

    study: Study
    core: Compound
    shell: Compound | None
    ligands: dict[str, Ligand]
    molecules: dict[str, Atoms] = field(default_factory=dict)
    """Reference molecules of custom ligands that name themselves in ``reference``."""
    optimum: dict[str, dict[str, str]] | None = None
    """Facet label -> ligand -> structure id at theta* (see ``build_catalog``)."""


def compound_dict(c: Compound) -> dict:
    """What analysis needs of a compound: species roles and the formula unit."""
    from facetflow.structures.bulk import primitive_cell
    from facetflow.structures.references import formula_units

    cell = primitive_cell(c)
    n_fu = formula_units(cell, c)
    fu: dict[str, float] = {}
    for sym in cell.get_chemical_symbols():
        fu[sym] = fu.get(sym, 0) + 1.0 / n_fu
    return {"name": c.name, "structure": c.structure, "cations": list(c.cations),
            "anion": c.anion, "a": c.a, "formula_unit": fu}


def context_dict(ctx: StudyContext) -> dict:
    """The resolved study as plain data (written to the work directory for analysis)."""
    s = ctx.study
    return {
        "study": s.model_dump(mode="json"),
        "core": compound_dict(ctx.core),
        "shell": compound_dict(ctx.shell) if ctx.shell else None,
        "ligands": {name: {"symbols": list(lig.symbols), "kind": lig.kind,
                           "footprint": lig.footprint, "reference": dict(lig.reference),
                           "charge": lig.charge}
                    for name, lig in ctx.ligands.items()},
    }


def resolve(study: Study, base_dir: Path) -> StudyContext:
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
            from ase.io import read

            molecules[cl.name] = read(str(base_dir / cl.file))
    names = {ls.name for ls in study.ligands} | {v.replace_with for v in study.variants}
    for f in study.facets:
        names |= set(f.growth_species)
    if study.defects:
        names |= set(study.defects.ligands)
    for name in sorted(names - set(ligands)):
        ligands[name] = get_ligand(name)
    return StudyContext(study, core, shell, ligands, molecules)


def facet_request(ctx: StudyContext, f: FacetSpec) -> SlabRequest:
    s = ctx.study
    tetra_polar111 = ctx.core.tetrahedral and len({abs(i) for i in f.miller}) == 1
    symmetric = f.symmetric if f.symmetric is not None else not tetra_polar111
    termination = f.termination or (s.shell.termination if s.shell else None)
    return SlabRequest(
        compound=ctx.core, miller=f.miller,
        monolayers=f.monolayers or s.slab.monolayers,
        supercell=f.supercell_matrix, vacuum=f.vacuum or s.slab.vacuum,
        termination=termination, symmetric=symmetric,
        shell=ctx.shell, shell_monolayers=s.shell.monolayers if s.shell else 0,
        fixed_monolayers=f.fixed_monolayers if f.fixed_monolayers is not None
        else s.slab.fixed_monolayers)


def build_catalog(study: Study, base_dir: Path = Path("."),
                  optimum: dict[str, dict[str, str]] | None = None) -> list[StructureRecord]:
    """All structures of ``study``; raises ``SpecError`` (nothing built) on any problem.

    With ``binding.coverages: optimal`` the binding structures (one ligand removed; a
    growth species in its place) belong to the arrangement at theta*, which is known only
    once the coverage sweep is computed: ``optimum`` maps facet label -> ligand -> the id
    of that arrangement's structure (``deferred_binding``); without it they are left out
    (the first stage of a run)."""
    ctx = resolve(study, base_dir)
    ctx.optimum = optimum
    records: list[StructureRecord] = []
    problems: list[Problem] = []
    for i, f in enumerate(study.facets):
        try:
            records += _facet_records(ctx, i, f, problems)
        except SpecError as exc:
            for p in exc.problems:
                p.path = p.path if p.path.startswith("facets") else f"facets.{i}.{p.path}"
            problems += exc.problems
    if problems:
        raise SpecError(problems)
    if study.workflow.bulk_references and any(not r.symmetric for r in records
                                              if r.role == "bare"):
        # (the pseudo-H energies they give need the bulk chemical potentials too)
        records += passivation_records(ctx.core, study.slab.vacuum)
    records += _reference_records(ctx)
    return records


PASSIVATION_MONOLAYERS = 4


def deferred_binding(study: Study) -> bool:
    """Whether the study's binding structures wait for theta* (a second stage of the run):
    ``binding.coverages: optimal`` and some ligand sweep that binding structures follow."""
    return study.binding.coverages == "optimal" and bool(study.ligands)


def passivation_records(core: Compound, vacuum: float) -> list[StructureRecord]:
    """Reference slabs for the energy of pseudo-H passivated faces (pseudo-H chemical-
    potential method): symmetric 1x1 {100} slabs of the core, cation- and anion-terminated,
    pseudo-H on both faces, every atom fixed (bulk-like, as the passivated bottom of an
    asymmetric slab is). Each gives eps_host = (E - sum n_i mu_i) / N_H for the pseudo-H
    bonded to one host element."""
    out = []
    for term in (*core.cations, core.anion):
        req = SlabRequest(compound=core, miller=(1, 0, 0), monolayers=PASSIVATION_MONOLAYERS,
                          vacuum=vacuum, termination=term, symmetric=True,
                          passivate_both=True)
        slab = build_facet_slabs(req, path="passivation").bare
        atoms = slab.atoms
        atoms.set_constraint(FixAtoms(indices=list(range(len(atoms)))))
        rid = f"pass_100_{term}"
        atoms.info = {"facetflow_id": rid}
        ec = electron_count(atoms, dict(core.oxidation_states), set(slab.cations),
                            set(slab.anions), {}, slab.n_surface_cations, 2, core.tetrahedral)
        out.append(StructureRecord(id=rid, atoms=atoms, role="passivation",
                                   termination=term, symmetric=True, area=slab.area,
                                   n_faces=2, n_surface_cations=slab.n_surface_cations,
                                   electron_count=ec,
                                   notes=["all atoms fixed; pseudo-H on both faces",
                                          *slab.notes]))
    return out


def _electrons(ctx: StudyContext, slab: Slab, atoms: Atoms, charges: dict[int, int]) -> dict:
    ox = dict(ctx.core.oxidation_states)
    if ctx.shell:
        ox.update(ctx.shell.oxidation_states)
    return electron_count(atoms, ox, set(slab.cations), set(slab.anions), charges,
                          slab.n_surface_cations, slab.n_faces, ctx.core.tetrahedral)


def _charges(atoms: Atoms, species: list[Ligand], n_faces: int) -> dict[int, int]:
    """Formal charge of each adsorbate id (ids run over the top face, then the bottom)."""
    out = {}
    for face in range(n_faces):
        for k, lig in enumerate(species):
            out[face * len(species) + k] = lig.charge
    return out


def _facet_records(ctx: StudyContext, i: int, f: FacetSpec,
                   problems: list[Problem]) -> list[StructureRecord]:
    study = ctx.study
    slabs: FacetSlabs = build_facet_slabs(facet_request(ctx, f), path=f"facets.{i}")
    label = f.label
    out: list[StructureRecord] = []
    bare = slabs.bare
    out.append(_slab_record(ctx, f"{label}_bare", bare, bare.atoms, "bare", label, [], {}))
    slab = slabs.capped or slabs.bare
    if slabs.capped is not None:
        out.append(_slab_record(ctx, f"{label}_shell", slab, slab.atoms, "shell", label, [],
                                {"theta": 0.0, "parent": f"{label}_bare"}))
    modes = f.modes or {}
    grids: dict[tuple[str, str | None], SiteGrid] = {}

    def grid_for(name: str, mode: str | None, path: str, replaces: str | None = None
                 ) -> SiteGrid:
        if (name, replaces) not in grids:
            lig = ctx.ligands[name]
            chosen, sites = choose_mode(slab, lig, modes.get(name) or mode, path=path,
                                        replaces=replaces)
            grids[name, replaces] = SiteGrid(slab, lig, chosen, sites)
        return grids[name, replaces]

    for k, ls in enumerate(study.ligands):
        if ls.facets is not None and label not in ls.facets:
            continue
        lig = ctx.ligands[ls.name]
        cov_path = (f"facets.{i}.coverages.{ls.name}" if f.coverages and ls.name in f.coverages
                    else f"ligands.{k}.coverages")
        thetas = (f.coverages or {}).get(ls.name, ls.coverages)
        grid = grid_for(ls.name, ls.mode, f"ligands.{k}.mode", ls.replaces)
        for theta in thetas:
            try:
                n = n_ligands_for(theta, slab, lig)
            except ValueError as exc:
                allowed = [round(j / slab.n_surface_cations, 6)
                           for j in range(1, slab.n_surface_cations + 1)
                           if j * lig.footprint <= slab.n_surface_cations]
                problems.append(Problem(cov_path, f"{exc} ({slab.n_surface_cations} surface "
                                        f"cations on {label})", theta,
                                        ", ".join(f"{a:g}" for a in allowed)))
                continue
            enum = enumerate_arrangements(grid, n)
            if not enum.unique:
                problems.append(Problem(cov_path, f"no sterically allowed arrangement of {n} "
                                        f"{ls.name} ({grid.mode}) on the {label} supercell",
                                        theta, "a lower coverage or a larger supercell"))
                continue
            kept = enum.unique[: study.enumeration.max_configurations]
            for c, arr in enumerate(kept):
                rid = f"{label}_{ls.name}_t{theta:.3f}_c{c}"
                ads = adsorbates_of(grid, arr)
                atoms = decorate(slab, ads)
                rec = _slab_record(ctx, rid, slab, atoms, "ligands", label, [lig] * n, {
                    "ligand": ls.name, "theta": theta, "n_ligands": n,
                    "parent": f"{label}_shell" if slabs.capped else f"{label}_bare",
                    "multiplicity": arr.multiplicity})
                rec.notes.append(f"{enum.raw_count} raw arrangements, {len(enum.unique)} "
                                 f"symmetry-unique, mode {grid.mode}" +
                                 (f", each in place of a surface {ls.replaces}"
                                  if ls.replaces else ""))
                out.append(rec)
                out += _replacements(ctx, f, slab, grid, arr, rid, theta, ls.name, c == 0,
                                     grid_for, rec.notes)
    if study.defects and (study.defects.facets is None or label in study.defects.facets):
        out += _defect_records(ctx, f, slab, f"{label}_shell" if slabs.capped else
                               f"{label}_bare", grid_for)
    return out


def _defect_records(ctx: StudyContext, f: FacetSpec, slab: Slab, pristine: str, grid_for
                    ) -> list[StructureRecord]:
    """Each defect kind at its symmetry-unique positions, alone and with each of the
    section's ligands bound at the site nearest to it, plus the pristine slab with that
    ligand at that site (the reference of E_f with the ligand)."""
    from facetflow.structures.defects import (
        apply_defect,
        defect_sites,
        ligand_next_to,
        ligand_pair,
    )

    spec = ctx.study.defects
    label = f.label
    out: list[StructureRecord] = []
    for j, kind in enumerate(spec.kinds):
        sites = defect_sites(slab, kind, spec.layers, spec.max_sites)
        if not sites:
            raise SpecError.single(f"defects.kinds.{j}", f"no position for {kind} in the "
                                   f"top {spec.layers} planes of {label}", kind)
        for n, site in enumerate(sites):
            did = f"{label}_{kind}_{n}"
            info = site.as_dict()
            rec = _slab_record(ctx, did, slab, apply_defect(slab, site), "defect", label,
                               [], {"parent": pristine, "defect": kind, "variant": kind,
                                    "defect_site": info,
                                    "multiplicity": site.multiplicity})
            rec.notes.append(f"{kind} in layer {site.layer} from the top, on both faces")
            out.append(rec)
            for m, name in enumerate(spec.ligands):
                grid = grid_for(name, None, f"defects.ligands.{m}")
                k = ligand_next_to(grid, site)
                if k is None:
                    rec.notes.append(f"{name} finds no binding site next to {kind}")
                    continue
                ref, both = ligand_pair(slab, grid, k, site)
                lig = grid.ligand
                site_info = {**info, "ligand_site": int(k), "ligand_mode": grid.mode,
                             "defect_structure": did}
                rid = f"{label}_{kind}_{n}_{name}_ref"
                out.append(_slab_record(ctx, rid, slab, ref, "defect_reference", label, [lig],
                                        {"parent": pristine, "ligand": name, "n_ligands": 1,
                                         "defect": kind, "defect_site": site_info}))
                out.append(_slab_record(ctx, f"{label}_{kind}_{n}_{name}", slab, both,
                                        "defect_ligand", label, [lig],
                                        {"parent": rid, "ligand": name, "n_ligands": 1,
                                         "defect": kind, "variant": kind,
                                         "defect_site": site_info,
                                         "multiplicity": site.multiplicity}))
    return out


def _replacements(ctx, f: FacetSpec, slab: Slab, grid: SiteGrid, arr: Arrangement,
                  parent: str, theta: float, lig_name: str, first: bool, grid_for,
                  notes: list[str]) -> list[StructureRecord]:
    """Variant (F, HF ...) and binding (vacancy, growth species) structures of one
    arrangement: one per symmetry-unique ligand position, up to ``max_replacements``.
    Binding structures are built for the arrangement at theta* (``binding.coverages:
    optimal``, given by ``ctx.optimum``) or, at listed coverages, for the first (most
    uniform) arrangement; a replacement that finds no site is noted on the parent instead."""
    study = ctx.study
    out: list[StructureRecord] = []
    orbits = stabilizer_orbits(grid, arr)[: study.enumeration.max_replacements]
    lig = ctx.ligands[lig_name]
    n = len(arr.sites)
    i = next(k for k, g in enumerate(study.facets) if g.miller == f.miller)
    jobs: list[tuple[str, str, str]] = []
    for k, v in enumerate(study.variants):
        if v.coverages == "all" or any(abs(theta - t) < 1e-9 for t in v.coverages):
            jobs.append(("variant", v.replace_with, f"variants.{k}"))
    bcov = study.binding.coverages
    replacing = any(s.removes for s in grid.sites)
    if replacing and jobs:
        notes.append("variants of a ligand that replaces surface atoms are not built")
        jobs = []
    if bcov == "optimal":
        wanted = (ctx.optimum or {}).get(f.label, {}).get(lig_name) == parent
    else:
        wanted = first and any(abs(theta - t) < 1e-9 for t in bcov)
    if wanted:
        jobs.append(("binding", "vacancy", "binding"))
        for name in f.growth_species:
            if replacing:
                notes.append(f"growth species {name} is not built in place of a ligand that "
                             "replaces surface atoms")
                continue
            jobs.append(("binding", name, f"facets.{i}.growth_species"))
    for role, species, path in jobs:
        for r, orbit in enumerate(orbits):
            pos = orbit[0]
            base = [a for k, a in enumerate(adsorbates_of(grid, arr)) if k != pos]
            # the surface atom a replacing ligand took stays out in its vacancy structure
            freed = grid.sites[arr.sites[pos]].removes
            members = [lig] * (n - 1)
            if species != "vacancy":
                add_grid = grid_for(species, None, path)
                added = replacement(grid, arr, pos, add_grid)
                if added is None:
                    notes.append(f"{species} finds no site in place of ligand {pos}")
                    continue
                base.append(added)
                members = members + [add_grid.ligand]
            atoms = decorate(slab, base, removes=freed)
            tag = "vac" if species == "vacancy" else species
            rid = f"{parent}_{tag}{r}"
            extra = {"ligand": lig_name, "theta": theta, "n_ligands": n - 1,
                     "variant": species, "parent": parent, "multiplicity": len(orbit)}
            if freed and n == 1:
                # the slab less the replaced atoms: the same structure for every ligand
                # that replaces them, relaxed once from the relaxed slab (warm start)
                extra.update(parent=_slab_id(f.label, slab_is_capped(ctx)),
                             binding_parent=parent)
            out.append(_slab_record(ctx, rid, slab, atoms, role, f.label, members, extra))
    return out


def slab_is_capped(ctx: StudyContext) -> bool:
    return ctx.shell is not None and ctx.study.shell is not None and \
        ctx.study.shell.monolayers > 0


def _slab_id(label: str, capped: bool) -> str:
    return f"{label}_shell" if capped else f"{label}_bare"


def _slab_record(ctx: StudyContext, rid: str, slab: Slab, atoms: Atoms, role: str,
                 label: str, species: list[Ligand], extra: dict) -> StructureRecord:
    atoms = atoms.copy()
    atoms.info = {"facetflow_id": rid, "symmetric": slab.symmetric}
    charges = _charges(atoms, species, slab.n_faces)
    rec = StructureRecord(
        id=rid, atoms=atoms, role=role, facet=label, termination=slab.termination,
        symmetric=slab.symmetric, area=slab.area, n_faces=slab.n_faces,
        n_surface_cations=slab.n_surface_cations,
        electron_count=_electrons(ctx, slab, atoms, charges), **extra)
    if role in ("bare", "shell"):
        rec.notes.extend(slab.notes)
    return rec


def reference_keys(ctx: StudyContext) -> list[str]:
    """Bulk core and shell, the cation metals (cation-rich limit), and every key named in
    the references of the ligands, additives and growth species."""
    keys = {f"bulk:{ctx.core.name}"}
    keys |= {f"bulk:{c}" for c in ctx.core.cations if _has_element(c)}
    if ctx.shell:
        keys.add(f"bulk:{ctx.shell.name}")
        keys |= {f"bulk:{c}" for c in ctx.shell.cations if _has_element(c)}
    for lig in ctx.ligands.values():
        keys |= set(lig.reference)
    study = ctx.study
    if study.defects or study.conditions.limit == "anion-rich":
        # elemental references of every species (both limits; E_f of vacancies and
        # interstitials): metals as bulk, molecular elements (S8) as molecules
        from facetflow.structures.materials import element_reference_key

        for comp in (ctx.core, ctx.shell):
            for el in (comp.species if comp else ()):
                key = element_reference_key(el)
                if key:
                    keys.add(key)
    if not study.workflow.bulk_references:  # binding-energy checks: molecules only
        keys = {k for k in keys if not k.startswith("bulk:")}
    return sorted(keys)


def _boxed(molecule: Atoms) -> Atoms:
    """A molecule centred in the reference box (as ``reference_atoms`` makes them)."""
    from facetflow.structures.references import MOLECULE_BOX

    mol = Atoms(molecule.get_chemical_symbols(), positions=molecule.positions)
    mol.cell = [MOLECULE_BOX] * 3
    mol.center()
    mol.pbc = True
    return mol


def _has_element(name: str) -> bool:
    from facetflow.structures.materials import element_names

    return name in element_names()


def _reference_records(ctx: StudyContext) -> list[StructureRecord]:
    out = []
    overrides = {ctx.core.name: ctx.core}
    for key in reference_keys(ctx):
        if key in ctx.molecules:
            atoms = _boxed(ctx.molecules[key])
        else:
            atoms = reference_atoms(key, overrides)
        kind, name = ("bulk", key[5:]) if key.startswith("bulk:") else ("mol", key)
        atoms.info = {"facetflow_id": f"ref_{kind}_{name}"}
        out.append(StructureRecord(id=f"ref_{kind}_{name}", atoms=atoms, role="reference",
                                   reference_key=key))
    return out
