"""The paper-comparison table: findings files are validated, each check reads the right
numbers from a summary, verdicts follow the rules, and the paper's sign convention is
honoured."""

import json
from pathlib import Path

import pytest
import yaml

from facetflow.analysis.paper import AGREES, DISAGREES, NOT_COMPUTED, compare
from facetflow.errors import SpecError
from facetflow.findings import PAPERS_DIR, load_findings
from facetflow.study import load_study


def _facet(thetas, best, eb: dict):
    """A summary facet: acetate swept over ``thetas`` with theta* = ``best``, and
    binding entries ``eb`` (species -> E_b, eV, facetflow sign) in the acetate sweep."""
    return {
        "gamma": [{"ligand": "acetate", "variant": None, "theta": t, "delta": -1.0}
                  for t in thetas],
        "optimum": {"acetate": {"theta": best}},
        "binding": [{"species": s, "ligand": "acetate", "value": v} for s, v in eb.items()],
    }


def _paper_like() -> dict:
    """Numbers shaped like the paper's Fig. 2 (every finding should agree)."""
    thetas = [0.25, 0.5, 0.625, 0.75, 1.0]
    return {
        "facets": {
            "100": _facet(thetas, 1.0, {"acetate": -1.0, "Se": -2.0, "F": -1.5, "HF": -1.2,
                                        "zn_acetate": -1.1}),
            "111": _facet(thetas, 0.6, {"acetate": -1.3, "Se": -1.2, "F": -1.6, "HF": -1.4,
                                        "zn_acetate": -1.0}),
            "110": _facet(thetas, 1.0, {"acetate": -0.8, "ZnSe": -0.5, "F": -1.0,
                                        "HF": -0.9, "zn_acetate": -0.4}),
        },
        "growth": {"cases": {
            "without additive": {"ranking": ["111", "100", "110"], "anisotropy_index": 5.0},
            "with F": {"ranking": ["100", "111", "110"], "anisotropy_index": 2.0},
            "with HF": {"ranking": ["111", "100", "110"], "anisotropy_index": 3.0},
        }},
    }


@pytest.fixture(scope="module")
def findings():
    found, problems = load_findings("inas_znse_fluoride", Path("."))
    assert not problems
    return found.model_dump(mode="json")


def test_paper_like_numbers_agree_everywhere(findings):
    rows = compare(_paper_like(), findings, "test engine")
    assert [r["id"] for r in rows] == ["1", "2", "3", "4", "5"]
    assert all(r["verdict"] == AGREES for r in rows), [(r["id"], r["this_run"]) for r in rows]
    assert all(r["engine"] == "test engine" for r in rows)
    assert "-1.60 eV" in rows[3]["this_run"]  # F on {111}, shown in the paper's sign


def test_each_finding_can_disagree(findings):
    s = _paper_like()
    s["facets"]["111"]["optimum"]["acetate"]["theta"] = 1.0       # 1: {111} at full
    s["facets"]["110"]["binding"][-1]["value"] = -5.0              # 2: Zn(Ac)2 strongest on {110}
    s["facets"]["100"]["binding"][1]["value"] = -1.1               # 3: Se barely beats acetate
    s["facets"]["110"]["binding"][3]["value"] = -0.5               # 4: HF weaker than acetate
    s["growth"]["cases"]["with HF"]["anisotropy_index"] = 9.0      # 5: HF less balanced
    rows = {r["id"]: r for r in compare(s, findings, "e")}
    assert {k: r["verdict"] for k, r in rows.items()} == {k: DISAGREES for k in "12345"}
    # only the broken check fails inside a finding
    assert [c["passed"] for c in rows["5"]["checks"]] == [True, True, False]


def test_an_unchanged_anisotropy_is_not_more_balanced(findings):
    """A change of the anisotropy index within the finding's ``by`` (0.05) is reported as
    unchanged, not as more balanced."""
    s = _paper_like()
    s["growth"]["cases"]["with F"]["anisotropy_index"] = 5.0 - 1e-5
    s["growth"]["cases"]["with HF"]["anisotropy_index"] = 4.9
    rows = {r["id"]: r for r in compare(s, findings, "e")}
    assert [c["passed"] for c in rows["5"]["checks"]] == [True, False, True]
    assert "unchanged within 0.05" in rows["5"]["checks"][1]["text"]


def test_missing_numbers_are_not_computed(findings):
    s = _paper_like()
    del s["facets"]["111"]["binding"][2]                            # no F on {111}
    s["growth"]["cases"].pop("with HF")
    rows = {r["id"]: r for r in compare(s, findings, "e")}
    assert rows["4"]["verdict"] == NOT_COMPUTED
    assert rows["5"]["verdict"] == NOT_COMPUTED
    assert "n/a" in rows["4"]["this_run"]
    assert rows["1"]["verdict"] == AGREES
    # a failing check wins over a missing one
    s["facets"]["100"]["binding"][2]["value"] = 0.0                 # F unbound on {100}
    assert {r["id"]: r for r in compare(s, findings, "e")}["4"]["verdict"] == DISAGREES


