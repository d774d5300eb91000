"""The polar-facet method (pseudo-H chemical-potential method) checked on a non-polar
facet: for InAs{110} the free face of an asymmetric, pseudo-H passivated slab must have
the surface energy of a symmetric slab within 5 meV/Å² (real CHGNet relaxations)."""

from collections import Counter

import numpy as np
import pytest


@pytest.fixture(scope="module")
def setup():
    from facetflow.engines import get_engine
    from facetflow.engines.presets import settings_for
    from facetflow.structures.bulk import element_bulk, primitive_cell
    from facetflow.structures.materials import get_compound, get_element

    eng = get_engine("mlip")
    core = get_compound("InAs")
    bulk = eng.run(primitive_cell(core), "relax", settings_for("mlip", "bulk"))
    metal = eng.run(element_bulk(get_element("In")), "relax", settings_for("mlip", "bulk"))
    mu_in = metal.energy / len(metal.atoms())
    mu = {"In": mu_in, "As": bulk.energy - mu_in}  # In-rich limit
    return eng, core, mu, primitive_cell(core).get_volume(), bulk.atoms().get_volume()


def _relaxed(setup, atoms):
    from facetflow.engines.presets import settings_for
    from facetflow.workflows.geometry import scale_to_lattice

    eng, _core, _mu, v_built, v_relaxed = setup
    start = scale_to_lattice(atoms, v_built, v_relaxed)
    result = eng.run(start, "relax", settings_for("mlip", "slab", {"fmax": 0.02}))
    assert result.converged
    return result.energy, start


def _counts(atoms):
    return {k: v for k, v in Counter(atoms.get_chemical_symbols()).items() if k != "H"}


def _pseudo_h(atoms):
    q = atoms.arrays["pseudo_h_charge"]
    return {"In": int(np.isclose(q, 1.25).sum()), "As": int(np.isclose(q, 0.75).sum())}


def test_polar_method_matches_symmetric_slab_on_110(setup):
    from facetflow.analysis import energetics as en
    from facetflow.structures.reference_set import passivation_structures
    from facetflow.structures.slab import SlabRequest, build_facet_slabs

    _eng, core, mu, _v0, _v1 = setup
    eps = {}
    for rec in passivation_structures(core, 12.0):
        e, atoms = _relaxed(setup, rec.atoms)
        hosts = {h: n for h, n in _pseudo_h(atoms).items() if n}
        assert len(hosts) == 1  # each reference passivates one host element
        (host, n_h), = hosts.items()
        eps[host] = en.passivation_energy(e, _counts(atoms), mu, n_h)
    assert set(eps) == {"In", "As"}

    def slab(symmetric):
        req = SlabRequest(compound=core, miller=(1, 1, 0), monolayers=6, vacuum=12.0,
                          termination="InAs", symmetric=symmetric)
        return build_facet_slabs(req).bare.atoms

    e_sym, a_sym = _relaxed(setup, slab(True))
    e_pol, a_pol = _relaxed(setup, slab(False))
    assert sum(_pseudo_h(a_pol).values()) > 0 and sum(_pseudo_h(a_sym).values()) == 0
    area = abs(np.linalg.det(a_sym.cell[:2, :2]))
    g_sym = en.symmetric_surface_energy(e_sym, _counts(a_sym), mu, area)
    g_pol = en.polar_surface_energy(e_pol, _counts(a_pol), mu, _pseudo_h(a_pol), eps,
                                    abs(np.linalg.det(a_pol.cell[:2, :2])))
    assert g_sym > 0
    assert abs(en.to_mev_per_a2(g_pol - g_sym)) < 5.0, (g_sym, g_pol)
