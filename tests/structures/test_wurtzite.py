"""Hexagonal facets in Miller-Bravais notation, wurtzite slabs (non-polar prism faces on
symmetric slabs, polar basal faces with pseudo-H passivated bottoms), the zincblende B
face, face-swapping operations that are not involutions, and growth units of any
compound."""

import numpy as np
import pytest

from facetflow.errors import SpecError
from facetflow.structures import REGION_PSEUDO_H
from facetflow.structures.electrons import electron_count
from facetflow.structures.growth_units import bond_length, growth_species
from facetflow.structures.materials import get_compound, pseudo_h_charge
from facetflow.structures.reference_set import passivation_structures
from facetflow.structures.slab import SlabRequest, build_facet_slabs
from facetflow.structures.symmetry import face_swap_operation, is_involution
from facetflow.structures.topology import cation_anion_bonds
from facetflow.study import parse_study

WURTZITES = ["CdSe_wz", "ZnS_wz"]


def study_with(material: str, *facets: dict) -> dict:
    return {"name": "t", "core": {"material": material},
            "slab": {"monolayers": 3, "vacuum": 10.0}, "facets": list(facets)}


def build(material, miller, supercell=((1, 0), (0, 1)), **kw):
    return build_facet_slabs(SlabRequest(get_compound(material), miller, monolayers=4,
                                         supercell=supercell, vacuum=10.0, **kw)).bare


def top_bonds_down(slab) -> float:
    """Bonds per atom from the top plane to the plane below (4 minus dangling bonds)."""
    atoms = slab.atoms
    comp = {"cations": set(slab.cations), "anions": set(slab.anions)}
    i, j, _ = cation_anion_bonds(atoms, comp["cations"], comp["anions"])
    top = set(slab.surface_indices)
    n = sum(1 for a, b in zip(i, j, strict=True) if (a in top) != (b in top))
    return n / len(top)


# --- Miller-Bravais indices -------------------------------------------------------------

def test_three_and_four_indices_give_one_facet_and_one_slab():
    four = parse_study(study_with("CdSe_wz", {"miller": [1, 0, -1, 0],
                                              "termination": "stoichiometric"}))
    three = parse_study(study_with("CdSe_wz", {"miller": [1, 0, 0],
                                               "termination": "stoichiometric"}))
    assert four.facets[0].miller == three.facets[0].miller == (1, 0, -1, 0)
    assert four.facets[0].label == three.facets[0].label == "10m10"
    assert four.facets[0].facet.miller == (1, 0, -1, 0)
    a, b = (build("CdSe_wz", f.facets[0].miller, termination="stoichiometric")
            for f in (four, three))
    assert a.atoms.get_chemical_symbols() == b.atoms.get_chemical_symbols()
    assert np.allclose(a.atoms.positions, b.atoms.positions)


def test_three_index_labels_named_elsewhere_follow_the_four_index_form():
    data = study_with("CdSe_wz", {"miller": [1, 0, 0], "termination": "stoichiometric"},
                      {"miller": [0, 0, 1]})
    data["ligands"] = [{"name": "acetate", "coverages": [0.5], "facets": ["100"]}]
    study = parse_study(data)
    assert [f.label for f in study.facets] == ["10m10", "0001"]
    assert study.ligands[0].facets == ["10m10"]
    # the basal facet of a tetrahedral material is polar: asymmetric by default
    assert not study.facets[1].is_symmetric(True) and study.facets[0].is_symmetric(True)


def test_wrong_i_index_is_a_clear_error():
    with pytest.raises(SpecError) as e:
        parse_study(study_with("CdSe_wz", {"miller": [1, 0, 1, 0]}))
    text = str(e.value)
    assert "facets.0.miller" in text and "i = -(h + k)" in text and "i = -1" in text


def test_four_indices_on_a_cubic_material_are_refused():
    with pytest.raises(SpecError) as e:
        parse_study(study_with("ZnSe", {"miller": [1, 0, -1, 0]}))
    text = str(e.value)
    assert "facets.0.miller" in text and "zincblende" in text and "(h, k, l)" in text


