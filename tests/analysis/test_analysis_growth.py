"""Growth model and kinetic Wulff construction on fixtures."""

import pytest

from facetflow.analysis.growth import (
    FacetGrowthInput,
    anisotropy_index,
    growth_rate,
    kinetic_wulff,
    relative_rates,
)
from facetflow.structures.materials import get_compound

T = 340.0  # °C, the paper's ZnSe shell growth


def fixture(additive_on_fast=None):
    return {
        "100": FacetGrowthInput(theta_opt=1.0, footprint=1, eb_growth=-1.0, eb_ligand=-1.2,
                                n_ligands=8),
        # half the ligand density and a stronger growth-species binding
        "111": FacetGrowthInput(theta_opt=0.5, footprint=1, eb_growth=-2.0, eb_ligand=-1.4,
                                n_ligands=4, eb_additive=additive_on_fast),
        "110": FacetGrowthInput(theta_opt=1.0, footprint=1, eb_growth=-0.9, eb_ligand=-1.0,
                                n_ligands=8),
    }


def test_half_density_and_stronger_growth_binding_grows_fastest():
    rates = relative_rates(fixture(), T)
    assert max(rates, key=rates.get) == "111"
    assert rates["111"] == pytest.approx(1.0)
    assert all(0 < r <= 1 for r in rates.values())


def test_strong_additive_on_fast_facet_lowers_anisotropy():
    plain = anisotropy_index(relative_rates(fixture(), T))
    with_f = anisotropy_index(relative_rates(fixture(additive_on_fast=-3.5), T))
    assert with_f < plain


def test_free_sites_and_temperature():
    full = FacetGrowthInput(1.0, 1, eb_growth=-1.0, eb_ligand=-1.5)
    half = FacetGrowthInput(0.5, 1, eb_growth=-1.0, eb_ligand=-1.5)
    assert growth_rate(half, T) > growth_rate(full, T)
    # displacement is thermally activated: hotter grows faster when blocked
    assert growth_rate(full, 400) > growth_rate(full, 200)
    # a growth unit that binds more strongly than the ligand is not held back
    strong = FacetGrowthInput(1.0, 1, eb_growth=-2.0, eb_ligand=-1.5)
    assert growth_rate(strong, T) == pytest.approx(1.0)


def test_kinetic_wulff_shape():
    zb = get_compound("ZnSe")
    iso = kinetic_wulff(zb, {(1, 0, 0): 1.0, (1, 1, 1): 1.0, (-1, -1, -1): 1.0,
                             (1, 1, 0): 1.0})
    fast111 = kinetic_wulff(zb, {(1, 0, 0): 1.0, (1, 1, 1): 2.0, (-1, -1, -1): 2.0,
                                 (1, 1, 0): 1.3})
    # the fast facet grows out: its share of the surface drops
    assert fast111.facet_area_fractions.get("111", 0) < iso.facet_area_fractions["111"]
    assert 1.0 <= iso.aspect_ratio < 1.3  # close to round when all families grow alike
    assert fast111.volume > 0
    cube = kinetic_wulff(zb, {(1, 0, 0): 1.0, (1, 1, 1): 3.0, (1, 1, 0): 3.0})
    assert cube.facet_area_fractions["100"] == pytest.approx(1.0)
    assert cube.aspect_ratio == pytest.approx(3**0.5, rel=0.01)
    assert cube.point_group == "-43m"


ZB_FAMILIES = [(1, 0, 0), (1, 1, 0), (1, 1, 1), (-1, -1, -1)]
WZ_FAMILIES = [(1, 0, -1, 0), (1, 1, -2, 0), (0, 0, 0, 1), (0, 0, 0, -1)]


def test_equal_rates_give_the_point_groups_equilibrium_like_shape():
    """-43m with {111} A and {-1-1-1} B at one distance is the m-3m shape of the same
    families: A and B share the {111} area equally."""
    tetra = kinetic_wulff(get_compound("ZnSe"), dict.fromkeys(ZB_FAMILIES, 1.0))
    cubic = kinetic_wulff(get_compound("PbS"), dict.fromkeys(ZB_FAMILIES[:3], 1.0))
    assert tetra.point_group == "-43m" and cubic.point_group == "m-3m"
    fa = tetra.facet_area_fractions
    assert fa["111"] == pytest.approx(fa["-1-1-1"])
    assert fa["111"] + fa["-1-1-1"] == pytest.approx(cubic.facet_area_fractions["111"])
    assert tetra.aspect_ratio == pytest.approx(cubic.aspect_ratio, rel=1e-3)
    hexa = kinetic_wulff(get_compound("CdSe_wz"), dict.fromkeys(WZ_FAMILIES, 1.0))
    assert hexa.point_group == "6mm"
    assert hexa.facet_area_fractions["0001"] == pytest.approx(
        hexa.facet_area_fractions["000-1"])


