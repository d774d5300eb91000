"""A built structure: its record (``facetflow.records.structure.StructureRecord``) and its
atoms, and the one function that makes both from an ``ase.Atoms``."""

from __future__ import annotations

from dataclasses import dataclass

from ase import Atoms

from facetflow.records.structure import StructureRecord
from facetflow.structures.ids import structure_file


@dataclass(frozen=True)
class BuiltStructure:
    """One structure of a study: what is known of it (``record``) and its atoms (with the
    per-atom arrays of ``facetflow.structures``)."""

    record: StructureRecord
    atoms: Atoms

    @property
    def id(self) -> str:
        return self.record.id


def composition(atoms: Atoms) -> dict[str, int]:
    """Atoms of each element, in order of first appearance."""
    out: dict[str, int] = {}
    for s in atoms.get_chemical_symbols():
        out[s] = out.get(s, 0) + 1
    return out


def pseudo_h_counts(atoms: Atoms) -> dict[str, int]:
    """Pseudo-hydrogen by valence charge (e, as ``"0.75"``) -> number in the cell."""
    charges = atoms.arrays.get("pseudo_h_charge")
    out: dict[str, int] = {}
    if charges is not None:
        for q in charges[charges > 0]:
            key = f"{q:g}"
            out[key] = out.get(key, 0) + 1
    return out


def build(structure_id: str, atoms: Atoms, info: dict | None = None, **fields
          ) -> BuiltStructure:
    """A copy of ``atoms`` named ``structure_id`` (``atoms.info``: the id and ``info``) and
    its record: ``fields`` (``StructureRecord``'s relationships and slab data) plus what is
    read from the atoms (composition, pseudo-H, fixed atoms, file)."""
    atoms = atoms.copy()
    atoms.info = {"facetflow_id": structure_id, **(info or {})}
    area = fields.pop("area_A2", None)
    record = StructureRecord(
        id=structure_id, **fields,
        area_A2=None if area is None else round(area, 6),
        n_atoms=len(atoms), formula=atoms.get_chemical_formula(),
        counts=composition(atoms), pseudo_h=pseudo_h_counts(atoms),
        n_fixed=sum(len(c.index) for c in atoms.constraints if hasattr(c, "index")),
        file=structure_file(structure_id))
    return BuiltStructure(record, atoms)