def test_one_facet_in_three_and_four_indices_is_listed_twice():
    with pytest.raises(SpecError) as e:
        parse_study(study_with("CdSe_wz", {"miller": [1, 0, 0]}, {"miller": [1, 0, -1, 0]}))
    assert "facets.1.miller" in str(e.value) and "facets.0 (10m10)" in str(e.value)


def test_five_indices_are_refused_with_what_is_allowed():
    with pytest.raises(SpecError) as e:
        parse_study(study_with("CdSe_wz", {"miller": [1, 0, -1, 0, 0]}))
    assert "four Miller-Bravais" in str(e.value)


# --- wurtzite slabs ---------------------------------------------------------------------

@pytest.mark.parametrize("material", WURTZITES)
@pytest.mark.parametrize("miller", [(1, 0, -1, 0), (1, 1, -2, 0)])
@pytest.mark.parametrize("supercell", [((2, 0), (0, 2)), ((3, 0), (0, 2))])
def test_prism_faces_are_symmetric_and_stoichiometric(material, miller, supercell):
    slab = build(material, miller, supercell, termination="stoichiometric")
    comp = get_compound(material)
    sym = slab.atoms.get_chemical_symbols()
    assert sym.count(comp.cation) == sym.count(comp.anion) > 0 and "H" not in sym
    op = face_swap_operation(slab.atoms)
    assert op is not None and op.swaps_faces
    assert slab.termination == comp.cation + comp.anion == slab.bottom_termination
    ec = electron_count(slab.atoms, dict(comp.oxidation_states), set(slab.cations),
                        set(slab.anions), {}, slab.n_surface_cations, 2, True)
    assert ec["excess_electrons"] == pytest.approx(0.0)  # cation DBs empty, anion DBs full


def test_m_plane_2x2_faces_are_related_by_a_glide_that_is_no_involution():
    """The case an involution-only search missed: the glide of the m-plane squares to a
    1x1 translation that the 2x2 supercell does not contain."""
    slab = build("CdSe_wz", (1, 0, -1, 0), ((2, 0), (0, 2)), termination="stoichiometric")
    op = face_swap_operation(slab.atoms)
    assert op is not None and not is_involution(op)


@pytest.mark.parametrize("material", WURTZITES)
def test_polar_basal_faces_with_pseudo_h_bottoms(material):
    comp = get_compound(material)
    cation_face = build(material, (0, 0, 0, 1), ((2, 0), (0, 2)), termination="cation",
                        symmetric=False)
    anion_face = build(material, (0, 0, 0, -1), ((2, 0), (0, 2)), termination="anion",
                       symmetric=False)
    assert cation_face.termination == comp.cation and anion_face.termination == comp.anion
    for slab, host in ((cation_face, comp.anion), (anion_face, comp.cation)):
        sym = slab.atoms.get_chemical_symbols()
        assert sym.count(comp.cation) == sym.count(comp.anion)  # one plane of each per ML
        h = slab.atoms.arrays["region"] == REGION_PSEUDO_H
        assert h.sum() == 4  # one cut bond per 1x1 cell at the bottom
        assert np.allclose(slab.atoms.arrays["pseudo_h_charge"][h], pseudo_h_charge(host))
        assert top_bonds_down(slab) == pytest.approx(3.0)  # one dangling bond per top atom


def test_a_symmetric_basal_slab_is_refused_as_polar():
    from facetflow.errors import StructureError

    with pytest.raises(StructureError) as e:
        build("CdSe_wz", (0, 0, 0, 1), termination="cation", symmetric=True)
    text = str(e.value)
    assert "(0 0 0 1)" in text and "polar stacking" in text and "symmetric: false" in text


@pytest.mark.parametrize("material", WURTZITES)
def test_polar_basal_electron_count(material):
    """Each top atom of the 1-dangling-bond faces holds v/4 electrons in its dangling bond:
    a cation face has 0.5 e too many per surface cation, an anion face 0.5 e too few."""
    comp = get_compound(material)
    for miller, term, sign in (((0, 0, 0, 1), "cation", 1), ((0, 0, 0, -1), "anion", -1)):
        slab = build(material, miller, ((2, 0), (0, 2)), termination=term, symmetric=False)
        ec = electron_count(slab.atoms, dict(comp.oxidation_states), set(slab.cations),
                            set(slab.anions), {}, slab.n_surface_cations, 1, True)
        assert ec["excess_electrons"] == pytest.approx(sign * 0.5 * 4)


