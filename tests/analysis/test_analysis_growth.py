"""Growth model and kinetic Wulff construction on fixtures."""

import pytest

from facetflow.structures.materials import get_compound

from facetflow.analysis.growth import (
    FacetGrowthInput,
    anisotropy_index,
    growth_rate,
    kinetic_wulff,
    relative_rates,
)

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
