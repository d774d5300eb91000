"""The summary on a fixture of known energies: the tiny study's plan with every energy
set by hand, E = sum_el n_el eps_el + bonus(structure), references with no bonus, so that
mu_el = eps_el and every surface quantity is the bonus over (n_faces x area)."""

import hashlib
import json
from collections import Counter

import pytest
from conftest import copy_workdir

EPS = {"In": -2.1, "As": -3.7, "Zn": -1.3, "Se": -4.4, "H": -1.1, "C": -5.3, "O": -6.9,
       "F": -2.6}
BONUS = {"110_bare": 2.0, "110_shell": 1.0, "110_acetate_t1.000_c0": -3.0,
         "110_acetate_t1.000_c0_vac0": -1.0, "110_acetate_t1.000_c0_F0": -4.0,
         "110_acetate_t1.000_c0_ZnSe0": -0.2, "111_bare": 1.5}


def _write_store(workdir, drop=()):
    from facetflow.records.calc import CalcResult
    from facetflow.store import ResultStore

    plan = json.loads((workdir / "plan.json").read_text())
    nodes = {n["hash"]: n for n in plan["nodes"]}
    store = ResultStore(workdir / "synthetic.db")
    for sid, rec in plan["records"].items():
        if sid in drop:
            continue
        node = nodes[rec["calc"]]
        counts = Counter(node["structure"]["symbols"])
        energy = sum(n * EPS[el] for el, n in counts.items()) + BONUS.get(sid, 0.0)
        zero = [[0.0, 0.0, 0.0]] * len(node["structure"]["symbols"])
        result = CalcResult(engine="fixture", task="relax", converged=True, energy=energy,
                            structure=node["structure"], forces=zero)
        store.put(rec["calc"], result, sid, {})
    (workdir / "store.json").write_text(json.dumps({"url": str(workdir / "synthetic.db")}))
    return plan["records"]


@pytest.fixture()
def fixture_dir(tmp_path, tiny_run):
    return copy_workdir(tiny_run, tmp_path) / "tiny"


def test_hand_computed_gamma_and_binding(fixture_dir):
    from facetflow.analysis.report import build_summary

    records = _write_store(fixture_dir)
    s = build_summary(fixture_dir)
    mu = s["chemical_potentials"]
    for el in ("In", "As", "Zn", "Se"):
        assert mu[el]["value"] == pytest.approx(EPS[el])
    assert mu["acetate"]["value"] == pytest.approx(2 * EPS["C"] + 3 * EPS["H"] + 2 * EPS["O"])
    assert mu["F"]["value"] == pytest.approx(EPS["F"])
    f = s["facets"]["110"]
    area = records["110_bare"]["area_A2"]
    assert f["n_faces"] == 2
    g_bare = 1000 * 2.0 / (2 * area)  # meV/Å², both faces
    assert f["gamma_bare"]["value"] == pytest.approx(g_bare)
    assert f["gamma_bare"]["j_m2"] == pytest.approx(g_bare * 0.01602176634)
    assert f["gamma_shell"]["value"] == pytest.approx(g_bare + 1000 * (1.0 - 2.0) / (2 * area))
    pts = {p["structure"]: p for p in f["gamma"]}
    assert pts["110_acetate_t1.000_c0"]["value"] == pytest.approx(
        g_bare + 1000 * (-3.0 - 2.0) / (2 * area))
    assert pts["110_acetate_t1.000_c0_F0"]["value"] == pytest.approx(
        g_bare + 1000 * (-4.0 - 2.0) / (2 * area))
    eb = {b["species"]: b["value"] for b in f["binding"]}
    # E_b = [E(with) - E(vacancy) - 2 mu] / 2 on a symmetric slab: negative = bound
    assert eb["acetate"] == pytest.approx((-3.0 - -1.0) / 2)
    assert eb["F"] == pytest.approx((-4.0 - -1.0) / 2)
    assert eb["ZnSe"] == pytest.approx((-0.2 - -1.0) / 2)
    # the polar facet: one free face, passivated bottom priced by the reference slabs
    g111 = s["facets"]["111"]
    assert g111["n_faces"] == 1
    assert g111["gamma_bare"]["value"] == pytest.approx(
        1000 * 1.5 / records["111_bare"]["area_A2"])
    assert s["passivation"]["In"]["value"] == pytest.approx(EPS["H"])
    assert not s["missing"]