def test_faster_b_face_makes_a_tetrahedron_on_zincblende():
    zb = get_compound("ZnSe")
    tetra = kinetic_wulff(zb, {(1, 1, 1): 1.0, (-1, -1, -1): 3.0})
    assert tetra.facet_area_fractions == pytest.approx({"111": 1.0})
    assert tetra.aspect_ratio == pytest.approx(2**0.5, rel=0.03)  # edge / (edge / √2)
    equal = kinetic_wulff(zb, dict.fromkeys(ZB_FAMILIES, 1.0))
    fast_b = kinetic_wulff(zb, {(1, 0, 0): 1.3, (1, 1, 0): 1.6, (1, 1, 1): 1.0,
                                (-1, -1, -1): 2.5})
    fa = fast_b.facet_area_fractions
    assert fa.get("-1-1-1", 0.0) == 0.0  # the fast B face grows out
    assert fa["111"] > 0.5 and fa["111"] > equal.facet_area_fractions["111"]


def test_slow_basal_faces_make_platelets_fast_ones_rods():
    wz = get_compound("CdSe_wz")
    prism = {(1, 0, -1, 0): 1.0, (1, 1, -2, 0): 1.1}
    platelet = kinetic_wulff(wz, {**prism, (0, 0, 0, 1): 0.2, (0, 0, 0, -1): 0.3})
    rod = kinetic_wulff(wz, {**prism, (0, 0, 0, 1): 3.0, (0, 0, 0, -1): 5.0})
    assert platelet.aspect_ratio_c < 0.5 < 2.0 < rod.aspect_ratio_c
    # hexagonal prism of {10-10} at distance 1: across flats 2; along c 0.2 + 0.3
    assert platelet.aspect_ratio_c == pytest.approx(0.5 / 2.0, rel=0.01)
    assert rod.aspect_ratio_c == pytest.approx(8.0 / 2.0, rel=0.01)
    assert kinetic_wulff(get_compound("ZnSe"), dict.fromkeys(ZB_FAMILIES, 1.0)
                         ).aspect_ratio_c is None


def test_an_open_shape_is_a_clear_error():
    with pytest.raises(ValueError, match=r"CdSe_wz \(6mm\).*closed shape"):
        kinetic_wulff(get_compound("CdSe_wz"), {(1, 0, -1, 0): 1.0, (0, 0, 0, 1): 1.0})


def _paper_like(eb_se: float, with_f: bool) -> dict:
    """The paper study's three facets at full acetate coverage except {111} (5/8), Se
    bound with ``eb_se`` (eV) everywhere, F binding more strongly than acetate on {111}
    only; with ``with_f`` one acetate of each cell is replaced by F."""
    def facet(theta, eb_lig, eb_f):
        return FacetGrowthInput(theta_opt=theta, footprint=1, eb_growth=eb_se,
                                eb_ligand=eb_lig, n_ligands=8,
                                eb_additive=eb_f if with_f else None)
    return {"100": facet(1.0, -1.1, -0.9), "111": facet(0.625, -0.9, -2.0),
            "110": facet(1.0, -0.6, -0.5)}


def test_additive_changes_rates_when_the_growth_species_is_bound():
    """Se bound more strongly than the ligand (a precursor reference, E_b = -1.2 eV) and
    F bound more strongly than acetate on {111}: F blocks {111}, so its rate and the
    anisotropy change. With Se unbound (the Zn-rich limit, E_b = +0.9 eV) every
    displacement channel is closed and the additive changes nothing."""
    bound = {w: relative_rates(_paper_like(-1.2, w), T) for w in (False, True)}
    assert bound[True]["111"] < bound[False]["111"] - 0.05
    assert anisotropy_index(bound[True]) != pytest.approx(anisotropy_index(bound[False]),
                                                          rel=1e-3)
    unbound = {w: relative_rates(_paper_like(0.9, w), T) for w in (False, True)}
    for k in unbound[False]:
        assert unbound[True][k] == pytest.approx(unbound[False][k], rel=1e-6)


def test_growth_rate_of_samples_matches_one_value_at_a_time():
    import numpy as np

    rng = np.random.default_rng(2)
    theta, eb_g = rng.uniform(0.3, 1.0, 50), rng.normal(-1.0, 0.4, 50)
    eb_l, eb_a = rng.normal(-1.0, 0.3, 50), rng.normal(-1.5, 0.3, 50)
    many = growth_rate(FacetGrowthInput(theta, 1, eb_g, eb_l, 6, eb_a), T)
    for i in range(50):
        one = growth_rate(FacetGrowthInput(theta[i], 1, eb_g[i], eb_l[i], 6, eb_a[i]), T)
        assert many[i] == pytest.approx(one)