@pytest.mark.parametrize("material", WURTZITES)
def test_passivation_references_on_the_basal_family(material):
    comp = get_compound(material)
    refs = {s.record.id: s for s in passivation_structures(comp, 10.0)}
    assert set(refs) == {f"pass_0001_{comp.cation}", f"pass_0001_{comp.anion}"}
    for host in (comp.cation, comp.anion):
        s = refs[f"pass_0001_{host}"]
        q = s.atoms.arrays["pseudo_h_charge"][s.atoms.arrays["region"] == REGION_PSEUDO_H]
        assert len(q) == 4 and np.allclose(q, pseudo_h_charge(host))
        assert s.record.electron_count.closed_shell


def test_zincblende_b_face_is_its_own_facet():
    """(-1-1-1) defaults to its anion face with one dangling bond per atom (B); the
    anion face of (111) has three."""
    study = parse_study(study_with("ZnSe", {"miller": [-1, -1, -1]}))
    assert study.facets[0].label == "m1m1m1" and not study.facets[0].is_symmetric(True)
    b_face = build("ZnSe", (-1, -1, -1), symmetric=False)
    assert b_face.termination == "Se" and top_bonds_down(b_face) == pytest.approx(3.0)
    a_side = build("ZnSe", (1, 1, 1), termination="anion", symmetric=False)
    assert top_bonds_down(a_side) == pytest.approx(1.0)


# --- adsorbates on both faces -----------------------------------------------------------

def test_bottom_decoration_is_the_image_of_the_top_on_a_2x2_m_plane():
    from ase.geometry import get_distances

    from facetflow.structures.coverage import Adsorbate, SiteGrid, decorate
    from facetflow.structures.ligands import get_ligand
    from facetflow.structures.sites import choose_mode

    slab = build("CdSe_wz", (1, 0, -1, 0), ((2, 0), (0, 2)), termination="stoichiometric")
    lig = get_ligand("acetate")
    mode, sites = choose_mode(slab, lig, None)
    grid = SiteGrid(slab, lig, mode, sites)
    atoms = decorate(slab, [Adsorbate(lig, grid.sites[0], grid.placed[0])])
    lid = atoms.arrays["ligand_id"]
    assert sorted(set(lid[lid >= 0])) == [0, 1]
    slab_atoms = atoms[lid < 0]

    def environment(k):
        """Per atom of adsorbate k its six nearest slab atoms' distances (Å), sorted."""
        _, dist = get_distances(atoms.positions[lid == k], slab_atoms.positions,
                                cell=atoms.cell, pbc=True)
        return np.sort(np.sort(dist, axis=1)[:, :6], axis=0)

    top, bottom = environment(0), environment(1)
    assert np.allclose(top, bottom, atol=0.05)
    z = atoms.positions[:, 2]
    assert z[lid == 0].mean() > z[lid < 0].mean() > z[lid == 1].mean()


# --- growth units -----------------------------------------------------------------------

def test_growth_units_and_adatoms_reference_the_study_compound():
    cdse = get_compound("CdSe_wz")
    unit = growth_species("CdSe", [cdse])
    assert unit.reference == {"bulk:CdSe_wz": 1.0} and unit.charge == 0
    assert unit.symbols == ("Cd", "Se")
    span = np.linalg.norm(unit.positions[0] - unit.positions[1])
    assert span == pytest.approx(bond_length(cdse)) and 2.5 < span < 2.7
    se = growth_species("Se", [cdse])
    assert se.reference == {"bulk:CdSe_wz": 1.0, "bulk:Cd": -1.0}
    assert not any("ZnSe" in k for k in se.reference)
    inp = growth_species("InP", [cdse])  # not in the study: the table's InP
    assert inp.reference == {"bulk:InP": 1.0}
    zns = growth_species("S", [get_compound("ZnS_wz")])
    assert zns.reference == {"bulk:ZnS_wz": 1.0, "bulk:Zn": -1.0}
    with pytest.raises(SpecError, match="compound formula"):
        growth_species("CdXy", [cdse])
