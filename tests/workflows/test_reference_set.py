"""The DFT reference set's studies (studies/reference_set/): valid, and their plans hold
what the set promises (several DFT geometries per structure, the chemistry covered)."""

from collections import Counter

import pytest
from conftest import STUDIES

SET = sorted((STUDIES / "reference_set").glob("*.yaml"))


@pytest.fixture(scope="module")
def plans():
    from facetflow.structures.catalog import build_catalog
    from facetflow.study import load_study
    from facetflow.workflows.plan import build_plan

    out = {}
    for f in SET:
        study = load_study(f)
        records = build_catalog(study)
        out[f.stem] = (study, records, build_plan(study, records))
    return out


def test_reference_set_counts(plans):
    from facetflow.records.structure import Role

    kinds = Counter()
    reactions, species, frames = 0, set(), 0
    for study, records, plan in plans.values():
        assert study.engine.name == "gpaw" and study.engine.prerelax == "mlip"
        assert study.engine.prerelax_settings == {"model": "chgnet"}  # geometries pinned
        kinds.update((n.engine, n.task) for n in plan.nodes.values())
        for r in records:
            rec = r.record
            species |= {rec.ligand, rec.variant} - {None, "vacancy"}
            if rec.role == Role.BINDING and rec.variant == "vacancy":
                reactions += 1  # the ligand's E_b against its vacancy
            if rec.vacancy:
                reactions += 2  # E_b of the species put there, and its exchange
            if rec.defect:
                reactions += len(study.defects.limits)  # E_f in each limit
        for rec in plan.records.values():  # every structure with adsorbates: 3 geometries
            if rec.prerelax_starts:
                assert len(rec.starts) == study.engine.dft_candidates == 3
            if rec.role != Role.REFERENCE:  # frames along the ML relaxation, where asked
                assert set(rec.frames) == {str(n) for n in study.engine.dft_frames}
        frames += len(study.engine.dft_frames) > 0
    assert kinds[("gpaw", "single")] >= 300
    assert reactions >= 60 and frames >= 2
    assert {"acetate", "formate", "zn_acetate", "F", "HF", "Cl", "methylamine",
            "methylammonium", "PF6", "Se", "S", "ZnSe"} <= species
    assert {"refset_inas_znse", "refset_cdse_cds", "refset_zns110", "refset_cspbi3",
            "refset_surface_inas110", "refset_surface_znse110"} == {
                s.name for s, _, _ in plans.values()}


@pytest.mark.parametrize("name,cation,anion", [("surface_inas110", "In", "As"),
                                               ("surface_znse110", "Zn", "Se")])
def test_the_bare_surface_studies_give_a_stoichiometric_symmetric_slab(plans, name, cation,
                                                                       anion):
    """The bare (110) slabs whose gamma every model is compared on: symmetric and
    stoichiometric (gamma = [E - N E(bulk)] / 2A, no chemical potential), 7 planes, one
    GPAW single point at the CHGNet minimum."""
    from facetflow.records.structure import Role

    study, records, plan = plans[name]
    (bare,) = [r.record for r in records if r.record.role == Role.BARE]
    assert bare.symmetric and bare.counts[cation] == bare.counts[anion] == 7  # one pair a plane
    node = plan.nodes[plan.records[bare.id].calc]
    assert (node.engine, node.task) == ("gpaw", "single")
    assert plan.nodes[node.start_from].engine == "mlip"


@pytest.mark.parametrize("pw,lcao", [("basis/surface_inas110_pw", "surface_inas110"),
                                     ("basis/surface_znse110_pw", "surface_znse110"),
                                     ("basis/zns110_pw", "zns110"),
                                     ("basis/pw", "basis/lcao")])
def test_basis_checks_use_the_lcao_studies_geometries(pw, lcao):
    """Each plane-wave basis check is its LCAO counterpart with only the DFT basis changed:
    the same CHGNet pre-relaxations (same hashes, so the same geometries), and GPAW single
    points in plane-wave mode at >= 400 eV for every structure the LCAO study computes (its
    energies, not its frames along the ML relaxations)."""
    from facetflow.structures.catalog import build_catalog
    from facetflow.study import load_study
    from facetflow.workflows.plan import build_plan

    def plan_of(name):
        study = load_study(STUDIES / "reference_set" / f"{name}.yaml")
        return build_plan(study, build_catalog(study))

    a, b = plan_of(pw), plan_of(lcao)
    ml = {p: {h for h, n in plan.nodes.items() if n.engine == "mlip"} for p, plan in
          (("pw", a), ("lcao", b))}
    assert ml["pw"] and ml["pw"] <= ml["lcao"]
    dft = [n for n in a.nodes.values() if n.engine == "gpaw"]
    assert dft and all(n.settings["mode"] == "pw" and n.settings["ecut"] >= 400 for n in dft)
    assert {n.key for n in dft} >= {n.key.split("~")[0] for n in b.nodes.values()
                                     if n.engine == "gpaw" and n.task == "single"
                                     and n.stage == "final"}  # not the frames


def test_the_script_exports_each_study_from_its_latest_pass(tmp_path):
    """scripts/reference_set.sh exports each study from its pass-2 work directory once
    that pass has a plan, else from pass 1's, and leaves out studies not begun; the
    basis data sets take the plane-wave and LCAO directories that exist. The choice of
    directories is under test, so ``echo`` stands in for facetflow and prints the export
    commands the script would run."""
    import subprocess

    from conftest import ROOT

    work = tmp_path / "work"
    for d in ("first/refset_inas_znse", "refset_inas_znse", "first/refset_zns110",
              "first/refset_basis_zns110_pw"):
        (work / d).mkdir(parents=True)
        (work / d / "plan.json").write_text("{}")
    (work / "refset_cdse_cds").mkdir()  # pass 2 begun, no plan yet: not exported
    script = ROOT / "scripts" / "reference_set.sh"
    proc = subprocess.run(["bash", "-c", f'source "{script}"; ff=echo; work="{work}"; '
                           "export_set; export_basis"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    main, lcao, pw = [line.split() for line in proc.stdout.splitlines()]
    assert main == ["dataset", "export", str(work / "refset_inas_znse"),
                    str(work / "first/refset_zns110"), "--out",
                    str(ROOT / "data/reference_set")]
    assert lcao[2:-2] == [str(work / "first/refset_zns110")]
    assert pw[2:-2] == [str(work / "first/refset_basis_zns110_pw")]
    assert not (tmp_path / "work/reference_set").exists()  # sourcing ran no pass
