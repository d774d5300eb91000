"""Perovskite slabs and ligands that replace surface atoms (studies/cspbi3_ligands.yaml):
both (100) terminations under facet names, charge-neutral replacements, replacement
sites closed under symmetry, spec checks, and one real CHGNet run of the reduced study
tests/data/cspbi3_tiny.yaml (binding energies where the paper comparison looks for them)."""

import csv
from collections import Counter

import numpy as np
import pytest
from conftest import DATA, STUDIES, finished_run, spec_problems

from facetflow.structures.ids import replacement_id, slab_id

TINY = DATA / "cspbi3_tiny.yaml"


@pytest.fixture(scope="module")
def study():
    from facetflow.study import load_study

    return load_study(STUDIES / "cspbi3_ligands.yaml")


@pytest.fixture(scope="module")
def records(study):
    from conftest import optimum_at

    from facetflow.structures.catalog import build_catalog

    return {r.id: r for r in build_catalog(study, STUDIES, optimum_at(study, 0.25))}


def _counts(atoms):
    return Counter(atoms.get_chemical_symbols())


def test_both_terminations_are_symmetric_neutral_and_named(records):
    from facetflow.structures.symmetry import face_swap_operation

    for label, term, other in (("100_CsI", "CsI", "PbI2"), ("100_PbI2", "PbI2", "CsI")):
        bare = records[slab_id(label, capped=False)]
        assert bare.record.facet_label == label and bare.record.termination == term
        assert bare.record.electron_count.excess_electrons == 0  # non-polar: no net charge
        assert face_swap_operation(bare.atoms) is not None
        plane = bare.atoms.arrays["plane"]
        symbols = np.array(bare.atoms.get_chemical_symbols())
        formulas = Counter()
        for k in range(plane.max() + 1):
            c = Counter(symbols[plane == k])
            per_cell = min(c.values())
            formulas["".join(f"{el}{n // per_cell if n // per_cell > 1 else ''}"
                             for el, n in sorted(c.items(), key=lambda t: t[0] != "Cs"))] += 1
        # the outer planes carry the termination: one more of them than of the other kind
        assert formulas[term] == formulas[other] + 1, formulas


def test_replacing_ligands_keep_the_cell_neutral(records, study):
    from facetflow.structures.ligands import get_ligand

    bare = _counts(records["100_CsI_bare"].atoms)
    for ls in study.ligands:
        for rid, r in records.items():
            if r.record.role != "ligands" or r.record.ligand != ls.name:
                continue
            lig = get_ligand(ls.name)
            got = _counts(r.atoms)
            want = bare.copy() if ls.replaces else _counts(records[r.record.parent].atoms)
            if ls.replaces:
                want[ls.replaces] -= 2  # one surface atom per face
            for el, n in Counter(lig.symbols).items():
                want[el] += 2 * n
            assert +got == +want, rid
            # an X-type anion for I-, an ammonium for Cs+, a neutral amine on Pb: charge 0
            assert r.record.electron_count.excess_electrons == 0, rid
            vac = records[replacement_id(rid, "vacancy", 0)]
            if ls.replaces:
                missing = bare.copy()
                missing[ls.replaces] -= 2
                assert +_counts(vac.atoms) == +missing
                ox = {"Cs": 1, "I": -1}[ls.replaces]
                assert vac.record.electron_count.excess_electrons == -2 * ox  # sum of ox. states
                assert "in place of a surface " + ls.replaces in " ".join(r.record.notes)


def test_ligand_structures_keep_both_faces_alike(records):
    """The bottom face carries the mirror image of the top face's ligand, also when the
    ligand sits down in the outer plane (a replaced surface atom's site)."""
    from facetflow.structures.symmetry import face_swap_operation

    for rid, r in records.items():
        if r.record.role not in ("ligands", "binding"):
            continue
        a = r.atoms
        assert face_swap_operation(a) is not None, rid
        lid = a.arrays["ligand_id"]
        z = a.positions[:, 2]
        if lid.max() < 1:
            continue
        slab = lid < 0
        mid = (z[slab].min() + z[slab].max()) / 2
        top, bottom = z[lid == 0].mean(), z[lid == 1].mean()
        assert top + bottom == pytest.approx(2 * mid, abs=0.05), rid
        bare = records[slab_id(r.record.facet_label, capped=False)]
        assert a.cell[2, 2] < bare.atoms.cell[2, 2] + 25, rid


def test_ligands_are_built_only_on_their_facets(records, study):
    for ls in study.ligands:
        facets = {r.record.facet_label for r in records.values() if r.record.role == "ligands" and
                  r.record.ligand == ls.name}
        assert facets == set(ls.facets)


