"""The report shows the error bars and probabilities of ``summary.json: uncertainty``
(the summary fixture with an uncertainty section and a Delta mu sweep added by hand)."""

import json
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1] / "data" / "summary_fixture.json"


def _iv(nominal, low, high):
    return {"nominal": nominal, "mean": nominal, "std": (high - low) / 3.29, "low": low,
            "high": high, "samples": 1000}


@pytest.fixture()
def summary():
    from facetflow.analysis.summary_view import binding_path
    from facetflow.records.summary import GrowthVsMu
    from facetflow.records.uncertainty import UncertaintySummary

    s = json.loads(DATA.read_text())
    f111 = s["facets"]["111"]
    eb_f = next(b for b in f111["binding"] if b["species"] == "F")
    s["uncertainty"] = {
        "method": "test", "samples": 1000, "seed": 1, "interval": 0.9,
        "robust_threshold": 0.9, "shape_samples": 0,
        "sources": {"configurations": {"used": True, "note": "starts"},
                    "model": {"used": True, "committee": ["sevennet-0"], "note": "c"},
                    "calibration": {"used": False, "note": "no DFT rows"}},
        "values": {binding_path("111", eb_f): _iv(eb_f["value"], -1.93, -1.27)},
        "ranking": {"without additive": {"fastest": {"111": 0.71, "100": 0.29, "110": 0.0},
                                         "orders": {"111 > 100 > 110": 0.71,
                                                    "100 > 111 > 110": 0.29},
                                         "samples": 1000}},
        "findings": [{"id": "1", "probability": 0.64, "verdict": "not robust"}]}
    s["paper_comparison"][0].update(id="1", probability=0.64, robustness="not robust")
    s["growth_vs_delta_mu"] = {"Se": [
        {"delta_mu": d, "cases": {"without additive": {
            "ranking": ["111", "100", "110"] if d < 0.2 else ["100", "111", "110"],
            "anisotropy_index": 1.5 + d}}} for d in (-0.5, 0.0, 0.5)]}
    # the added parts as summary.json holds them (the fixture predates some fields)
    s["uncertainty"] = UncertaintySummary.model_validate(s["uncertainty"]).model_dump(
        mode="json", exclude_unset=True)
    for rows in s["growth_vs_delta_mu"].values():
        for r in rows:
            GrowthVsMu.model_validate(r)
    return s


def test_report_shows_intervals_probabilities_and_the_sweep(summary, tmp_path):
    from facetflow.analysis.report import write_report_files

    html = write_report_files(summary, tmp_path).read_text()
    assert "[-1.93, -1.27]" in html  # the F binding energy's 90 % interval
    assert "{111} 71 %, {100} 29 %" in html  # fastest-facet probabilities
    assert "agrees in 64 % of samples: not robust" in html
    assert (tmp_path / "growth_vs_delta_mu_Se.svg").is_file()
    assert "growth_vs_delta_mu_Se" in html


def test_headline_lines_name_sources_rankings_and_findings(summary):
    from facetflow.analysis.summary_view import uncertainty_lines

    lines = uncertainty_lines(summary)
    assert lines[0].startswith("error bars: 90 % intervals from 1000 samples; sources: "
                               "configurations, model")
    assert "growth without additive: fastest facet {111} 71 %, {100} 29 %" in lines
    assert "finding 1: agrees in 64 % of samples (not robust)" in lines


def test_report_says_which_sources_and_calibration_were_used(summary, tmp_path):
    from facetflow.analysis.html import render_html

    html = render_html(summary)
    assert "Error bars" in html and "calibration (ML − DFT)" in html
    assert "no DFT rows" in html  # the calibration's note: none was used
