"""The reference structures of a study: bulk crystals and molecules that give chemical
potentials, and the pseudo-H passivated slabs that give the energy per pseudo-H of each
host element (pseudo-H chemical-potential method, Zhang et al., Sci. Rep. 6, 20055, 2016).
"""

from __future__ import annotations

from ase import Atoms
from ase.constraints import FixAtoms

from facetflow.records.structure import Role, miller_label
from facetflow.structures.built import BuiltStructure, build
from facetflow.structures.context import StudyContext
from facetflow.structures.electrons import electron_count
from facetflow.structures.ids import passivation_id, reference_id
from facetflow.structures.materials import Compound, element_names, element_reference_key
from facetflow.structures.references import MOLECULE_BOX, reference_atoms
from facetflow.structures.slab import SlabRequest, build_facet_slabs

PASSIVATION_MONOLAYERS = 4


def passivation_facet(core: Compound) -> tuple[int, ...]:
    """The facet family of the pseudo-H reference slabs: {100} of zincblende (two bonds
    cut per surface atom on both faces), (0001) of wurtzite (whose pure cation and anion
    planes lie only along c: one bond cut per atom on one face, three on the other)."""
    return (0, 0, 0, 1) if core.structure == "wurtzite" else (1, 0, 0)


def passivation_structures(core: Compound, vacuum: float) -> list[BuiltStructure]:
    """Reference slabs for the energy of pseudo-H passivated faces: 1x1 slabs of the core
    on ``passivation_facet`` (``vacuum`` in Å), cation- and anion-terminated on both
    faces, pseudo-H of charge (8 - v)/4 on every cut bond of both faces, every atom fixed
    (bulk-like, as the passivated bottom of an asymmetric slab is). Each gives eps_host =
    (E - sum n_i mu_i) / N_H (eV) for the pseudo-H bonded to one host element."""
    out = []
    facet = passivation_facet(core)
    for term in (*core.cations, core.anion):
        req = SlabRequest(compound=core, miller=facet, monolayers=PASSIVATION_MONOLAYERS,
                          vacuum=vacuum, termination=term, symmetric=True,
                          passivate_both=True)
        slab = build_facet_slabs(req, path="passivation").bare
        atoms = slab.atoms
        atoms.set_constraint(FixAtoms(indices=list(range(len(atoms)))))
        ec = electron_count(atoms, dict(core.oxidation_states), set(slab.cations),
                            set(slab.anions), {}, slab.n_surface_cations, 2, core.tetrahedral)
        out.append(build(passivation_id(term, miller_label(facet)), atoms,
                         role=Role.PASSIVATION,
                         termination=term, symmetric=True, area_A2=slab.area, n_faces=2,
                         n_surface_cations=slab.n_surface_cations, electron_count=ec,
                         notes=["all atoms fixed; pseudo-H on both faces", *slab.notes]))
    return out


def reference_keys(ctx: StudyContext) -> list[str]:
    """Bulk core and shell, the cation metals (cation-rich limit), and every key named in
    the references of the ligands, additives and growth species; with defects or the
    anion-rich limit the elemental reference of every species. Without bulk references
    (``workflow.bulk_references: false``) molecules only."""
    keys = {f"bulk:{ctx.core.name}"}
    keys |= {f"bulk:{c}" for c in ctx.core.cations if c in element_names()}
    if ctx.shell:
        keys.add(f"bulk:{ctx.shell.name}")
        keys |= {f"bulk:{c}" for c in ctx.shell.cations if c in element_names()}
    for lig in ctx.ligands.values():  # mu:<element> is a limit of the study's compounds
        keys |= {k for k in lig.reference if not k.startswith("mu:")}
    study = ctx.study
    if study.defects or study.conditions.limit == "anion-rich":
        # elemental references of every species (both limits; E_f of vacancies and
        # interstitials): metals as bulk, molecular elements (S8) as molecules
        for comp in (ctx.core, ctx.shell):
            for el in (comp.species if comp else ()):
                key = element_reference_key(el)
                if key:
                    keys.add(key)
    if not study.workflow.bulk_references:  # binding-energy checks: molecules only
        keys = {k for k in keys if not k.startswith("bulk:")}
    return sorted(keys)


def reference_structures(ctx: StudyContext) -> list[BuiltStructure]:
    """One structure per key of ``reference_keys``, in their order."""
    out = []
    overrides = {ctx.core.name: ctx.core}
    for key in reference_keys(ctx):
        if key in ctx.molecules:
            atoms = _boxed(ctx.molecules[key])
        else:
            atoms = reference_atoms(key, overrides)
        out.append(build(reference_id(key), atoms, role=Role.REFERENCE, reference=key))
    return out


def _boxed(molecule: Atoms) -> Atoms:
    """A molecule centred in the reference box (as ``reference_atoms`` makes them)."""
    mol = Atoms(molecule.get_chemical_symbols(), positions=molecule.positions)
    mol.cell = [MOLECULE_BOX] * 3
    mol.center()
    mol.pbc = True
    return mol
