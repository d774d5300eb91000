"""The wurtzite CdSe rods study: the full study builds with four-index labels and
CdSe-only references; its reduced-cell variant (tests/data/cdse_rods_small.yaml) runs end
to end on the embedded engine and reports the rod's aspect ratio along c."""

import json

from conftest import DATA, STUDIES, optimum_at, run_cli

FACETS = {"0001_Cd", "000m1_Se", "10m10", "11m20"}


def test_full_study_builds_with_four_index_labels_and_its_own_references():
    from facetflow.structures.catalog import build_catalog
    from facetflow.study import load_study

    study = load_study(STUDIES / "cdse_rods.yaml")
    assert {f.label for f in study.facets} == FACETS
    records = [s.record for s in build_catalog(study, STUDIES, optimum_at(study, 0.5))]
    ids = {r.id for r in records}
    assert {"10m10_bare", "11m20_bare", "pass_0001_Cd", "pass_0001_Se"} <= ids
    refs = {r.reference for r in records if r.role == "reference"}
    assert {"bulk:CdSe_wz", "bulk:Cd"} <= refs and not any("Zn" in k for k in refs)
    # both ligands on the cation faces, none on the Se face; Se binds where they do
    ligands = {(r.facet_label, r.ligand) for r in records if r.role == "ligands"}
    assert ligands == {(f, lig) for f in FACETS - {"000m1_Se"}
                       for lig in ("acetate", "methylamine")}
    assert any(r.id.startswith("10m10_acetate") and r.id.endswith("_Se0") for r in records)


def test_small_cdse_rods_run_end_to_end(tmp_path):
    proc = run_cli("run", str(DATA / "cdse_rods_small.yaml"), "--work", str(tmp_path),
                   "--no-pictures", "--no-progress")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    wd = tmp_path / "cdse_rods_small"
    summary = json.loads((wd / "report" / "summary.json").read_text())
    assert set(summary["facets"]) == FACETS
    assert summary["facets"]["11m20"]["miller"] == [1, 1, -2, 0]
    case = summary["growth"]["cases"]["without additive"]
    assert set(case["rates"]) == FACETS
    assert case["rates"]["000m1_Se"] == 1.0  # free of ligands: the fastest
    shape = case["shape"]
    assert shape["point_group"] == "6mm" and shape["aspect_ratio_c"] > 0, shape
    assert set(shape["facet_area_fractions"]) <= {"0001", "000-1", "10-10", "11-20"}
    words = "rod" if shape["aspect_ratio_c"] > 1.05 else "platelet" \
        if shape["aspect_ratio_c"] < 0.95 else "isometric"
    assert f"6mm): {words}, aspect ratio along c {shape['aspect_ratio_c']:.2f}" in proc.stdout
