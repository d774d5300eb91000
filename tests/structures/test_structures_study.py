"""Checks of every structure of the paper study (issue: structure builder)."""

from collections import Counter

import numpy as np
import pytest
from ase.neighborlist import neighbor_list

from facetflow.structures import REGION_ADDITIVE, REGION_LIGAND, REGION_PSEUDO_H
from facetflow.structures.materials import pseudo_h_charge
from facetflow.structures.symmetry import face_swap_operation, maps_onto_itself


def slab_records(records):
    return [r for r in records if r.record.role != "reference"]


def test_no_atoms_too_close(paper_records):
    for r in paper_records:
        a = r.atoms
        i, j, d = neighbor_list("ijd", a, 0.8)
        sym = np.array(a.get_chemical_symbols())
        for ii, jj, dd in zip(i, j, d, strict=True):
            limit = 0.7 if "H" in (sym[ii], sym[jj]) else 0.8
            assert dd >= limit, f"{r.id}: atoms {ii}, {jj} at {dd:.2f} Å"
        # nothing at all closer than 0.7 Å
        assert len(neighbor_list("i", a, 0.7)) == 0, r.id


def test_vacuum_above_12_angstrom(paper_records):
    for r in slab_records(paper_records):
        z = r.atoms.positions[:, 2]
        gap = r.atoms.cell[2, 2] - (z.max() - z.min())
        assert gap > 12.0, f"{r.id}: vacuum {gap:.2f} Å"


def test_symmetric_slabs_map_onto_themselves(paper_records):
    checked = 0
    for r in slab_records(paper_records):
        if not r.record.symmetric:
            continue
        op = face_swap_operation(r.atoms)
        assert op is not None, f"{r.id}: no face-swapping operation"
        assert op.swaps_faces
        assert maps_onto_itself(r.atoms, op), r.id
        checked += 1
    assert checked > 50


def test_polar_111_is_asymmetric_with_pseudo_h(paper_records):
    recs = [r for r in paper_records if r.record.facet_label == "111"]
    assert recs and all(r.record.symmetric is False for r in recs)
    for r in recs:
        assert face_swap_operation(r.atoms) is None
        assert (r.atoms.arrays["region"] == REGION_PSEUDO_H).sum() > 0


def test_pseudo_h_charges_and_counts_follow_electron_counting(paper_records):
    for r in slab_records(paper_records):
        a = r.atoms
        hs = np.flatnonzero(a.arrays["region"] == REGION_PSEUDO_H)
        if r.record.role == "passivation":  # pseudo-H on both faces, each face closed-shell
            assert len(hs) > 0 and r.record.symmetric
            assert r.record.electron_count.faces["top"] == pytest.approx(0.0, abs=1e-9)
            assert r.record.electron_count.faces["bottom"] == pytest.approx(0.0, abs=1e-9)
            continue
        if r.record.symmetric:
            assert len(hs) == 0, r.id
            continue
        heavy = np.flatnonzero(a.arrays["plane"] >= 0)
        bottom = heavy[a.arrays["plane"][heavy] == 0]
        # one pseudo-H per dangling bond of the bottom plane: As on (111) has one
        assert len(hs) == len(bottom), r.id
        for h in hs:
            d = a.get_distances(h, heavy, mic=True)
            host = heavy[np.argmin(d)]
            assert host in bottom
            assert a.arrays["pseudo_h_charge"][h] == pytest.approx(
                pseudo_h_charge(a[host].symbol))
        # the passivated face is closed-shell by electron counting
        assert r.record.electron_count.faces["bottom"] == pytest.approx(0.0, abs=1e-9), r.id


def test_electron_count_ionic_equals_bond_resolved(paper_records):
    for r in slab_records(paper_records):
        ec = r.record.electron_count
        assert sum(ec.faces.values()) == pytest.approx(ec.excess_electrons, abs=1e-9), r.id
        if r.record.symmetric:
            assert ec.faces["top"] == pytest.approx(ec.faces["bottom"], abs=1e-9)


def test_coverage_counts_match_theta(paper_records):
    for r in paper_records:
        if r.record.role != "ligands":
            continue
        a = r.atoms
        lid = a.arrays["ligand_id"][a.arrays["region"] == REGION_LIGAND]
        n_ads = len(set(lid.tolist()))
        expected = r.record.theta * r.record.n_surface_cations * r.record.n_faces
        assert n_ads == pytest.approx(expected), r.id
        assert r.record.n_ligands == round(r.record.theta * r.record.n_surface_cations)


def test_variants_replace_exactly_one_ligand_per_face(paper_records):
    by_id = {r.id: r for r in paper_records}
    n = 0
    for r in paper_records:
        if r.record.role not in ("variant", "binding"):
            continue
        parent = by_id[r.record.parent]
        per_face = r.record.n_faces
        lig_parent = len(set(parent.atoms.arrays["ligand_id"][
            parent.atoms.arrays["region"] == REGION_LIGAND].tolist()))
        lig_now = len(set(r.atoms.arrays["ligand_id"][
            r.atoms.arrays["region"] == REGION_LIGAND].tolist()))
        assert lig_now == lig_parent - per_face, r.id
        add = r.atoms.arrays["region"] == REGION_ADDITIVE
        if r.record.variant == "vacancy":
            assert not add.any()
        else:
            assert len(set(r.atoms.arrays["ligand_id"][add].tolist())) == per_face
            syms = Counter(np.array(r.atoms.get_chemical_symbols())[add].tolist())
            assert r.record.variant in ("F", "HF", "Se", "ZnSe")
            assert syms["F" if "F" in r.record.variant else r.record.variant[-2:]] > 0
        n += 1
    assert n > 50


