"""Slab builder: bulk cuts, terminations, shells, pseudo-H, generality over materials."""

import numpy as np
import pytest
from ase.neighborlist import neighbor_list

from facetflow.errors import SpecError
from facetflow.structures import REGION_PSEUDO_H, REGION_SHELL
from facetflow.structures.bulk import conventional_cell
from facetflow.structures.materials import compound_names, get_compound
from facetflow.structures.shell import spacing_factor
from facetflow.structures.slab import SlabRequest, available_terminations, build_facet_slabs
from facetflow.structures.symmetry import face_swap_operation

INAS = get_compound("InAs")
ZNSE = get_compound("ZnSe")


def valence_electrons(atoms):
    val = {"In": 3, "As": 5, "Zn": 2, "Se": 6}
    ph = atoms.arrays["pseudo_h_charge"]
    return sum(val.get(s, 0) for s in atoms.get_chemical_symbols()) + ph.sum()


def test_inas_111_pseudo_h_slab_is_neutral_by_electron_counting():
    slab = build_facet_slabs(SlabRequest(INAS, (1, 1, 1), monolayers=4, symmetric=False,
                                         supercell=((2, 0), (0, 2)))).bare
    a = slab.atoms
    n_h = int((a.arrays["region"] == REGION_PSEUDO_H).sum())
    assert n_h == 4  # one per bottom As of the 2x2 cell
    assert set(a.arrays["pseudo_h_charge"][a.arrays["region"] == REGION_PSEUDO_H]) == {0.75}
    # stoichiometric InAs plus H(0.75): an integral number of valence electrons, no net charge
    syms = a.get_chemical_symbols()
    assert syms.count("In") == syms.count("As") == 16
    assert valence_electrons(a) == pytest.approx(16 * 8 + 4 * 0.75)
    assert float(valence_electrons(a)).is_integer()
    # the bottom face is exactly compensated; the top In keep 3/4 e in their dangling bond
    from facetflow.structures.electrons import face_balance

    faces = face_balance(a, {"In"}, {"As"}, {})
    assert faces["bottom"] == pytest.approx(0.0)
    assert faces["top"] == pytest.approx(0.75 * slab.n_surface_cations)
    # In keeps 4 neighbours below the top plane; every pseudo-H at the In/As-H bond length
    i, j, d = neighbor_list("ijd", a, 1.6)
    hs = np.flatnonzero(a.arrays["region"] == REGION_PSEUDO_H)
    for h in hs:
        assert np.any(np.isclose(d[i == h], 1.19 + 0.31, atol=0.01))


def test_inas_110_slab_is_stoichiometric_and_symmetric():
    slab = build_facet_slabs(SlabRequest(INAS, (1, 1, 0), monolayers=6, symmetric=True,
                                         termination="stoichiometric",
                                         supercell=((2, 0), (0, 2)))).bare
    syms = slab.atoms.get_chemical_symbols()
    assert syms.count("In") == syms.count("As")
    assert (slab.atoms.arrays["region"] == REGION_PSEUDO_H).sum() == 0
    assert face_swap_operation(slab.atoms) is not None


def test_inas_100_cation_terminated_both_faces():
    slab = build_facet_slabs(SlabRequest(INAS, (1, 0, 0), monolayers=8, symmetric=True,
                                         termination="cation")).bare
    a = slab.atoms
    top = a.arrays["plane"].max()
    assert {a[i].symbol for i in np.flatnonzero(a.arrays["plane"] == top)} == {"In"}
    assert {a[i].symbol for i in np.flatnonzero(a.arrays["plane"] == 0)} == {"In"}
    assert slab.n_planes == 17  # 8 As planes between 9 In planes
    # fixed atoms: the central planes, symmetric about the middle
    fixed = a.constraints[0].index
    planes = sorted(set(a.arrays["plane"][fixed].tolist()))
    assert planes == list(range(4, 13))


