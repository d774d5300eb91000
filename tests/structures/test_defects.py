"""Surface point defects (studies/zns110_defects.yaml; the ``defects`` study section):
symmetry-unique positions, the defective structures, ligands next to defects, spec
checks, and one real CHGNet run of the reduced study tests/data/zns_defects_tiny.yaml
(E_f per chemical-potential limit, the passivation effect, the report)."""

import csv

import numpy as np
import pytest
from conftest import STUDIES, spec_problems


@pytest.fixture(scope="module")
def zns_records():
    from facetflow.structures.catalog import build_catalog
    from facetflow.study import load_study

    return {r.id: r for r in build_catalog(load_study(STUDIES / "zns110_defects.yaml"),
                                           STUDIES)}


@pytest.fixture(scope="module")
def zns_slab():
    from facetflow.structures.materials import get_compound
    from facetflow.structures.slab import SlabRequest, build_facet_slabs

    req = SlabRequest(get_compound("ZnS"), (1, 1, 0), monolayers=7,
                      supercell=((3, 0), (0, 2)), termination="stoichiometric",
                      fixed_monolayers=3)
    return build_facet_slabs(req).bare


def _inequivalent(points, slab, tol=0.1):
    """No surface operation maps one of ``points`` onto another."""
    from facetflow.structures.coverage import _min_image_distances
    from facetflow.structures.symmetry import surface_operations

    cell = slab.atoms.cell[:]
    pts = np.array(points, float)
    for op in surface_operations(slab.atoms):
        d = _min_image_distances(op.apply_cartesian(pts, cell), pts, cell)
        np.fill_diagonal(d, np.inf)
        if np.any(d < tol):
            return False
    return True


def test_vacancies_one_per_orbit_covering_every_atom(zns_slab):
    from facetflow.structures.defects import vacancy_sites

    plane = zns_slab.atoms.arrays["plane"]
    symbols = np.array(zns_slab.atoms.get_chemical_symbols())
    for el in ("S", "Zn"):
        for layers in (1, 2, 3):
            sites = vacancy_sites(zns_slab, el, layers)
            top = plane.max()
            n_atoms = int(np.count_nonzero((symbols == el) & (plane > top - layers)))
            # every candidate atom is in exactly one orbit, and no two kept are equivalent
            assert sum(s.multiplicity for s in sites) == n_atoms
            assert len(sites) == layers  # one orbit per plane on zincblende (110)
            assert sorted(s.layer for s in sites) == list(range(layers))
            assert _inequivalent([s.position for s in sites], zns_slab)
            assert all(symbols[s.index] == el for s in sites)


def test_interstitials_are_empty_inequivalent_sites(zns_slab):
    from facetflow.structures.coverage import _min_image_distances
    from facetflow.structures.defects import MIN_CLEARANCE, defect_sites

    sites = defect_sites(zns_slab, "S_int", 2, 20)
    assert len(sites) >= 2
    assert _inequivalent([s.position for s in sites], zns_slab)
    z = zns_slab.atoms.positions[:, 2]
    plane = zns_slab.atoms.arrays["plane"]
    z_top = z[plane == plane.max()].mean()
    z_low = z[plane == plane.max() - 2].mean()
    bond = 5.4102 * np.sqrt(3) / 4
    for s in sites:
        d = _min_image_distances(np.array([s.position]), zns_slab.atoms.positions,
                                 zns_slab.atoms.cell[:]).min()
        assert d == pytest.approx(s.clearance, abs=1e-6)
        assert d >= MIN_CLEARANCE * bond * 0.99
        assert z_low < s.position[2] < z_top
        assert s.multiplicity >= 6  # at least the 3x2 in-plane translations
    # surface first: positions are ordered by decreasing height
    heights = [round(s.position[2], 1) for s in sites]
    assert heights == sorted(heights, reverse=True)


