"""report.html opens with the study's conclusions, provenance comes last; ligands come
before their variants everywhere; figure legends show rounded numbers. From the summary
fixture (tests/data/summary_fixture.json), no calculations."""

import copy
import json
import re
from pathlib import Path

import pytest

from facetflow.analysis import bar_plots, gamma_plot
from facetflow.analysis.html import render_html
from facetflow.analysis.summary_view import order_ligands
from facetflow.analysis.tables import binding_frame, gamma_frame

DATA = Path(__file__).resolve().parents[1] / "data" / "summary_fixture.json"


@pytest.fixture(scope="module")
def summary():
    return json.loads(DATA.read_text(encoding="utf-8"))


def variants_first(summary):
    """The summary with every facet's optimum and gamma points listing the variants
    before their ligand (the order a sort of (ligand, variant) by str gives)."""
    s = copy.deepcopy(summary)
    for f in s["facets"].values():
        f["optimum"] = dict(sorted(f["optimum"].items(), key=lambda kv: "+" not in kv[0]))
        f["gamma"] = sorted(f["gamma"], key=lambda p: p["variant"] is None)
    return s


def headline(text):
    start = text.index('<section id="headline"')
    return text[start:text.index("</section>", start)]


def test_order_ligands_puts_each_ligand_before_its_variants():
    assert order_ligands(["acetate+HF", "acetate+F", "acetate", "zn_acetate+F",
                          "zn_acetate"]) == ["acetate", "acetate+HF", "acetate+F",
                                             "zn_acetate", "zn_acetate+F"]
    assert order_ligands([("acetate", "F"), ("acetate", None), ("acetate", "F")]) == [
        "acetate", "acetate+F"]
    assert order_ligands(["oleate+F", "acetate"]) == ["oleate+F", "acetate"]
    assert order_ligands([]) == []


def test_headline_comes_first_and_provenance_last(summary):
    text = render_html(summary)
    head = headline(text)
    assert text.index('id="headline"') < text.index('id="facets"') < text.index(
        'id="provenance"')
    assert text.index("chgnet 0.4.2") > text.index('id="provenance"')  # versions at the end
    assert text.rstrip().endswith("</html>")
    after = text[text.index('id="provenance"'):]
    assert "<h2" not in after.split("</h2>", 1)[1]  # nothing after the provenance section
    # theta* (2 decimals) and gamma* (1 decimal) per facet and ligand / variant
    for key, label in (("acetate", "acetate"), ("acetate+F", "acetate + F")):
        assert f"<td>{label}</td>" in head
        for f in summary["facets"].values():
            o = f["optimum"][key]
            assert f"{o['theta']:.2f}" in head and f"{o['value']:.1f}" in head
    # binding energies, 2 decimals
    for f in summary["facets"].values():
        for b in f["binding"]:
            assert f"{b['value']:.2f}" in head
    # growth ranking and anisotropy index per case
    for name, case in summary["growth"]["cases"].items():
        assert name in head
        assert " &gt; ".join(f"{{{k}}}" for k in case["ranking"]) in head
        assert f"{case['anisotropy_index']:.2f}" in head
    # the paper comparison's verdicts
    assert "2 of 2 agree" in head
    for row in summary["paper_comparison"]:
        assert row["finding"] in head
    # compact: no figures, no provenance in the headline
    assert "<svg" not in head and "<img" not in head and "chgnet" not in head


def test_headline_marks_the_lowest_gamma_and_the_end_of_the_range(summary):
    head = headline(render_html(summary))
    assert "<strong>6.0</strong>" in head  # acetate + F on {100}: below acetate's 8.2
    assert "1.00†" in head and "end of the computed range" in head
    assert "0.50†" not in head  # {111}: an interior optimum


def test_headline_without_results_says_not_computed():
    text = render_html({})
    head = headline(text)
    assert head.count("not computed") == 3 and "no paper to compare with" in head
    assert text.index('id="headline"') < text.index('id="provenance"')


def test_headline_with_two_runs_counts_each(summary):
    s = copy.deepcopy(summary)
    s["paper_comparison"] = [{**r, "run": "main"} for r in s["paper_comparison"]] + [
        {**s["paper_comparison"][0], "run": "dft_check", "verdict": "disagrees"}]
    head = headline(render_html(s))
    assert "main: 2 of 2 agree" in head
    assert "dft_check: 0 of 1 agree (1 disagrees)" in head
    assert 'class="verdict-disagrees"' in head


def test_ligands_before_variants_in_tables_and_figures(summary):
    s = variants_first(summary)
    # the summary lists the variants first
    assert list(s["facets"]["100"]["optimum"])[0] == "acetate+F"
    text = render_html(s)
    head = headline(text)
    assert head.index("<td>acetate</td>") < head.index("<td>acetate + F</td>") < head.index(
        "<td>acetate + HF</td>")
    facets = text[text.index('id="facets"'):text.index('id="binding"')]
    expected = ["acetate", "acetate+F"] * 2 + ["acetate", "acetate+F", "acetate+HF"]
    assert re.findall(r"<td>(acetate[^<]*)</td>", facets) == expected
    for facet in s["facets"]:
        df = gamma_frame(s).query("facet == @facet")
        firsts = list(dict.fromkeys(zip(df.ligand, df.variant.fillna(""), strict=True)))
        assert firsts[0] == ("acetate", "")
        labels = [ln.get_label() for ln in gamma_plot.gamma_figure(s, facet).axes[0].get_lines()
                  if (ln.get_gid() or "").startswith("gamma-series:")]
        assert labels[0].startswith("acetate  (")
        assert all(lab.startswith("acetate + ") for lab in labels[1:])
    # the binding table: per facet the ligand, its additives, the growth species
    roles = binding_frame(s).groupby("facet", sort=False).role.apply(list)
    for r in roles:
        assert r == sorted(r, key=["ligand", "additive", "growth"].index)


def test_legend_numbers_are_rounded(summary):
    s = copy.deepcopy(summary)
    s["facets"]["111"]["optimum"]["acetate"].update(theta=0.883897, value=12.34567)
    fig = gamma_plot.gamma_figure(s, "111")
    labels = fig.axes[0].get_legend().get_texts()
    label = next(t.get_text() for t in labels if t.get_text().startswith("acetate  ("))
    assert label == "acetate  (θ* = 0.88, γ* = 12.3 meV/Å²)"
    assert not any(re.search(r"\d\.\d{3,}", t.get_text()) for t in labels)
    s["facets"]["100"]["binding"][0]["value"] = -1.234567
    ann = [t.get_text() for t in bar_plots.binding_figure(s).axes[0].texts]
    assert "-1.23" in ann and not any(re.search(r"\d\.\d{3,}", t) for t in ann)