def test_shell_is_coherent_and_strained():
    slabs = build_facet_slabs(SlabRequest(INAS, (1, 0, 0), monolayers=4, symmetric=True,
                                          shell=ZNSE, shell_monolayers=1))
    bare, capped = slabs.bare, slabs.capped
    # the core atoms are identical in both slabs (relative to the core's first atom)
    core_b = bare.atoms.positions[bare.atoms.arrays["region"] == 0]
    core_c = capped.atoms.positions[capped.atoms.arrays["region"] == 0]
    assert np.allclose(core_b - core_b[0], core_c - core_c[0], atol=1e-8)
    shell = capped.atoms.arrays["region"] == REGION_SHELL
    assert set(np.array(capped.atoms.get_chemical_symbols())[shell]) == {"Zn", "Se"}
    assert capped.termination == "Zn" and capped.bottom_termination == "Zn"
    # out-of-plane spacing of the shell from cubic elasticity, computed independently
    c11, c12 = ZNSE.elastic["C11"], ZNSE.elastic["C12"]
    eps_par = INAS.a / ZNSE.a - 1
    expected = (ZNSE.a / INAS.a) * (1 - 2 * c12 / c11 * eps_par)
    assert spacing_factor(INAS, ZNSE, (1, 0, 0)) == pytest.approx(expected)
    z = sorted({round(p, 4) for p in capped.atoms.positions[shell][:, 2]})
    top_pair = z[-1] - z[-2]
    assert top_pair == pytest.approx(INAS.a / 4 * expected, abs=2e-4)


@pytest.mark.parametrize("name", compound_names())
def test_every_material_gives_a_100_slab(name):
    c = get_compound(name)
    if c.structure == "wurtzite":
        miller, sym = (0, 0, 1), False
    else:
        miller, sym = (1, 0, 0), True
    term = None
    if c.structure == "perovskite":
        term = "PbI2" if "I" in c.species else "PbBr2"
    slabs = build_facet_slabs(SlabRequest(c, miller, monolayers=3, symmetric=sym,
                                          termination=term))
    a = slabs.bare.atoms
    assert len(a) > 0
    i = neighbor_list("i", a, 0.8)
    assert len(i) == 0


def test_bulk_nearest_neighbours():
    for name in ("InAs", "ZnSe", "GaAs", "CdSe"):
        c = get_compound(name)
        b = conventional_cell(c)
        d = neighbor_list("d", b, c.a * np.sqrt(3) / 4 + 0.05)
        assert np.allclose(d, c.a * np.sqrt(3) / 4, atol=1e-6)


def test_perovskite_terminations_and_symmetry():
    c = get_compound("CsPbI3")
    assert {"CsI", "PbI2"} <= set(available_terminations(c, (1, 0, 0)))
    for term in ("CsI", "PbI2"):
        slab = build_facet_slabs(SlabRequest(c, (1, 0, 0), monolayers=3, symmetric=True,
                                             termination=term)).bare
        assert slab.termination == term and slab.bottom_termination == term
        assert face_swap_operation(slab.atoms) is not None


def test_unknown_termination_is_a_spec_error():
    with pytest.raises(SpecError) as e:
        build_facet_slabs(SlabRequest(INAS, (1, 1, 0), termination="cation"))
    assert "termination" in str(e.value) and "stoichiometric" in str(e.value)


def test_rectangular_supercell_on_100_cannot_be_symmetric():
    from facetflow.errors import StructureError

    with pytest.raises(StructureError) as e:
        build_facet_slabs(SlabRequest(INAS, (1, 0, 0), supercell=((2, 0), (0, 4))))
    # the hint names the facet's own face-swapping operation and supercells that keep it
    text = str(e.value)
    assert "related by a two-fold rotation" in text and "[[2, 0], [0, 2]]" in text
    assert "[[2, 0], [0, 4]]" not in text.split("tried:")[1]
