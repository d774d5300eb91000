"""Structure ids: the one place they are made. An id names a structure (file names, plan
keys, the report); nothing parses it back -- relationships are fields of
``facetflow.records.structure.StructureRecord``.
"""

from __future__ import annotations


def slab_id(label: str, capped: bool) -> str:
    """The facet's slab without ligands: ``<facet>_shell`` when a shell caps it, else
    ``<facet>_bare``."""
    return f"{label}_shell" if capped else f"{label}_bare"


def arrangement_id(label: str, ligand: str, theta: float, index: int) -> str:
    """Arrangement ``index`` (0: most uniform) of ``ligand`` at coverage ``theta``."""
    return f"{label}_{ligand}_t{theta:.3f}_c{index}"


def replacement_id(arrangement: str, species: str, site: int) -> str:
    """``arrangement`` with the ligand at symmetry-unique position ``site`` replaced by
    ``species`` (``vacancy``: removed)."""
    tag = "vac" if species == "vacancy" else species
    return f"{arrangement}_{tag}{site}"


def defect_id(label: str, kind: str, site: int) -> str:
    """Defect ``kind`` at its symmetry-unique position ``site``."""
    return f"{label}_{kind}_{site}"


def defect_ligand_id(defect: str, ligand: str) -> str:
    """The defect ``defect`` with ``ligand`` bound next to it."""
    return f"{defect}_{ligand}"


def defect_reference_id(defect: str, ligand: str) -> str:
    """The pristine slab with ``ligand`` where it binds next to ``defect``."""
    return f"{defect}_{ligand}_ref"


def passivation_id(termination: str, facet: str = "100") -> str:
    """The pseudo-H passivated reference slab of facet family ``facet`` (a Miller label:
    ``100`` on zincblende, ``0001`` on wurtzite) terminated by ``termination``."""
    return f"pass_{facet}_{termination}"


def reference_id(key: str) -> str:
    """The structure of reference ``key`` (``bulk:ZnSe`` -> ``ref_bulk_ZnSe``, ``HF`` ->
    ``ref_mol_HF``)."""
    if key.startswith("bulk:"):
        return f"ref_bulk_{key[5:]}"
    return f"ref_mol_{key}"


def structure_file(structure_id: str) -> str:
    """The structure's extxyz file, relative to the build folder."""
    return f"structures/{structure_id}.extxyz"