def test_roles_and_variants_present(paper_records):
    roles = Counter(r.record.role for r in paper_records)
    assert roles["bare"] == 3 and roles["shell"] == 3
    variants = Counter(r.record.variant for r in paper_records if r.record.variant)
    for v in ("F", "HF", "vacancy", "Se", "ZnSe"):
        assert variants[v] > 0, v
    # the {111} sweep resolves 0.625 acetate per surface Zn
    thetas = {r.record.theta for r in paper_records
              if r.record.facet_label == "111"
              and r.record.ligand == "acetate"}
    assert 0.625 in thetas and 0.5 in thetas and 0.75 in thetas
    refs = {r.record.reference for r in paper_records if r.record.role == "reference"}
    assert {"bulk:InAs", "bulk:ZnSe", "bulk:Zn", "CH3COOH", "H2", "HF"} <= refs
    # the growth species and F priced from the synthesis's precursors
    assert {"Me3PSe", "Me3P", "ZnOAc2", "ZnF2"} <= refs


def test_build_is_deterministic(paper_records):
    from conftest import full_catalog

    again = full_catalog("inas_znse_fluoride", 0.375)
    assert [r.id for r in again] == [r.id for r in paper_records]
    for a, b in zip(again, paper_records, strict=True):
        assert a.atoms.get_chemical_symbols() == b.atoms.get_chemical_symbols()
        assert np.allclose(a.atoms.positions, b.atoms.positions, atol=1e-8), a.id


def test_symmetry_unique_count_below_raw(paper_records):
    seen = 0
    for r in paper_records:
        if r.record.role == "ligands":
            note = r.record.notes[0]
            raw, unique = int(note.split()[0]), int(note.split(",")[1].split()[0])
            assert unique <= raw
            if r.record.theta not in (1.0,) and raw > 1:
                assert unique < raw, r.id
                seen += 1
    assert seen > 10


def test_binding_structures_wait_for_theta_star():
    """binding.coverages: optimal -> no binding structures before theta* is known; then
    exactly those of the arrangement named as the optimum, for each facet and ligand."""
    from conftest import STUDIES, optimum_at

    from facetflow.structures.catalog import build_catalog, deferred_binding
    from facetflow.study import load_study

    study = load_study(STUDIES / "inas_znse_fluoride.yaml")
    assert deferred_binding(study)
    first = build_catalog(study, STUDIES)
    assert not [r for r in first if r.record.role == "binding"]
    # the variants (Fig. 2g: F/HF at every coverage) do not wait
    assert {r.record.theta for r in first
            if r.record.role == "variant" and r.record.facet_label == "111"} == {
        0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1.0}
    optimum = optimum_at(study, 0.625)
    optimum["110"] = {"acetate": "110_acetate_t0.500_c0"}  # one facet, one ligand only
    second = build_catalog(study, STUDIES, optimum)
    binding = [r for r in second if r.record.role == "binding"]
    parents = {(r.record.facet_label, r.record.ligand): r.record.parent for r in binding}
    assert parents == {("100", "acetate"): "100_acetate_t0.625_c0",
                       ("111", "acetate"): "111_acetate_t0.625_c0",
                       ("110", "acetate"): "110_acetate_t0.500_c0"}
    # a vacancy and the facet's growth species per (facet, ligand)
    assert sorted(r.id for r in binding if r.record.facet_label == "110") == [
        "110_acetate_t0.500_c0_ZnSe0", "110_acetate_t0.500_c0_vac0"]
    # everything else is the same structure as in the first stage
    same = {r.id: r for r in first}
    assert all(r.id in same for r in second if r.record.role != "binding")
    assert len(second) == len(first) + len(binding)


def test_relationships_are_fields_that_name_built_structures(paper_records):
    """Every relationship a record states names a structure of the catalog: parents,
    the vacancy a binding energy is taken against (same position, same arrangement),
    and the arrangement a shared vacancy belongs to."""
    by_id = {s.id: s.record for s in paper_records}
    for rec in by_id.values():
        for rel in (rec.parent, rec.binding_parent, rec.vacancy, rec.defect_structure):
            assert rel is None or rel in by_id, (rec.id, rel)
        if rec.vacancy is not None:
            vac = by_id[rec.vacancy]
            assert vac.variant == "vacancy" and vac.site == rec.site
            assert rec.parent in (vac.parent, vac.binding_parent)
        if rec.role in ("variant", "binding"):
            assert rec.site is not None and rec.multiplicity >= 1
    assert any(r.vacancy for r in by_id.values())
