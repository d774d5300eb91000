"""Ligand library geometries, placement on surfaces, custom XYZ ligands."""

from pathlib import Path

import numpy as np
import pytest
from ase.neighborlist import natural_cutoffs, neighbor_list

from facetflow.errors import SpecError
from facetflow.structures import REGION_ADDITIVE, REGION_LIGAND
from facetflow.structures.ligands import get_ligand, ligand_from_xyz, ligand_names

DATA = Path(__file__).resolve().parents[1] / "data"

# typical bond lengths (Å), independent of the library's own numbers
TYPICAL = {
    ("C", "H"): 1.09, ("C", "C"): 1.51, ("C", "O"): 1.26, ("H", "N"): 1.02,
    ("C", "N"): 1.48, ("C", "S"): 1.82, ("F", "H"): 0.92, ("O", "Zn"): 2.0,
    ("Se", "Zn"): 2.4,
}
# anchor to surface-atom bonds (Å): Zn-O in ZnO/Zn carboxylates, ZnF2, ZnSe, Zn-N amines
TYPICAL_SURFACE = {("O", "Zn"): 2.0, ("F", "Zn"): 1.97, ("Se", "Zn"): 2.45,
                   ("N", "Zn"): 2.08, ("S", "Zn"): 2.34, ("O", "In"): 2.17,
                   ("Zn", "Se"): 2.45}


def bonds(atoms):
    i, j, d = neighbor_list("ijd", atoms, natural_cutoffs(atoms, mult=1.15))
    sym = atoms.get_chemical_symbols()
    return [(tuple(sorted((sym[a], sym[b]))), x) for a, b, x in zip(i, j, d, strict=True)
            if a < b]


@pytest.mark.parametrize("name", ligand_names())
def test_library_bond_lengths_within_10_percent(name):
    lig = get_ligand(name)
    found = bonds(lig.atoms())
    for pair, d in found:
        if pair in TYPICAL:
            assert abs(d - TYPICAL[pair]) / TYPICAL[pair] < 0.10, (name, pair, d)
    # anchors at z = 0, body up (local frame convention)
    assert np.allclose(lig.positions[list(lig.anchors), 2], 0.0, atol=1e-6)


def test_placed_anchor_bonds_within_10_percent(quick_records):
    n = 0
    for r in quick_records:
        a = r.atoms
        if r.record.role == "reference":
            continue
        ads = np.flatnonzero(np.isin(a.arrays["region"], (REGION_LIGAND, REGION_ADDITIVE)))
        slab = np.flatnonzero(a.arrays["plane"] >= 0)
        sym = a.get_chemical_symbols()
        for k in ads:
            if sym[k] not in ("O", "F", "Se", "N", "S", "Zn"):
                continue
            d = a.get_distances(k, slab, mic=True)
            j = slab[np.argmin(d)]
            pair = tuple(sorted((sym[k], sym[j])))
            if pair in TYPICAL_SURFACE and d.min() < 3.0:
                ref = TYPICAL_SURFACE[pair]
                assert abs(d.min() - ref) / ref < 0.10, (r.id, pair, d.min())
                n += 1
    assert n > 20


def test_custom_ligand_from_xyz_goes_to_local_frame():
    lig = ligand_from_xyz("propanoate", DATA / "propanoate.xyz", [0, 1])
    assert lig.anchor_span == pytest.approx(2.24, abs=1e-6)
    assert np.allclose(lig.positions[[0, 1], 2], 0.0)
    assert np.allclose(lig.positions[[0, 1], 1], 0.0)
    assert (np.delete(lig.positions, [0, 1], axis=0)[:, 2] > 0.3).all()
    assert lig.modes[0] == "bridging"


def test_custom_ligand_without_anchors_is_rejected():
    with pytest.raises(SpecError, match="anchor"):
        ligand_from_xyz("x", DATA / "propanoate.xyz", [])
    with pytest.raises(SpecError, match="out of range"):
        ligand_from_xyz("x", DATA / "propanoate.xyz", [0, 99])


def test_unknown_ligand_lists_library():
    with pytest.raises(SpecError) as e:
        get_ligand("oleate")
    assert "acetate" in str(e.value)
