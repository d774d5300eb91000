"""Report outputs (figures, CSV tables, HTML) from a hand-made summary fixture
(tests/data/summary_fixture.json, schema docs/summary.md)."""

import copy
import json
import math
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest

from facetflow.analysis import bar_plots, gamma_plot, plotting, shape_plot
from facetflow.analysis import figures as F
from facetflow.analysis.html import write_html
from facetflow.analysis.tables import (
    binding_frame,
    comparison_frame,
    gamma_frame,
    growth_frame,
    write_tables,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "summary_fixture.json"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def summary():
    return json.loads(DATA.read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def no_figure_fallbacks():
    """A figure that falls back to its 'figure failed' note is a bug on these inputs."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", plotting.FigureWarning)
        yield


@pytest.fixture(scope="module")
def rendered(summary, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    figs = F.all_figures(summary, out)
    return out, figs


def check_image_pair(paths, stem):
    png, svg = (p for p in paths if p.stem == stem)
    assert png.suffix == ".png" and svg.suffix == ".svg"
    data = png.read_bytes()
    assert len(data) > 5000 and data[:8] == PNG_MAGIC
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")


def series_lines(fig, prefix="gamma-series:"):
    return [ln for ax in fig.axes for ln in ax.get_lines() if (ln.get_gid() or "")
            .startswith(prefix)]


def texts(fig):
    out = [t.get_text() for ax in fig.axes for t in ax.texts]
    out += [ax.get_title() for ax in fig.axes]
    return out


# ---------------------------------------------------------------- figures


def test_every_figure_is_written(summary, rendered):
    out, figs = rendered
    stems = {p.stem for p in figs}
    assert stems == {"gamma_100", "gamma_111", "gamma_110", "binding", "shapes"}
    assert len(figs) == 10 and all(p.parent == out and p.exists() for p in figs)
    for stem in stems:
        check_image_pair(figs, stem)


def combos(summary, facet):
    return {(p["ligand"], p["variant"]) for p in summary["facets"][facet]["gamma"]}


@pytest.mark.parametrize("facet", ["100", "111", "110"])
def test_gamma_figure_has_one_series_per_ligand_and_variant(summary, facet):
    fig = gamma_plot.gamma_figure(summary, facet)
    lines = series_lines(fig)
    expected = combos(summary, facet)
    assert len(lines) == len(expected)
    assert {tuple(ln.get_gid().split(":", 1)[1].split("|")) for ln in lines} == {
        (lig, var or "") for lig, var in expected}
    labels = {ln.get_gid(): ln.get_label() for ln in lines}
    assert labels["gamma-series:acetate|"].startswith("acetate  (θ* = ")
    assert labels["gamma-series:acetate|F"].startswith("acetate + F  (θ* = ")
    # each line goes through the lowest arrangement at each theta, sorted by theta
    for ln in lines:
        lig, var = ln.get_gid().split(":", 1)[1].split("|")
        pts = [p for p in summary["facets"][facet]["gamma"]
               if p["ligand"] == lig and (p["variant"] or "") == var and p["value"] is not None]
        lowest = {}
        for p in pts:
            lowest[p["theta"]] = min(lowest.get(p["theta"], math.inf), p["value"])
        assert list(ln.get_xdata()) == sorted(lowest)
        assert list(ln.get_ydata()) == [lowest[t] for t in sorted(lowest)]
        assert ln.get_linestyle() == ("-" if var == "" else "--" if var == "F" else ":")
    # one star per optimum, at (theta*, gamma*)
    stars = series_lines(fig, "gamma-optimum:")
    opt = summary["facets"][facet]["optimum"]
    assert len(stars) == len(opt)
    for s in stars:
        lig, var = s.get_gid().split(":", 1)[1].split("|")
        o = opt[lig if not var else f"{lig}+{var}"]
        assert (s.get_xdata()[0], s.get_ydata()[0]) == (o["theta"], o["value"])
    ax = fig.axes[0]
    assert "meV/Å²" in ax.get_ylabel() and "θ" in ax.get_xlabel()
    assert f"{{{facet}}}" in ax.get_title()


def test_gamma_figure_shows_other_arrangements_and_the_failed_point(summary):
    fig = gamma_plot.gamma_figure(summary, "111")
    grey = series_lines(fig, "gamma-other")
    assert len(grey) == 1 and list(grey[0].get_xdata()) == [0.5]
    assert list(grey[0].get_ydata()) == [14.1]
    missing = series_lines(fig, "gamma-missing")
    assert len(missing) == 1 and list(missing[0].get_xdata()) == [0.75]
    assert any("not computed" in t and "0.75" in t for t in texts(fig))
    # no failed points on {100}
    assert series_lines(gamma_plot.gamma_figure(summary, "100"), "gamma-missing") == []


def test_binding_figure_bars_match_entries(summary):
    fig = bar_plots.binding_figure(summary)
    ax = fig.axes[0]
    bars = {p.get_gid(): p for p in ax.patches if (p.get_gid() or "").startswith("binding:")}
    expected = {f"binding:{k}|{b['species']}": b["value"]
                for k, f in summary["facets"].items() for b in f["binding"]}
    assert set(bars) == set(expected)
    for gid, value in expected.items():
        assert bars[gid].get_height() == pytest.approx(value)
    assert "negative = bound" in ax.get_ylabel() and "eV" in ax.get_ylabel()
    assert any(ln.get_ydata()[0] == 0 for ln in ax.get_lines())  # the zero line
    assert ax.get_legend() is not None


def test_shape_figure_one_panel_per_case_titled_with_aspect_ratio(summary):
    fig = shape_plot.shape_figure(summary)
    fig.canvas.draw()  # 3D polygons are projected to paths at draw time
    cases = summary["growth"]["cases"]
    axes3d = [ax for ax in fig.axes if ax.name == "3d"]
    assert len(axes3d) == len(cases)
    for ax, (name, case) in zip(axes3d, cases.items(), strict=True):
        assert name in ax.get_title()
        assert f"{case['shape']['aspect_ratio']:.2f}" in ax.get_title()
        assert len(ax.collections) == 1 and len(ax.collections[0].get_paths()) >= 6
        assert ax.get_legend() is not None


def test_shape_drawn_when_rates_span_many_orders_of_magnitude(summary):
    """One facet 1e-16 as fast as the others (an ML potential's unbound growth species):
    the shape is that facet's family alone (an octahedron for {111}: 8 faces), drawn,
    with the true rates in the legend."""
    s = copy.deepcopy(summary)
    case = next(iter(s["growth"]["cases"].values()))
    case["rates"] = {"100": 1.0, "110": 1.0, "111": 4.5e-16}
    case.pop("shape", None)
    with warnings.catch_warnings():
        warnings.simplefilter("error", plotting.FigureWarning)
        fig = shape_plot.shape_figure(s)
        fig.canvas.draw()
    ax = next(ax for ax in fig.axes if ax.name == "3d")
    assert len(ax.collections) == 1 and len(ax.collections[0].get_paths()) == 8
    assert "aspect ratio 1.73" in ax.get_title()  # octahedron: vertex-to-vertex / face-to-face
    assert any("4.5e-16" in t.get_text() for t in ax.get_legend().get_texts())


def test_shape_aspect_ratio_computed_when_absent(summary):
    s = copy.deepcopy(summary)
    for case in s["growth"]["cases"].values():
        del case["shape"]
    fig = shape_plot.shape_figure(s)
    titles = [ax.get_title() for ax in fig.axes if ax.name == "3d"]
    assert all("aspect ratio 1." in t for t in titles), titles


def test_figures_cope_with_missing_data(summary, tmp_path):
    s = copy.deepcopy(summary)
    s["facets"]["110"]["gamma"] = []
    s["facets"]["110"]["optimum"] = {}
    s["facets"]["110"]["gamma_shell"] = None
    s["facets"]["100"]["optimum"] = None
    s["facets"]["100"]["binding"][2]["value"] = None
    s["facets"]["111"]["binding"] = []
    s["growth"]["cases"] = {}
    figs = F.all_figures(s, tmp_path)
    assert {p.name for p in figs} >= {"gamma_110.png", "binding.svg", "shapes.png"}
    for stem in ("gamma_110", "binding", "shapes"):
        check_image_pair(figs, stem)
    fig110 = gamma_plot.gamma_figure(s, "110")
    assert series_lines(fig110) == []
    assert any("not computed" in t for t in texts(fig110))
    assert series_lines(gamma_plot.gamma_figure(s, "100"), "gamma-optimum:") == []
    bars = [p for p in bar_plots.binding_figure(s).axes[0].patches
            if (p.get_gid() or "").startswith("binding:")]
    assert len(bars) == 10 - 1 - 3
    assert any("not computed" in t for t in texts(shape_plot.shape_figure(s)))


def test_gamma_relative_to_bare_when_gamma_bare_is_missing(summary):
    """The producer keeps delta = gamma - gamma_bare when gamma_bare is null."""
    s = copy.deepcopy(summary)
    f = s["facets"]["100"]
    f["gamma_bare"]["value"] = None
    for p in f["gamma"] + list(f["optimum"].values()):
        p["delta"], p["value"] = p["value"] - 45.1, None
    f["optimum"]["acetate+F"] = {"theta": 1.0, "value": None}  # theta* without an energy
    fig = gamma_plot.gamma_figure(s, "100")
    assert len(series_lines(fig)) == 2
    base = next(ln for ln in series_lines(fig) if ln.get_gid() == "gamma-series:acetate|")
    assert list(base.get_ydata()) == pytest.approx([24.0 - 45.1, 17.5 - 45.1, 12.1 - 45.1,
                                                    8.2 - 45.1])
    assert "γ_bare" in fig.axes[0].get_ylabel()
    stars = {ln.get_gid(): ln for ln in series_lines(fig, "gamma-optimum:")}
    assert set(stars) == {"gamma-optimum:acetate|", "gamma-optimum:acetate|F"}
    assert list(stars["gamma-optimum:acetate|F"].get_xdata()) == [1.0, 1.0]  # vertical line


def test_figures_on_an_empty_summary(tmp_path):
    assert F.gamma_figures({}, tmp_path) == []
    for paths in (F.binding_figure({}, tmp_path), F.shape_figure({"growth": None}, tmp_path)):
        assert [p.suffix for p in paths] == [".png", ".svg"]
        assert paths[0].read_bytes()[:8] == PNG_MAGIC


def test_degenerate_growth_rates_do_not_crash(summary):
    s = copy.deepcopy(summary)
    s["growth"]["cases"]["with F"]["rates"] = {"100": None, "abc": 1.0, "111": -1}
    s["growth"]["cases"]["without additive"]["rates"] = {"100": 1.0}
    fig = shape_plot.shape_figure(s)
    fig.canvas.draw()
    axes3d = [ax for ax in fig.axes if ax.name == "3d"]
    assert len(axes3d) == 2
    assert len(axes3d[0].collections[0].get_paths()) == 6  # a cube
    assert any("not computed" in t for t in texts(fig))


# ---------------------------------------------------------------- tables


def test_csv_tables_have_one_row_per_entry(summary, tmp_path):
    paths = write_tables(summary, tmp_path)
    assert [p.name for p in paths] == ["gamma.csv", "binding.csv", "growth.csv"]
    gamma, binding, growth = (pd.read_csv(p) for p in paths)
    n_gamma = sum(len(f["gamma"]) for f in summary["facets"].values())
    n_binding = sum(len(f["binding"]) for f in summary["facets"].values())
    n_growth = sum(len(c["rates"]) for c in summary["growth"]["cases"].values())
    assert (len(gamma), len(binding), len(growth)) == (n_gamma, n_binding, n_growth)
    assert list(gamma.columns) == ["facet", "ligand", "theta", "variant", "gamma_meV_A2",
                                   "gamma_J_m2", "structure", "lowest"]
    assert list(binding.columns) == ["facet", "species", "role", "theta", "Eb_eV",
                                     "structure", "reference"]
    assert list(growth.columns) == ["case", "facet", "rate", "rank", "anisotropy_index",
                                    "aspect_ratio", "aspect_ratio_c"]
    assert growth.aspect_ratio_c.isna().all()  # a cubic crystal has no c axis
    failed = gamma[gamma.structure == "111_acetate_t0.750_c0"]
    assert len(failed) == 1 and failed.gamma_meV_A2.isna().all()
    assert gamma.gamma_meV_A2.notna().sum() == n_gamma - 1


def test_gamma_frame_values(summary):
    df = gamma_frame(summary)
    row = df[df.structure == "100_acetate_t1.000_c0_F0"].iloc[0]
    assert (row.facet, row.ligand, row.theta, row.variant) == ("100", "acetate", 1.0, "F")
    assert row.gamma_meV_A2 == 6.0 and row.gamma_J_m2 == pytest.approx(6.0 * 0.0160218,
                                                                         rel=1e-3)
    assert df[df.variant.isna()].shape[0] == sum(
        1 for f in summary["facets"].values() for p in f["gamma"] if p["variant"] is None)
    assert df.lowest.sum() == sum(
        1 for f in summary["facets"].values() for p in f["gamma"] if p["lowest"])


def test_binding_frame_matches_fixture(summary):
    df = binding_frame(summary)
    expected = [(k, b["species"], b["role"], b["theta"], b["value"], b["structure"],
                 b["reference"]) for k, f in summary["facets"].items() for b in f["binding"]]
    assert [tuple(r) for r in df.itertuples(index=False)] == expected
    f111 = df[(df.facet == "111") & (df.species == "F")].iloc[0]
    assert f111.Eb_eV == -1.60 and f111.role == "additive"
    assert (df.Eb_eV < 0).all()


def test_growth_frame_ranks_and_case_values(summary):
    df = growth_frame(summary)
    wo = df[df.case == "without additive"].set_index("facet")
    assert wo.loc["111", "rank"] == 1 and wo.loc["100", "rank"] == 3
    assert wo.loc["111", "rate"] == 1.0
    assert (wo.anisotropy_index == 2.222).all() and (wo.aspect_ratio == 1.687).all()
    # without a ranking or an anisotropy index they are derived from the rates
    s = copy.deepcopy(summary)
    c = s["growth"]["cases"]["with F"]
    del c["ranking"], c["anisotropy_index"]
    wf = growth_frame(s).query("case == 'with F'").set_index("facet")
    assert list(wf["rank"].loc[["110", "100", "111"]]) == [1, 2, 3]
    assert wf.anisotropy_index.iloc[0] == pytest.approx(1.0 / 0.78)


def test_comparison_frame_and_empty_frames(summary):
    cmp = comparison_frame(summary)
    assert len(cmp) == 2 and list(cmp.columns) == ["finding", "paper", "this_run", "verdict",
                                                   "engine", "run", "probability",
                                                   "robustness"]
    assert set(cmp.verdict) == {"agrees"}
    for frame in (gamma_frame, binding_frame, growth_frame, comparison_frame):
        empty = frame({})
        assert empty.empty and len(empty.columns) >= 5


# ---------------------------------------------------------------- HTML


def test_html_report_contents(summary, rendered):
    out, figs = rendered
    path = write_html(summary, out, figs)
    assert path == out / "report.html"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert "<title>facetflow report: inas_znse_fluoride</title>" in text
    for facet in summary["facets"]:
        assert f"<td>{{{facet}}}</td>" in text or f">{{{facet}}}</td>" in text
    assert "111_acetate_t0.750_c0" in text and "relaxation did not converge" in text
    # the assumption with "<" is escaped
    assert "(n_additive &lt; n_ligands)" in text and "(n_additive < n_ligands)" not in text
    for word in ("chgnet 0.4.2", "cation-rich", "CH3COOH - 0.5 H2", "anisotropy index",
                 "Comparison with the paper", "agrees", "Store problems"):
        assert word in text
    # self-contained: one inline SVG per figure, no external references
    assert text.count("<svg") == 5
    assert "<link" not in text and "<script" not in text and 'src="http' not in text
    # store_problems is empty in the fixture
    store = text.split("<h3>Store problems</h3>", 1)[1]
    assert store.lstrip().startswith("<p>none</p>")


def test_html_with_png_only_and_missing_parts(summary, rendered, tmp_path):
    _, figs = rendered
    s = copy.deepcopy(summary)
    s["growth"]["cases"] = {}
    s["facets"]["110"]["gamma"] = []
    s["facets"]["110"]["optimum"] = {}
    s["missing"] = []
    del s["paper_comparison"]
    s["store_problems"] = [{"calc_hash": "abc123", "reason": "checksum <mismatch>"}]
    pngs = [p for p in figs if p.suffix == ".png"]
    text = write_html(s, tmp_path, pngs).read_text(encoding="utf-8")
    assert text.count("data:image/png;base64,") == 5 and "<svg" not in text
    assert "Growth cases: not computed." in text
    assert "θ* not computed" in text
    missing = text.split("<h3>Missing structures</h3>", 1)[1]
    assert missing.lstrip().startswith("<p>none</p>")
    assert "checksum &lt;mismatch&gt;" in text and "abc123" in text
    assert "Comparison with the paper" not in text
    for facet in summary["facets"]:
        assert f"{{{facet}}}" in text


def test_html_on_an_empty_summary(tmp_path):
    text = write_html({}, tmp_path, []).read_text(encoding="utf-8")
    assert "unnamed study" in text and text.count("<p>none</p>") == 2


def test_report_is_redrawn_only_when_what_it_shows_changes(tmp_path, tiny_run):
    """An unchanged work directory keeps its report files untouched (the rerun of a study
    does not redraw identical figures); a lost file, the figures switch or a changed
    study context redraws it."""
    import json

    from conftest import copy_workdir

    from facetflow.analysis.report import write_report

    wd = copy_workdir(tiny_run, tmp_path) / "tiny"
    report = wd / "report"
    write_report(wd)
    pngs = sorted(report.glob("*.png"))
    assert pngs and (report / "report.html").is_file()

    def stamps():
        return {p.name: p.stat().st_mtime_ns for p in report.iterdir()}

    before = stamps()
    write_report(wd)
    assert stamps() == before  # nothing redrawn
    pngs[0].unlink()
    write_report(wd)
    assert pngs[0].is_file() and stamps() != before  # a lost figure: drawn again
    write_report(wd, figures=False)
    assert not list(report.glob("*.png"))
    ctx = json.loads((wd / "study.json").read_text())
    ctx["study"]["conditions"]["temperature_C"] += 100.0
    (wd / "study.json").write_text(json.dumps(ctx))
    old = json.loads((report / "summary.json").read_text())
    write_report(wd, figures=False)
    new = json.loads((report / "summary.json").read_text())
    assert new["conditions"] != old["conditions"]


def test_unchanged_inputs_skip_the_summary_and_a_changed_row_does_not(tmp_path, tiny_run,
                                                                      monkeypatch):
    """A report drawn from the same plan, context and store rows (by their verified
    checksums) is not computed again; a store row that changed is."""
    from conftest import copy_workdir

    import facetflow.analysis.report as rep
    from facetflow.store import ResultStore

    wd = copy_workdir(tiny_run, tmp_path) / "tiny"
    rep.write_report(wd)  # stamps the inputs
    calls = []
    real = rep.build_summary
    monkeypatch.setattr(rep, "build_summary", lambda *a, **k: calls.append(1) or real(*a, **k))
    rep.write_report(wd)
    assert calls == []  # same inputs: the summary is not computed
    store = ResultStore(wd / "results.db")
    done = next(h for h, s in store.all().items() if s.status == "done")
    store.put_failed(done, "changed", "a recomputation failed", {}, None)
    rep.write_report(wd)
    assert calls == [1]  # a changed row: computed again
    summary = json.loads((wd / "report" / "summary.json").read_text())
    assert summary["missing"], "the failed row shows in the report"