def test_defect_structures_change_two_atoms_and_keep_both_faces_alike(zns_records):
    from facetflow.structures.symmetry import face_swap_operation

    bare = zns_records["110_bare"].atoms
    n0 = dict(zip(*np.unique(bare.get_chemical_symbols(), return_counts=True), strict=True))
    defects = [r for r in zns_records.values() if r.record.role == "defect"]
    assert sorted({r.record.defect for r in defects}) == ["S_int", "V_S", "V_Zn", "Zn_int"]
    assert len(defects) == 8  # 4 kinds x max_sites 2
    for r in defects:
        n = dict(zip(*np.unique(r.atoms.get_chemical_symbols(), return_counts=True),
                     strict=True))
        el = r.record.defect[2:] if r.record.defect.startswith("V_") else r.record.defect[:-4]
        sign = -1 if r.record.defect.startswith("V_") else 1
        assert n[el] - n0[el] == 2 * sign and r.record.defect_site.n_defects == 2
        assert all(n[k] == n0[k] for k in n0 if k != el)
        assert face_swap_operation(r.atoms) is not None, r.id
        assert r.record.parent == "110_bare"
        # ionic count of the neutral defect: a missing S2- leaves 2 electrons behind
        ox = {"Zn": 2, "S": -2}[el]
        assert r.record.electron_count.excess_electrons == pytest.approx(2 * sign * ox)


def test_ligand_binds_next_to_the_defect_on_a_remaining_site(zns_records):
    from facetflow.structures.context import resolve
    from facetflow.structures.coverage import SiteGrid, _min_image_distances
    from facetflow.structures.defects import defect_sites
    from facetflow.structures.sites import choose_mode
    from facetflow.structures.slab import build_facet_slabs
    from facetflow.study import load_study

    study = load_study(STUDIES / "zns110_defects.yaml")
    ctx = resolve(study, STUDIES)
    from facetflow.structures.context import facet_request

    slab = build_facet_slabs(facet_request(ctx, study.facets[0])).bare
    with_lig = [r for r in zns_records.values() if r.record.role == "defect_ligand"]
    refs = [r for r in zns_records.values() if r.record.role == "defect_reference"]
    assert len(with_lig) == len(refs) == 8 * 3
    for name in ("acetate", "methylamine", "benzonitrile"):
        lig = ctx.ligands[name]
        mode, sites = choose_mode(slab, lig)
        grid = SiteGrid(slab, lig, mode, sites)
        for kind in ("V_S", "V_Zn", "S_int", "Zn_int"):
            site = defect_sites(slab, kind, 2, 2)[0]
            rec = zns_records[f"110_{kind}_0_{name}"]
            k = rec.record.defect_site.ligand_site
            if site.vacancy:
                assert site.index not in grid.sites[k].atoms
            allowed = [j for j, s in enumerate(grid.sites)
                       if not (site.vacancy and site.index in s.atoms)]
            d = [float(_min_image_distances(grid.sites[j].center[None],
                                            np.array([site.position]),
                                            slab.atoms.cell[:])[0, 0]) for j in allowed]
            assert float(_min_image_distances(grid.sites[k].center[None],
                                              np.array([site.position]),
                                              slab.atoms.cell[:])[0, 0]) <= min(d) + 1e-6
            # the reference is the pristine slab plus the same ligand, twice (both faces)
            ref = zns_records[rec.record.parent]
            assert ref.record.role == "defect_reference" and ref.record.parent == "110_bare"
            extra = len(ref.atoms) - len(zns_records["110_bare"].atoms)
            assert extra == 2 * len(lig.symbols)


@pytest.mark.parametrize("edit, path", [
    (lambda d: d["defects"].update(kinds=["V_Se"]), "defects.kinds.0"),
    (lambda d: d["defects"].update(kinds=["Vac_S"]), "defects.kinds.0"),
    (lambda d: d["defects"].update(ligands=["no_such_ligand"]), "defects.ligands.0"),
    (lambda d: d["defects"].update(facets=["111"]), "defects.facets.0"),
    (lambda d: d["facets"][0].update(symmetric=False), "facets.0.symmetric"),
    (lambda d: d["facets"].append({"miller": [1, 1, 1], "supercell": [2, 2]}),
     "facets.1.symmetric"),  # polar {111}: asymmetric by default
    (lambda d: d["defects"].update(limits=["zinc-rich"]), "defects.limits.0"),
])
def test_defects_spec_errors_name_the_field(edit, path):
    problems = spec_problems(STUDIES / "zns110_defects.yaml", edit, "zns")
    assert any(p.path == path for p in problems), problems


# ---------------------------------------------------------------- one real run


