"""Reference structures for chemical potentials: bulk compounds (per formula unit),
elemental bulk metals (cation-rich limit) and gas-phase molecules.

Reference keys are strings: ``bulk:<compound or element>`` or a molecule name from the
ligand library's ``molecules:`` table.
"""

from __future__ import annotations

from ase import Atoms

from facetflow.errors import SpecError
from facetflow.structures.bulk import element_bulk, primitive_cell
from facetflow.structures.ligands import get_molecule, molecule_names
from facetflow.structures.materials import (
    Compound,
    compound_names,
    element_names,
    get_compound,
    get_element,
)

MOLECULE_BOX = 15.0  # Å, cubic box around a gas-phase molecule


def reference_atoms(key: str, overrides: dict[str, Compound] | None = None) -> Atoms:
    """The structure behind a reference key (bulk: periodic primitive cell; molecule: in a box)."""
    overrides = overrides or {}
    if key.startswith("bulk:"):
        name = key[5:]
        if name in overrides:
            return primitive_cell(overrides[name])
        if name in compound_names():
            return primitive_cell(get_compound(name))
        if name in element_names():
            return element_bulk(get_element(name))
        raise SpecError.single("reference", "unknown bulk reference", key,
                               [f"bulk:{n}" for n in compound_names() + element_names()])
    if key in molecule_names():
        mol = get_molecule(key).atoms()
        mol.center(vacuum=MOLECULE_BOX / 2)
        mol.cell = [MOLECULE_BOX] * 3
        mol.center()
        mol.pbc = True
        return mol
    raise SpecError.single("reference", "unknown reference", key, molecule_names())


def formula_units(atoms: Atoms, compound: Compound) -> int:
    """Formula units of ``compound`` in a bulk cell."""
    return atoms.get_chemical_symbols().count(compound.anion) // (
        3 if compound.structure == "perovskite" else 1)