def test_one_failed_coverage_is_a_gap_not_a_crash(fixture_dir):
    from facetflow.analysis.report import write_report

    _write_store(fixture_dir, drop={"110_acetate_t1.000_c0"})
    path = write_report(fixture_dir, figures=True)
    s = json.loads(path.read_text())
    assert {m["structure"] for m in s["missing"]} == {"110_acetate_t1.000_c0"}
    f = s["facets"]["110"]
    pts = {p["structure"]: p for p in f["gamma"]}
    assert pts["110_acetate_t1.000_c0"]["value"] is None
    assert pts["110_acetate_t1.000_c0_F0"]["value"] is not None
    assert f["optimum"]["acetate"] is None
    assert "110_acetate_t1.000_c0" in (path.parent / "report.html").read_text()
    assert (path.parent / "gamma_110.svg").is_file()


def test_binding_without_bulk_references_uses_the_only_coverage(fixture_dir):
    """A binding-energy check without bulk references (no gamma, so no theta* from
    gamma): with one coverage computed, theta* is that coverage and E_b is the same as
    with every reference present; only the growth species that needs a bulk reference
    (ZnSe) is missing."""
    from facetflow.analysis.report import build_summary
    from facetflow.analysis.summary import optimal_arrangements

    records = _write_store(fixture_dir)
    full = build_summary(fixture_dir)
    bulk = {sid for sid, rec in records.items()
            if rec["role"] == "reference" and rec["reference"].startswith("bulk:")}
    assert bulk
    (fixture_dir / "synthetic.db").unlink()
    _write_store(fixture_dir, drop=bulk)
    part = build_summary(fixture_dir)
    opt = part["facets"]["110"]["optimum"]["acetate"]
    assert opt["theta"] == 1.0 and opt["value"] is None
    assert opt["structure"] == "110_acetate_t1.000_c0" and "only coverage" in opt["method"]
    assert optimal_arrangements(fixture_dir)["110"] == {"acetate": "110_acetate_t1.000_c0"}
    eb = {b["species"]: b["value"] for b in part["facets"]["110"]["binding"]}
    eb_full = {b["species"]: b["value"] for b in full["facets"]["110"]["binding"]}
    assert eb["acetate"] == pytest.approx(eb_full["acetate"]) and eb["acetate"] is not None
    assert eb["F"] == pytest.approx(eb_full["F"]) and eb["F"] is not None
    assert eb["ZnSe"] is None and eb_full["ZnSe"] is not None


def test_ml_prerelaxation_starts_are_summarised_without_changing_energies(fixture_dir):
    """A DFT plan with ``workflow.starts``: a structure's starts are ML pre-relaxations
    (record key ``prerelax_starts``) and its energy is its one final calculation's. The
    summary's starts block reports them as stage "prerelax": which was lowest, the
    spread; gamma and E_b stay those of the final calculations."""
    from facetflow.analysis.report import build_summary
    from facetflow.records.calc import CalcResult
    from facetflow.store import ResultStore

    records = _write_store(fixture_dir)
    before = build_summary(fixture_dir)
    assert "starts" not in before
    plan = json.loads((fixture_dir / "plan.json").read_text())
    sid = "110_acetate_t1.000_c0"
    node = next(n for n in plan["nodes"] if n["hash"] == records[sid]["calc"])
    store = ResultStore(fixture_dir / "synthetic.db")
    ml = [-100.0, -102.5, -101.0]  # ML energies of starts 0, 1, 2: start 1 lowest
    hashes = []
    for j, e in enumerate(ml):
        h = hashlib.sha256(f"{sid}@prerelax#{j}".encode()).hexdigest()
        plan["nodes"].append({**node, "hash": h, "key": f"{sid}@prerelax#{j}"})
        zero = [[0.0, 0.0, 0.0]] * len(node["structure"]["symbols"])
        store.put(h, CalcResult(engine="mlip", task="relax", converged=True, energy=e,
                                structure=node["structure"], forces=zero),
                  f"{sid}@prerelax#{j}", {})
        hashes.append(h)
    plan["records"][sid]["prerelax_starts"] = hashes
    (fixture_dir / "plan.json").write_text(json.dumps(plan))
    after = build_summary(fixture_dir)
    block = after["starts"]
    assert block["stage"] == "prerelax" and block["structures"] == 1
    assert block["by_structure"][sid] == {"starts": 3, "done": 3, "lowest_start": 1,
                                          "pruned": 0, "spread_eV": pytest.approx(2.5),
                                          "gap_eV": pytest.approx(2.5)}  # start 0 - lowest
    assert after["facets"]["110"]["binding"] == before["facets"]["110"]["binding"]
    assert after["facets"]["110"]["gamma"] == before["facets"]["110"]["gamma"]


