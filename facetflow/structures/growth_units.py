"""Growth species of a study, tied to the study's own compound.

* The **neutral growth unit** of a binary compound MX (CdSe, ZnS, InP, ...): one formula
  unit lying flat on the surface, M and X at z = 0 a bulk bond length apart (the shortest
  cation-anion distance of the compound's primitive cell, Å). M binds a surface anion, X
  a surface cation (binding mode ``bridging``), formal charge 0, and its chemical
  potential is the bulk per formula unit: mu_MX = E(MX, bulk).
* The **anion adatom** of the study's compound (Se on CdSe, S on ZnS): the library's
  adatom with its chemical potential in the cation-rich limit of that compound,
  mu_X = E(MX, bulk) - E(M, bulk metal), so that a reference tied to one compound (ZnSe)
  never enters a study of another (CdSe).

The growing compound is the shell when the study has one, else the core; a growth unit
named by the formula of a compound the study does not contain is referenced to that
compound's table entry (the one named exactly by the formula when there is one). A name
of the ligand library that is not such a formula (``ZnSe`` itself, which the library
keeps with its own geometry) stays as the library has it.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from facetflow.errors import SpecError
from facetflow.structures.bulk import primitive_cell
from facetflow.structures.ligands import Ligand, get_ligand, ligand_names
from facetflow.structures.materials import (
    Compound,
    compound_names,
    element_names,
    get_compound,
)


def formula_of(compound: Compound) -> str:
    """``CdSe`` for CdSe_wz: the binary's cation and anion (perovskites: A, B, X3)."""
    if len(compound.cations) != 1:
        return "".join(compound.cations) + compound.anion + "3"
    return compound.cation + compound.anion


def bond_length(compound: Compound) -> float:
    """Shortest cation-anion distance in the bulk (Å)."""
    cell = primitive_cell(compound)
    sym = np.array(cell.get_chemical_symbols())
    cat = [i for i, s in enumerate(sym) if s in compound.cations]
    an = [i for i, s in enumerate(sym) if s == compound.anion]
    return float(min(cell.get_distance(i, j, mic=True) for i in cat for j in an))


def growth_unit(compound: Compound) -> Ligand:
    """The neutral growth unit MX of a binary compound (see module docstring)."""
    if len(compound.cations) != 1:
        raise SpecError.single("growth_species", "a neutral growth unit is built for binary "
                               "compounds", compound.name)
    half = bond_length(compound) / 2
    return Ligand(
        name=formula_of(compound), symbols=(compound.cation, compound.anion),
        positions=np.array([[-half, 0.0, 0.0], [half, 0.0, 0.0]]), anchors=(0, 1),
        anchor_species=("anion", "cation"), modes=("bridging",), kind="growth", charge=0,
        footprint=1, reference={f"bulk:{compound.name}": 1.0},
        description=f"{formula_of(compound)} formula unit, neutral growth unit of "
                    f"{compound.name}")


def _compound_with_formula(formula: str, study_compounds: list[Compound]) -> Compound | None:
    """The study's compound of that formula, else the table's (exact name first)."""
    for c in study_compounds:
        if formula_of(c) == formula:
            return c
    table = [get_compound(n) for n in compound_names()]
    named = [c for c in table if c.name == formula]
    others = [c for c in table if formula_of(c) == formula]
    return (named or others or [None])[0]


def growth_species(name: str, study_compounds: list[Compound], path: str = "growth_species"
                   ) -> Ligand:
    """The growth species ``name`` of a study whose compounds are ``study_compounds``
    (the growing one last: core, then shell): a library ligand, a neutral growth unit
    named by a compound formula, or the anion adatom referenced to the growing
    compound."""
    growing = study_compounds[-1] if study_compounds else None
    if name in ligand_names():
        lig = get_ligand(name, path)
        if (growing is not None and lig.kind == "X2" and lig.symbols == (growing.anion,)
                and len(growing.cations) == 1 and growing.cation in element_names()):
            return replace(lig, reference={f"bulk:{growing.name}": 1.0,
                                           f"bulk:{growing.cation}": -1.0})
        return lig
    compound = _compound_with_formula(name, study_compounds)
    if compound is None:
        raise SpecError.single(path, "unknown growth species", name, ligand_names() + [
            "or a compound formula of the materials table (neutral growth unit)"])
    return growth_unit(compound)
