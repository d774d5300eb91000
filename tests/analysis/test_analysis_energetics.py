"""Energetics against hand-computed values and pymatgen's SlabEntry."""

import numpy as np
import pytest

from facetflow.analysis.energetics import (
    binding_energy,
    compound_limits,
    interfacial_energy,
    optimal_coverage,
    reaction_mu,
    symmetric_surface_energy,
    to_j_per_m2,
    to_mev_per_a2,
)


def test_cation_rich_chemical_potentials():
    mu = compound_limits(e_compound=-5.5, e_cation_ref=-1.2, e_anion_ref=-3.5, cation="Zn",
                         anion="Se")
    assert mu["Zn"] == pytest.approx(-1.2)
    assert mu["Zn"] + mu["Se"] == pytest.approx(-5.5)
    poorer = compound_limits(-5.5, -1.2, -3.5, "Zn", "Se", delta_mu_cation=-0.5)
    assert poorer["Zn"] == pytest.approx(-1.7) and poorer["Se"] == pytest.approx(-3.8)
    anion_rich = compound_limits(-5.5, -1.2, -3.5, "Zn", "Se", limit="anion-rich")
    assert anion_rich["Se"] == pytest.approx(-3.5) and anion_rich["Zn"] == pytest.approx(-2.0)
    with pytest.raises(ValueError):
        compound_limits(-5.5, -1.2, -3.5, "Zn", "Se", limit="neutral")


def test_ligand_mu_from_reaction():
    e = {"CH3COOH": -30.0, "H2": -6.8}
    assert reaction_mu({"CH3COOH": 1, "H2": -0.5}, e) == pytest.approx(-26.6)


def test_symmetric_surface_energy_by_hand():
    # Zn8Se8 slab, E = -40 eV, bulk -5.5 eV per ZnSe, area 20 Å^2 per face:
    # gamma = (-40 - 8 x (-5.5)) / (2 x 20) = 0.1 eV/Å^2
    mu = {"Zn": -1.2, "Se": -4.3}
    g = symmetric_surface_energy(-40.0, {"Zn": 8, "Se": 8}, mu, 20.0)
    assert g == pytest.approx(0.1)
    assert to_mev_per_a2(g) == pytest.approx(100.0)
    assert to_j_per_m2(g) == pytest.approx(1.602176634)
    # non-stoichiometric: one extra Zn costs mu_Zn
    g2 = symmetric_surface_energy(-41.5, {"Zn": 9, "Se": 8}, mu, 20.0)
    assert g2 == pytest.approx((-41.5 - 9 * -1.2 - 8 * -4.3) / 40.0)


def test_interfacial_energy_factor_two_and_added_atoms():
    mu = {"Zn": -1.2, "Se": -4.3, "acetate": -26.6}
    # two faces, each gains 2 Zn + 2 Se (shell) and 2 acetates; area 30 Å^2
    added = {"Zn": 4, "Se": 4, "acetate": 4}
    e_bare, e_cov = -300.0, -300.0 + 4 * (-5.5) + 4 * (-26.6) - 1.2
    g = interfacial_energy(0.05, e_cov, e_bare, added, mu, 30.0, n_faces=2)
    assert g == pytest.approx(0.05 - 1.2 / 60.0)
    # the same numbers for a one-faced (polar, passivated) slab: twice the change
    g1 = interfacial_energy(0.05, e_cov, e_bare, added, mu, 30.0, n_faces=1)
    assert g1 - 0.05 == pytest.approx(2 * (g - 0.05))


def test_binding_energy_sign():
    # F binds: E(slab+F) below E(slab) + mu_F
    assert binding_energy(-101.6, -100.0, 0.0) == pytest.approx(-1.6)
    # symmetric slab with one F per face
    assert binding_energy(-103.2, -100.0, 0.0, n_sites=2) == pytest.approx(-1.6)
    assert binding_energy(-99.0, -100.0, -0.5) > 0  # unbound


def test_optimal_coverage_interior_and_end():
    thetas = [0.25, 0.5, 0.625, 0.75, 1.0]
    gammas = [0.030, 0.020, 0.0150, 0.0175, 0.030]
    opt = optimal_coverage(thetas, gammas)
    assert 0.5 <= opt.theta <= 0.75 and opt.gamma <= 0.015 + 1e-12
    assert "parabola" in opt.method
    end = optimal_coverage([0.25, 0.5, 1.0], [0.03, 0.02, 0.01])
    assert end.theta == 1.0 and "end" in end.method
    gap = optimal_coverage([0.25, 0.5, 1.0], [0.03, float("nan"), 0.01])
    assert gap.theta == 1.0


def test_matches_pymatgen_slabentry(quick_records):
    from pymatgen.analysis.surface_analysis import SlabEntry
    from pymatgen.entries.computed_entries import ComputedStructureEntry
    from pymatgen.io.ase import AseAtomsAdaptor

    rec = next(r for r in quick_records if r.id == "110_bare")  # stoichiometric InAs(110)
    atoms = rec.atoms
    n = atoms.get_chemical_symbols().count("In")
    e_bulk_fu = -8.1
    area = float(np.linalg.norm(np.cross(atoms.cell[0], atoms.cell[1])))  # Å^2, unrounded
    assert area == pytest.approx(rec.record.area_A2, abs=1e-6)
    e_slab = n * e_bulk_fu + 2 * area * 0.0423  # a slab with gamma = 42.3 meV/Å^2
    structure = AseAtomsAdaptor.get_structure(atoms)
    slab_entry = SlabEntry(structure, e_slab, (1, 1, 0))
    bulk = next(r for r in quick_records if r.id == "ref_bulk_InAs").atoms
    ucell = ComputedStructureEntry(AseAtomsAdaptor.get_structure(bulk), 2 * e_bulk_fu / 2
                                   * bulk.get_chemical_symbols().count("In"))
    theirs = float(slab_entry.surface_energy(ucell))
    ours = symmetric_surface_energy(e_slab, {"In": n, "As": n},
                                    {"In": -3.0, "As": e_bulk_fu + 3.0}, area)
    assert ours == pytest.approx(0.0423)
    assert theirs == pytest.approx(ours, rel=1e-9)