@pytest.fixture(scope="module")
def tiny(zns_defects_run):
    return zns_defects_run


def _energies(wd):
    with open(wd / "report" / "energies.csv") as fh:
        return {r["id"]: float(r["energy_eV"]) for r in csv.DictReader(fh) if r["energy_eV"]}


def test_limits_share_the_bulk_and_differ_by_the_formation_enthalpy(tiny):
    wd, s = tiny
    d = s["defects"]
    e = _energies(wd)
    lims = d["limits"]
    assert lims["cation-rich"]["name"] == "Zn-rich" and lims["anion-rich"]["name"] == "S-rich"
    for lim in lims.values():
        assert lim["mu"]["Zn"] + lim["mu"]["S"] == pytest.approx(e["ref_bulk_ZnS"] / 1,
                                                                 abs=1e-9)
    assert lims["anion-rich"]["mu"]["S"] == pytest.approx(e["ref_mol_S8"] / 8, abs=1e-12)
    assert lims["cation-rich"]["mu"]["Zn"] == pytest.approx(e["ref_bulk_Zn"] / 2, abs=1e-12)
    dh = d["formation_enthalpy"]["value"]
    assert dh == pytest.approx(e["ref_bulk_ZnS"] - e["ref_bulk_Zn"] / 2 - e["ref_mol_S8"] / 8)
    assert dh < 0  # ZnS is stable against Zn metal and S8


def test_formation_energies_per_limit(tiny):
    wd, s = tiny
    d = s["defects"]
    e = _energies(wd)
    dh = d["formation_enthalpy"]["value"]
    plain = [x for x in d["entries"] if x["ligand"] is None]
    assert {x["defect"] for x in plain} == {"V_S", "Zn_int"}
    for x in d["entries"]:
        ef = x["E_f"]
        assert None not in ef.values()
        # E_f(cation-rich) - E_f(anion-rich) = -sum dn_i dmu_i / n: a sulfur vacancy is
        # cheaper by exactly |dH_f| under Zn-rich conditions, a Zn interstitial likewise
        shift = {"V_S": dh, "Zn_int": dh}[x["defect"]]
        assert ef["cation-rich"] - ef["anion-rich"] == pytest.approx(shift, abs=1e-9)
        # recomputed from the energies: [E - E_ref - sum dn mu] / n
        mu = d["limits"]["cation-rich"]["mu"]
        want = (e[x["structure"]] - e[x["reference"]] -
                sum(n * mu[el] for el, n in x["dn"].items())) / x["n_defects"]
        assert ef["cation-rich"] == pytest.approx(want, abs=1e-9)


def test_passivation_effect_is_limit_free_and_a_binding_difference(tiny):
    _wd, s = tiny
    d = s["defects"]
    plain = {(x["defect"], x["site"]): x for x in d["entries"] if x["ligand"] is None}
    with_lig = [x for x in d["entries"] if x["ligand"] == "benzonitrile"]
    assert len(with_lig) == 2
    for x in with_lig:
        base = plain[x["defect"], x["site"]]
        for lim in ("cation-rich", "anion-rich"):
            assert x["E_f"][lim] - base["E_f"][lim] == pytest.approx(x["dE_f"], abs=1e-9)
        assert x["E_b_ligand_at_defect"] - x["E_b_ligand_pristine"] == pytest.approx(
            x["dE_f"], abs=1e-9)
    # the ligand from the XYZ file is its own reference molecule
    mu = s["chemical_potentials"]["benzonitrile"]["value"]
    assert mu == pytest.approx(s["references"]["benzonitrile"]["energy"])


def test_report_has_the_defect_table_and_figure(tiny):
    wd, s = tiny
    rep = wd / "report"
    with open(rep / "defects.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2 * len(s["defects"]["entries"])
    assert {r["limit_name"] for r in rows} == {"Zn-rich", "S-rich"}
    html = (rep / "report.html").read_text()
    assert "Point defects" in html and "Zn-rich limit" in html and "S-rich limit" in html
    assert "with benzonitrile" in html and "V_S" in html and "Zn_int" in html
    for ext in ("png", "svg"):
        assert (rep / f"defects.{ext}").stat().st_size > 1000
    svg = (rep / "defects.svg").read_text()
    assert "defect:cation-rich|110|V_S|benzonitrile" in svg
