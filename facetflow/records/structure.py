"""The record of one structure of a study, and the ``structures/manifest.json`` document.

A structure's relationships are fields, never parts of its id: ``parent`` (the structure it
is made from), ``vacancy`` (the reference of a binding energy), ``defect_structure``,
``binding_parent``, ``reference`` (the key of a reference structure). Ids are made in
``facetflow.structures.ids`` and only compared, never parsed.

Units: lengths in Å, areas in Å², coverage theta in ligands per surface cation of the
outermost layer (per face), charges in e.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from facetflow.jsonfile import write_json_atomic

MANIFEST_SCHEMA = "facetflow.manifest/2"


class Role(StrEnum):
    """What a structure is for (see ``facetflow.structures.catalog``)."""

    BARE = "bare"
    """the core slab of a facet (reference of the shell and ligands, paper eq. 3)"""
    SHELL = "shell"
    """the shell-capped slab without ligands (theta = 0)"""
    LIGANDS = "ligands"
    """a symmetry-unique arrangement of a swept ligand at coverage theta"""
    VARIANT = "variant"
    """one ligand of an arrangement replaced by an additive (F, HF, ...)"""
    BINDING = "binding"
    """one ligand removed (variant ``vacancy``) or replaced by a growth species"""
    DEFECT = "defect"
    """a point defect at a symmetry-unique position"""
    DEFECT_LIGAND = "defect_ligand"
    """the defect with a ligand bound at the site nearest to it"""
    DEFECT_REFERENCE = "defect_reference"
    """the pristine slab with that ligand at that site (the reference of E_f with it)"""
    REFERENCE = "reference"
    """a bulk crystal or molecule giving a chemical potential"""
    PASSIVATION = "passivation"
    """a slab passivated by pseudo-H on both faces (energy per pseudo-H of one host)"""


SLAB_ROLES = frozenset({Role.BARE, Role.SHELL})
SWEEP_ROLES = frozenset({Role.LIGANDS, Role.VARIANT})


def miller_label(miller: tuple[int, ...] | list[int]) -> str:
    """``(1, -1, 0)`` -> ``"1m10"``, ``(1, 0, -1, 0)`` -> ``"10m10"``: the default label of
    a facet (three Miller or four Miller-Bravais indices)."""
    return "".join(str(i) if i >= 0 else f"m{-i}" for i in miller)


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Facet(_Record):
    """A facet of the study: its label (in ids, the report and ``summary.json: facets``)
    and its Miller indices in the conventional cell."""

    label: str = Field(description="the facet's ``name`` in the study, else its Miller "
                                   "indices (``miller_label``)")
    miller: tuple[int, ...] = Field(description="Miller indices (h, k, l) of the "
                                   "conventional cell, or Miller-Bravais indices (h, k, i, l) "
                                   "with i = -(h + k) on hexagonal materials")


class ElectronCount(_Record):
    """Electron counting of a slab (``facetflow.structures.electrons``)."""

    excess_electrons: float = Field(description="electrons in excess of the closed-shell "
                                                "count of the whole cell (e; < 0: holes)")
    per_surface_cation: float = Field(description="excess_electrons per surface cation of "
                                                  "all faces (e)")
    closed_shell: bool = Field(description="no excess electrons (|excess| < 1e-6 e)")
    faces: dict[str, float] | None = Field(
        None, description="excess electrons of the top and bottom face (e; tetrahedral "
                          "materials only)")


class DefectSite(_Record):
    """Where a point defect sits (``facetflow.structures.defects.DefectSite``)."""

    kind: str = Field(description="``vacancy`` or ``interstitial``")
    element: str = Field(description="the element removed or added")
    layer: int = Field(description="atomic plane counted from the top (0 = outermost)")
    multiplicity: int = Field(description="equivalent positions under the symmetry of the "
                                          "top face")
    position: list[float] = Field(description="Cartesian position on the top face (Å)")
    removed_atom: int | None = Field(description="index of the removed atom (vacancy)")
    clearance: float | None = Field(description="distance to the nearest atom "
                                                "(interstitial; Å)")
    n_defects: int = Field(description="defects in the cell (one per face)")
    ligand_site: int | None = Field(None, description="binding site of the ligand next to "
                                                      "the defect (index in its site grid)")
    ligand_mode: str | None = Field(None, description="binding mode of that ligand")


class StructureRecord(_Record):
    """One structure of a study and what the pipeline knows of it, apart from its atoms
    (``file``). Made by ``facetflow.structures.catalog``; written to ``manifest.json`` and
    the plan; read by the analysis. Relationships are fields, never parsed from ids."""

    id: str = Field(description="unique id in the study (``facetflow.structures.ids``)")
    role: Role = Field(description="what the structure is for")
    facet: Facet | None = Field(None, description="the facet of a slab (None: references, "
                                                   "passivation slabs)")
    termination: str | None = Field(None, description="outermost plane of the slab")
    symmetric: bool | None = Field(None, description="both faces equivalent (divide by 2A); "
                                                     "else a pseudo-H passivated bottom")
    ligand: str | None = Field(None, description="the swept ligand (or the defect's ligand)")
    theta: float | None = Field(None, description="coverage of the swept ligand in the "
                                                  "arrangement (ligands per surface cation)")
    n_ligands: int = Field(0, description="adsorbates of the swept ligand per face (a "
                                          "symmetric slab carries as many on its bottom)")
    variant: str | None = Field(None, description="additive or growth species in place of "
                                                  "one ligand, ``vacancy``, or the defect kind")
    parent: str | None = Field(None, description="id of the structure this one is made from "
                                                 "by one change (its warm start)")
    binding_parent: str | None = Field(
        None, description="the ligand arrangement a binding structure belongs to when "
                          "``parent`` names another (the shared vacancy of ligands that "
                          "replace a surface atom)")
    vacancy: str | None = Field(
        None, description="id of the structure with this ligand position empty: the "
                          "reference of the binding energy of the species put there")
    site: int | None = Field(None, description="index of the symmetry-unique position "
                                               "(replaced ligand or defect site), 0 first")
    multiplicity: int | None = Field(None, description="equivalent arrangements or "
                                                       "positions (symmetry weight)")
    defect: str | None = Field(None, description="defect kind (``V_S``, ``Zn_int``)")
    defect_site: DefectSite | None = Field(None, description="where the defect sits")
    defect_structure: str | None = Field(
        None, description="id of the defect without ligand (defect_ligand and "
                          "defect_reference structures)")
    reference: str | None = Field(None, description="key of a reference structure "
                                                    "(``bulk:ZnSe``, ``HF``)")
    area_A2: float | None = Field(None, description="area of one face of the cell (Å²)")
    n_faces: int | None = Field(None, description="faces that carry the surface (2: "
                                                  "symmetric slab)")
    n_surface_cations: int | None = Field(None, description="cations of the outermost "
                                                            "plane of one face")
    electron_count: ElectronCount | None = Field(None, description="electron counting")
    n_atoms: int = Field(description="atoms in the cell")
    formula: str = Field(description="chemical formula of the cell")
    counts: dict[str, int] = Field(description="atoms of each element in the cell")
    pseudo_h: dict[str, int] = Field(description="pseudo-hydrogen by charge (e) -> number")
    n_fixed: int = Field(description="atoms fixed in relaxations")
    notes: list[str] = Field(default_factory=list, description="how the structure was "
                                                               "built (provenance)")
    file: str = Field(description="extxyz file, relative to the build folder")
    sha256: str | None = Field(None, description="sha256 of the written file")
    picture: str | None = Field(None, description="PNG picture, relative to the build "
                                                  "folder")

    @property
    def facet_label(self) -> str | None:
        """The facet's label, None for structures without a facet."""
        return self.facet.label if self.facet is not None else None


class Manifest(_Record):
    """``structures/manifest.json``: every structure of a build."""

    schema_: str = Field(MANIFEST_SCHEMA, alias="schema",
                         description="schema name and version of this document")
    study: str | None = Field(None, description="the study's name")
    facetflow: str | None = Field(None, description="facetflow version that built it")
    structures: list[StructureRecord] = Field(description="in catalog order")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def write(self, path: Path) -> None:
        """Write atomically (a reader sees the old manifest or this one)."""
        write_json_atomic(path, self.model_dump(mode="json", by_alias=True))


class ManifestError(ValueError):
    """A manifest of another schema (an older facetflow) or not a manifest."""


def read_manifest(path: Path) -> Manifest:
    """The manifest at ``path``; ``ManifestError`` names the schema found when it is not
    ``MANIFEST_SCHEMA`` (a build of another facetflow version: build it again)."""
    data = json.loads(Path(path).read_text())
    found = data.get("schema", f"version {data.get('version')}") if isinstance(data, dict) \
        else type(data).__name__
    if found != MANIFEST_SCHEMA:
        raise ManifestError(f"{path}: manifest schema {found} is not {MANIFEST_SCHEMA} (written "
                            "by another facetflow version); build the structures again")
    return Manifest.model_validate(data)