def test_positive_bound_papers_are_converted(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({
        "name": "p", "citation": "c", "engine": "PBE", "binding_sign": "positive_bound",
        "findings": [{"id": "a", "text": "A binds with 1.2 eV", "checks": [
            {"kind": "binding_value", "facet": "100", "species": "A", "value": 1.2,
             "within": 0.1}]}]}))
    found, problems = load_findings(str(path), tmp_path)
    assert not problems
    summary = {"facets": {"100": {"binding": [{"species": "A", "value": -1.25}]}}}
    row = compare(summary, found.model_dump(mode="json"), "e")[0]
    assert row["verdict"] == AGREES and "+1.25 eV" in row["this_run"]
    summary["facets"]["100"]["binding"][0]["value"] = 1.25  # unbound in facetflow's sign
    assert compare(summary, found.model_dump(mode="json"), "e")[0]["verdict"] == DISAGREES


def test_bad_findings_files_name_the_field(tmp_path):
    assert load_findings("no_such_paper", tmp_path)[1][0].path == "analysis.compare_with"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"name": "b", "citation": "c", "engine": "e", "findings": [
        {"id": "1", "text": "t", "checks": [{"kind": "binding_value", "facet": "100"}]},
        {"id": "2", "text": "t", "checks": [{"kind": "no_such_kind"}]}]}))
    found, problems = load_findings(str(bad), tmp_path)
    assert found is None
    text = " | ".join(str(p) for p in problems)
    assert "findings.1.checks.0.kind" in text
    bad.write_text(yaml.safe_dump({"name": "b", "citation": "c", "engine": "e", "findings": [
        {"id": "1", "text": "t", "checks": [{"kind": "binding_value", "facet": "100"}]}]}))
    problems = load_findings(str(bad), tmp_path)[1]
    assert "species, value, within" in str(problems[0])


def test_study_names_a_findings_file(tmp_path):
    quick = Path(__file__).resolve().parents[2] / "studies" / "quick.yaml"
    study = yaml.safe_load(quick.read_text())
    study["analysis"] = {"compare_with": "not_a_paper"}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(study))
    with pytest.raises(SpecError) as err:
        load_study(path)
    assert "analysis.compare_with" in str(err.value)
    assert "inas_znse_fluoride" in str(err.value)  # what is allowed
    assert sorted(p.stem for p in PAPERS_DIR.glob("*.yaml"))


def test_report_also_joins_another_runs_rows_and_remembers_it(tmp_path, tiny_run):
    """``facetflow report A --also B``: B's paper-comparison rows (its own numbers, engine
    and study) join A's table in summary.json and report.html, each finding's rows
    together; a later plain ``report A`` keeps them; a missing B is refused."""
    from conftest import copy_workdir, run_cli, said

    from facetflow.findings import load_findings

    found, problems = load_findings("inas_znse_fluoride", Path("."))
    assert found is not None and not problems
    runs = {}
    for name in ("main", "check"):
        root = copy_workdir(tiny_run, tmp_path / name)
        wd = root / "tiny"
        ctx = json.loads((wd / "study.json").read_text())
        ctx["compare_with"] = found.model_dump(mode="json")
        ctx["study"]["name"] = f"tiny_{name}"
        (wd / "study.json").write_text(json.dumps(ctx))
        runs[name] = wd
    proc = run_cli("report", str(runs["check"]), "--no-figures")
    assert proc.returncode == 0, proc.stderr
    theirs = json.loads((runs["check"] / "report" / "summary.json").read_text())
    proc = run_cli("report", str(runs["main"]), "--also", str(runs["check"]), "--no-figures")
    assert proc.returncode == 0, proc.stderr
    ours = json.loads((runs["main"] / "report" / "summary.json").read_text())
    rows = ours["paper_comparison"]
    assert {r["run"] for r in rows} == {"tiny_main", "tiny_check"}
    assert len(rows) == 2 * len(theirs["paper_comparison"]) == 2 * len(found.findings)
    ids = [r["id"] for r in rows]
    assert ids == sorted(ids)  # each finding's two rows side by side
    check_rows = {r["id"]: r for r in rows if r["run"] == "tiny_check"}
    for r in theirs["paper_comparison"]:
        assert check_rows[r["id"]]["this_run"] == r["this_run"]
        assert check_rows[r["id"]]["verdict"] == r["verdict"]
    html = (runs["main"] / "report" / "report.html").read_text()
    assert "tiny_check" in html
    # remembered for later reports
    proc = run_cli("report", str(runs["main"]), "--no-figures")
    assert proc.returncode == 0, proc.stderr
    again = json.loads((runs["main"] / "report" / "summary.json").read_text())
    assert again["paper_comparison"] == rows
    # a directory that is not a work directory: refused, nothing changed
    proc = run_cli("report", str(runs["main"]), "--also", str(tmp_path / "nowhere"))
    assert proc.returncode != 0
    assert said("not a facetflow work directory", proc.stderr + proc.stdout)
    assert json.loads((runs["main"] / "report" / "summary.json").read_text()) == again