def test_documents_of_another_schema_are_refused_by_name(tmp_path):
    """summary.json and study.json are read through their models; an old or foreign
    schema is refused with a message naming it, never half-read."""
    from facetflow.records.context import ContextError, read_context
    from facetflow.records.summary import SummaryError, read_summary

    old = tmp_path / "summary.json"
    old.write_text(json.dumps({"schema": "facetflow.summary/0", "study": "x"}))
    with pytest.raises(SummaryError, match="facetflow.summary/0 is not facetflow.summary/1"):
        read_summary(old)
    ctx = tmp_path / "study.json"
    ctx.write_text(json.dumps({"schema": "facetflow.context/9"}))
    with pytest.raises(ContextError, match="facetflow.context/9 is not facetflow.context/1"):
        read_context(ctx)


def test_summary_reference_names_every_section():
    """docs/summary.md's tables come from the models that write summary.json."""
    from facetflow.records.reference import summary_reference
    from facetflow.records.summary import Summary

    text = summary_reference()
    assert "facetflow.summary/1" in text
    for name in Summary.model_fields:
        assert f"`{name.rstrip('_')}`" in text, name
    for model in ("FacetSummary", "BindingEnergy", "GrowthCase", "DefectEntry"):
        assert f"### `{model}`" in text


def test_dft_candidates_keep_the_engines_lowest_and_count_disagreements(fixture_dir):
    """engine.dft_candidates: a structure's energy is the lowest of its final candidates
    (record key ``starts``, candidate r from the r-th lowest ML minimum); the summary
    counts the structures where the engine's lowest is not the ML-lowest candidate."""
    from facetflow.analysis.report import build_summary
    from facetflow.records.calc import CalcResult
    from facetflow.store import ResultStore

    records = _write_store(fixture_dir)
    before = build_summary(fixture_dir)
    plan = json.loads((fixture_dir / "plan.json").read_text())
    sid = "110_acetate_t1.000_c0"
    node = next(n for n in plan["nodes"] if n["hash"] == records[sid]["calc"])
    store = ResultStore(fixture_dir / "synthetic.db")
    e0 = store.get(node["hash"]).result.energy
    zero = [[0.0, 0.0, 0.0]] * len(node["structure"]["symbols"])

    def put(key: str, engine: str, energy: float) -> str:
        h = hashlib.sha256(key.encode()).hexdigest()
        plan["nodes"].append({**node, "hash": h, "key": key})
        store.put(h, CalcResult(engine=engine, task="single", converged=True, energy=energy,
                                structure=node["structure"], forces=zero), key, {})
        return h

    pre = [put(f"{sid}@prerelax#{j}", "mlip", e) for j, e in enumerate([-9.0, -8.0])]
    lower = put(f"{sid}~1", "qe", e0 - 0.3)  # the second ML minimum is lower with DFT
    plan["records"][sid].update(prerelax_starts=pre, starts=[node["hash"], lower])
    (fixture_dir / "plan.json").write_text(json.dumps(plan))
    after = build_summary(fixture_dir)
    cand = after["starts"]["candidates"]
    assert cand["structures"] == 1 and cand["lowest_not_candidate_0"] == 1
    assert cand["by_structure"][sid]["gain_eV"] == pytest.approx(0.3)
    eb = {b["species"]: b for b in after["facets"]["110"]["binding"]}
    eb0 = {b["species"]: b for b in before["facets"]["110"]["binding"]}
    # the lower candidate's energy counts (per face of the symmetric slab: -0.3 / 2)
    assert eb["acetate"]["value"] == pytest.approx(eb0["acetate"]["value"] - 0.15)