def test_replacement_sites_cover_the_surface_and_are_symmetry_closed(records, study):
    from facetflow.structures.context import facet_request, resolve
    from facetflow.structures.coverage import SiteGrid
    from facetflow.structures.ligands import get_ligand
    from facetflow.structures.sites import replaced_host, replacement_sites
    from facetflow.structures.slab import build_facet_slabs

    ctx = resolve(study, STUDIES)
    slab = build_facet_slabs(facet_request(ctx, study.facets[0])).bare
    symbols = slab.atoms.get_chemical_symbols()
    surf = {el: [i for i in slab.surface_indices if symbols[i] == el] for el in ("Cs", "I")}
    assert len(surf["Cs"]) == len(surf["I"]) == 4  # 2x2 CsI plane
    # Cs sits over a hollow (no host), the surface I straight above a Pb
    assert all(replaced_host(slab, i) is None for i in surf["Cs"])
    hosts = [replaced_host(slab, i) for i in surf["I"]]
    assert all(h is not None and symbols[h] == "Pb" for h in hosts)
    for name, el, mode, per_atom in (("methylammonium", "Cs", "atop", 1),
                                     ("PF6", "I", "atop", 1),
                                     ("acetate", "I", "chelating", 2)):
        sites = replacement_sites(slab, get_ligand(name), mode, el)
        assert len(sites) == per_atom * len(surf[el])  # chelating: both in-plane axes
        assert sorted({s.removes[0] for s in sites}) == sorted(surf[el])
        grid = SiteGrid(slab, get_ligand(name), mode, sites)  # raises if not closed
        assert len(grid.sites) == len(sites) and grid.perms.shape[1] == len(sites)
    # the anchor of an X-type ligand sits at the Pb-O/Pb-F bond length above the Pb
    from facetflow.structures.sites import anchor_bond

    for s in replacement_sites(slab, get_ligand("PF6"), "atop", "I"):
        host = replaced_host(slab, s.removes[0])
        d = np.linalg.norm(s.targets[0] - slab.atoms.positions[host])
        assert d == pytest.approx(anchor_bond("F", "Pb"), abs=1e-6)


def test_ligands_replacing_iodide_share_one_vacancy_calculation(records, study):
    """Every X-type ligand in place of a surface iodide is bound against the same slab
    with that iodide removed: one structure, relaxed once from the relaxed bare slab."""
    from facetflow.workflows.plan import build_plan

    plan = build_plan(study, list(records.values()))
    vac = {rid: r for rid, r in records.items()
           if r.record.role == "binding" and r.record.facet_label == "100_CsI"
           and r.record.ligand in ("acetate", "naphthalenesulfonate", "PF6", "iodide")}
    assert len(vac) == 4 and len({plan.records[k].calc for k in vac}) == 1
    for rid, r in vac.items():
        assert r.record.parent == "100_CsI_bare"
        assert replacement_id(r.record.binding_parent, "vacancy", 0) == rid
    ma = records["100_CsI_methylammonium_t0.250_c0_vac0"]  # a Cs vacancy: its own
    assert plan.records[ma.id].calc not in {plan.records[k].calc for k in vac}


@pytest.mark.parametrize("edit, path", [
    (lambda d: d["ligands"][0].update(replaces="Zn"), "ligands.0.replaces"),
    (lambda d: d["ligands"][0].update(replaces="cesium"), "ligands.0.replaces"),
    (lambda d: d["ligands"][0].update(facets=["111"]), "ligands.0.facets.0"),
    (lambda d: d["facets"][1].update(name="100_CsI"), "facets.1"),
    (lambda d: (d["facets"][0].pop("name"), d["facets"][1].update(name="100")),
     "facets.1.name"),
    (lambda d: [f.pop("name") for f in d["facets"]], "facets.1"),
])
def test_spec_errors_name_the_field(edit, path):
    problems = spec_problems(STUDIES / "cspbi3_ligands.yaml", edit, "cspbi3")
    assert any(p.path == path for p in problems), problems


# ---------------------------------------------------------------- one real run


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return finished_run(tmp_path_factory, TINY, "cspbi3_tiny")


def test_binding_energies_live_under_the_facet_names(tiny):
    wd, s, stdout = tiny
    with open(wd / "report" / "energies.csv") as fh:
        e = {r["id"]: float(r["energy_eV"]) for r in csv.DictReader(fh) if r["energy_eV"]}
    assert set(s["facets"]) == {"100_CsI", "100_PbI2"}
    got = {(k, b["species"]): b for k, f in s["facets"].items() for b in f["binding"]}
    assert set(got) == {("100_CsI", "methylammonium"), ("100_CsI", "PF6"),
                        ("100_CsI", "iodide"), ("100_PbI2", "methylamine")}
    mu = s["chemical_potentials"]
    for (_facet, species), b in got.items():
        assert b["role"] == "ligand" and b["ligand"] == species and b["n_sites"] == 2
        want = (e[b["structure"]] - e[b["reference"]] - 2 * mu[species]["value"]) / 2
        assert b["value"] == pytest.approx(want, abs=1e-9)
    # the ligand's reaction: mu_PF6 = E(PF5) + E(HF) - E(H2)/2
    refs = s["references"]
    assert mu["PF6"]["value"] == pytest.approx(refs["PF5"]["energy"] + refs["HF"]["energy"]
                                               - 0.5 * refs["H2"]["energy"])
    # perovskite cation-rich corner: Cs and Pb metals, I from the rest
    fu = refs["bulk:CsPbI3"]["energy"]
    assert mu["Cs"]["value"] + mu["Pb"]["value"] + 3 * mu["I"]["value"] == pytest.approx(fu)
    assert "{100_CsI} E_b(PF6)" in stdout


def test_paper_comparison_reads_these_entries(tiny):
    _wd, s, _ = tiny
    rows = {r["id"]: r for r in s["paper_comparison"]}
    assert set(rows) == {"OAm", "OAmH+", "NSA", "PF6"}
    # NSA is not in the reduced study: that finding cannot be judged, the others can
    assert rows["NSA"]["verdict"] == "not computed"
    for key in ("OAm", "OAmH+"):
        assert rows[key]["verdict"] in ("agrees", "disagrees")
        assert "n/a" not in rows[key]["this_run"]
    html = (_wd / "report" / "report.html").read_text()
    assert "{100_CsI}" in html and "Comparison with the paper" in html
