"""Error bars of the kinetic Wulff shapes (facet area fractions, the shapes of the median
and 5/95 % rates), of the Delta mu sweep rows and of the defect formation energies
(analysis.uncertainty), on plans built without calculations (studies/tiny.yaml with a
Delta mu sweep, tests/data/zns_defects_tiny.yaml) whose energies are set by hand:
E = sum_el n_el eps_el + bonus(structure), so every number is known exactly and noise
of a known size can be put on chosen structures."""

from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import DATA, STUDIES, optimum_at

EPS = {"In": -2.1, "As": -3.7, "Zn": -1.3, "Se": -4.4, "H": -1.1, "C": -5.3, "O": -6.9,
       "F": -2.6, "S": -4.1, "N": -8.3}
# tiny: E_b(acetate) -1.0 on {110} (n = 2) and -0.9 on {111} (n = 1); the growth species
# 0.45 eV above it on both, so the two rates are equal and both families are on the shape
TINY_BONUS = {"110_bare": 2.0, "110_shell": 1.0, "110_acetate_t1.000_c0": -3.0,
              "110_acetate_t1.000_c0_vac0": -1.0, "110_acetate_t1.000_c0_F0": -4.0,
              "110_acetate_t1.000_c0_ZnSe0": -2.1, "111_bare": 1.5, "111_shell": 0.5,
              "111_acetate_t1.000_c0": -1.2, "111_acetate_t1.000_c0_vac0": -0.3,
              "111_acetate_t1.000_c0_F0": -1.9, "111_acetate_t1.000_c0_Se0": -0.75}
DEFECT_BONUS = {"ref_bulk_ZnS": -2.0, "110_V_S_0": 3.0, "110_Zn_int_0": 2.5,
                "110_V_S_0_benzonitrile": 2.0}
SWEEP = {"delta_mu": {"Se": [-0.2, 0.2]}, "delta_mu_points": 5}  # row 2: Delta mu = 0
NO_SOURCES = {k: {"used": False, "note": ""} for k in ("configurations", "model",
                                                       "calibration")}


def _planned(path: Path, bonus: dict, tmp: Path, analysis: dict | None = None):
    """(WorkData with fixed energies, analysis context) of a study's full plan (both
    stages, binding structures at theta = 1), no calculation run."""
    from facetflow.analysis.data import WorkData
    from facetflow.records.context import EngineChoice
    from facetflow.structures.catalog import build_catalog
    from facetflow.structures.context import analysis_context, resolve
    from facetflow.study import parse_study
    from facetflow.workflows.plan import build_plan

    data = yaml.safe_load(path.read_text())
    if analysis:
        data["analysis"] = analysis
    study = parse_study(data, str(path), path.parent)
    plan = build_plan(study, build_catalog(study, path.parent, optimum_at(study, 1.0)))
    ctx = analysis_context(resolve(study, path.parent), EngineChoice(name=plan.engine), None)
    energies = {sid: sum(n * EPS[el] for el, n in rec.counts.items()) + bonus.get(sid, 0.0)
                for sid, rec in plan.records.items()}

    class Fixed(WorkData):
        def energy(self, sid):
            return energies.get(sid)

    Fixed.energies = energies  # the structures, for tests that put noise on each

    return Fixed(tmp, plan, {}, []), ctx


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny study's plan with a Delta mu sweep of Se, and its nominal summary."""
    from facetflow.analysis.summary import summarise

    wd, ctx = _planned(STUDIES / "tiny.yaml", TINY_BONUS, tmp_path_factory.mktemp("t"),
                       SWEEP)
    return wd, ctx, summarise(wd, ctx, uncertainty=False)


@pytest.fixture(scope="module")
def defects(tmp_path_factory):
    from facetflow.analysis.summary import summarise

    wd, ctx = _planned(DATA / "zns_defects_tiny.yaml", DEFECT_BONUS,
                       tmp_path_factory.mktemp("d"))
    return wd, ctx, summarise(wd, ctx, uncertainty=False)


def _propagate(wd, ctx, summary, sigma: dict, n: int = 400, seed: int = 0):
    from facetflow.analysis.inputs import SummaryInputs
    from facetflow.analysis.uncertainty import NoiseModel, propagate

    return propagate(SummaryInputs(wd, ctx), summary, NoiseModel(sigma=sigma), NO_SOURCES,
                     n=n, seed=seed)


def _sampled(wd, ctx, sigma: dict, n: int, seed: int = 3):
    """Sampled inputs, mu (with references) and the facets' samples, as ``propagate``
    makes them."""
    from facetflow.analysis.potentials import (
        chemical_potentials,
        passivation_energies,
        references,
    )
    from facetflow.analysis.uncertainty import EnergySampler, NoiseModel, SampledInputs

    rng = np.random.default_rng(seed)
    s = SampledInputs(wd, ctx, sampler=EnergySampler(NoiseModel(sigma=sigma), n, rng))
    refs = references(s)
    mu = chemical_potentials(s, refs)
    return s, refs, mu, passivation_energies(s, mu), rng


def _fractions(values: dict, case: str) -> dict:
    head = f"growth.cases.{case}.shape.facet_area_fractions."
    return {k.removeprefix(head): v for k, v in values.items() if k.startswith(head)}


# ------------------------------------------------------------------ area fractions


def test_fast_area_fractions_are_wulffpacks():
    """The half-space construction's area fractions (and aspect ratio) equal those of
    WulffPack's kinetic Wulff shape on zincblende (-43m) and wurtzite (6mm), a family
    missing from the shape having 0."""
    from facetflow.analysis.growth import family_key, kinetic_wulff
    from facetflow.analysis.wulff import family_normals, halfspace_shape
    from facetflow.structures.materials import get_compound

    rng = np.random.default_rng(11)
    for name, millers in [("ZnSe", [(1, 0, 0), (1, 1, 0), (1, 1, 1), (-1, -1, -1)]),
                          ("CdSe_wz", [(1, 0, -1, 0), (1, 1, -2, 0), (0, 0, 0, 1),
                                       (0, 0, 0, -1)])]:
        compound = get_compound(name)
        normals = [family_normals(compound, m) for m in millers]
        missing = 0
        for _ in range(6):
            rates = rng.uniform(0.4, 1.0, len(millers))
            slow = kinetic_wulff(compound, dict(zip(millers, rates, strict=True)))
            aspect, fractions = halfspace_shape(normals, rates)
            assert aspect == pytest.approx(slow.aspect_ratio, rel=0.01)
            want = [slow.facet_area_fractions.get(family_key(m), 0.0) for m in millers]
            assert fractions == pytest.approx(want, abs=1e-6)
            missing += sum(w == 0.0 for w in want)
        assert missing > 0  # some sets leave a family off the shape
    # an open shape (one family of a single plane) is NaN, not an error
    wz = get_compound("CdSe_wz")
    aspect, fractions = halfspace_shape([family_normals(wz, (0, 0, 0, 1))], [1.0])
    assert np.isnan(aspect) and np.isnan(fractions).all()


def test_area_fraction_intervals_are_points_without_noise_and_widen_with_it(tiny):
    wd, ctx, summary = tiny
    cases = summary["growth"]["cases"]
    assert 0 < cases["without additive"]["shape"]["facet_area_fractions"]["110"] < 1
    quiet = _propagate(wd, ctx, summary, {})["values"]
    for case, c in cases.items():
        got = _fractions(quiet, case)
        assert set(got) == {"110", "111"}
        for key, v in got.items():
            nominal = c["shape"]["facet_area_fractions"].get(key, 0.0)
            assert v["nominal"] == nominal
            assert v["low"] == pytest.approx(nominal, abs=1e-6)
            assert v["high"] == pytest.approx(nominal, abs=1e-6)
            assert v["samples"] == 200  # the shape samples, as for the aspect ratio
    noisy = _propagate(wd, ctx, summary, dict.fromkeys(wd.energies, 0.01))["values"]
    got = _fractions(noisy, "without additive")
    for key, v in got.items():
        assert v["low"] <= v["nominal"] <= v["high"], key
        assert v["high"] - v["low"] > 0.02, key
    # the two fractions of a sample add to 1: their means do too
    assert sum(v["mean"] for v in got.values()) == pytest.approx(1.0)


def test_quantile_shapes_are_the_nominal_shape_without_noise(tiny):
    wd, ctx, summary = tiny
    for sigma, n in ((0.0, 50), (0.02, 400)):
        u = _propagate(wd, ctx, summary, dict.fromkeys(wd.energies, sigma), n=n)
        for case, c in summary["growth"]["cases"].items():
            q = u["shapes"][case]
            for facet in c["rates"]:
                lo, mid, hi = (q[k]["rates"][facet] for k in ("low", "median", "high"))
                assert lo <= mid <= hi
                if sigma == 0.0:
                    assert lo == pytest.approx(c["rates"][facet], rel=1e-9)
                    assert hi == pytest.approx(c["rates"][facet], rel=1e-9)
            if sigma == 0.0:
                assert q["median"]["aspect_ratio"] == pytest.approx(
                    c["shape"]["aspect_ratio"], rel=0.01)
    # with noise the facets' 5 % and 95 % rates differ (the shapes drawn differ)
    q = u["shapes"]["without additive"]
    assert any(q["low"]["rates"][k] < q["high"]["rates"][k] - 0.01 for k in q["low"]["rates"])


# ------------------------------------------------------------------ Delta mu rows


def test_delta_mu_rows_are_the_nominal_sweep_without_noise(tiny):
    wd, ctx, summary = tiny
    rows = summary["growth_vs_delta_mu"]["Se"]
    assert [r["delta_mu"] for r in rows] == pytest.approx([-0.2, -0.1, 0.0, 0.1, 0.2])
    u = _propagate(wd, ctx, summary, {}, n=20)
    seen = set()
    for i, row in enumerate(rows):
        for case, c in row["cases"].items():
            v = u["values"][f"growth_vs_delta_mu.Se.{i}.cases.{case}.anisotropy_index"]
            assert v["low"] == pytest.approx(c["anisotropy_index"], rel=1e-9)
            assert v["high"] == pytest.approx(c["anisotropy_index"], rel=1e-9)
            seen.add(round(c["anisotropy_index"], 6))
            fastest = u["delta_mu"]["Se"][i]["cases"][case]["fastest"]
            assert fastest[c["ranking"][0]] == 1.0
    assert len(seen) > 5  # the anisotropy does move with Delta mu


def test_delta_mu_rows_move_with_delta_mu_and_share_the_samples(tiny):
    """With noise: the row at Delta mu = 0 is the unshifted number sample by sample; the
    other rows' intervals follow the nominal sweep, the probability that {110} grows
    fastest falls as mu_Se rises (E_b(Se) on {111} falls), and each row's samples are
    correlated with the unshifted ones (the same energies, shifted), which independent
    draws per row would not be."""
    wd, ctx, summary = tiny
    from facetflow.analysis.inputs import SummaryInputs
    from facetflow.analysis.uncertainty import (
        delta_mu_samples,
        facet_samples,
        growth_samples,
    )

    case = "with F"  # its anisotropy falls steadily over the sweep
    sigma = dict.fromkeys(wd.energies, 0.03)
    u = _propagate(wd, ctx, summary, sigma)
    base = u["values"][f"growth.cases.{case}.anisotropy_index"]
    rows = summary["growth_vs_delta_mu"]["Se"]
    got = [u["values"][f"growth_vs_delta_mu.Se.{i}.cases.{case}.anisotropy_index"]
           for i in range(len(rows))]
    assert (got[2]["low"], got[2]["high"]) == pytest.approx((base["low"], base["high"]))
    nominal = [r["cases"][case]["anisotropy_index"] for r in rows]
    assert all(a > b for a, b in zip(nominal, nominal[1:], strict=False))
    for g, a in zip(got, nominal, strict=True):
        assert g["low"] < a < g["high"]
    for a, b in zip(got, got[1:], strict=False):
        assert a["low"] > b["low"] and a["high"] > b["high"]
    p110 = [row["cases"]["without additive"]["fastest"]["110"]
            for row in u["delta_mu"]["Se"]]
    assert all(a >= b for a, b in zip(p110, p110[1:], strict=False))
    assert p110[0] > 0.9 and p110[-1] < 0.1 and 0.2 < p110[2] < 0.8

    s, _refs, mu, eps, rng = _sampled(wd, ctx, sigma, 600)
    drawn: dict = {}
    facets = {k: facet_samples(s, k, f, mu, eps, {}, rng, {}, drawn)
              for k, f in summary["facets"].items()}
    unshifted = growth_samples(SummaryInputs(wd, ctx), summary, facets, {}, 0)[case]
    sweep = delta_mu_samples(s, summary, mu, {}, rng, drawn)["Se"]
    assert np.array_equal(sweep[2][case]["anisotropy_index"], unshifted["anisotropy_index"])
    log_base = np.log(unshifted["anisotropy_index"])
    for i in (0, 1, 3, 4):
        r = np.corrcoef(log_base, np.log(sweep[i][case]["anisotropy_index"]))[0, 1]
        assert r > 0.9, (i, r)


# ------------------------------------------------------------------ defects


def test_defect_formation_energies_get_intervals(defects):
    wd, ctx, summary = defects
    entries = summary["defects"]["entries"]
    assert {e["defect"] for e in entries} == {"V_S", "Zn_int"}
    quiet = _propagate(wd, ctx, summary, {}, n=20)["values"]
    noisy = _propagate(wd, ctx, summary, dict.fromkeys(wd.energies, 0.1))["values"]
    for e in entries:
        for lim, ef in e["E_f"].items():
            key = f"defects.entries.{e['structure']}.E_f.{lim}"
            assert quiet[key]["low"] == pytest.approx(ef) == quiet[key]["high"]
            assert noisy[key]["nominal"] == pytest.approx(ef)
            assert noisy[key]["low"] < ef < noisy[key]["high"]
            assert noisy[key]["std"] > 0.05
        if e["ligand"]:
            assert noisy[f"defects.entries.{e['structure']}.dE_f"]["std"] > 0.05
    assert "defects.formation_enthalpy" in noisy


def test_defect_energies_sharing_a_slab_move_together(defects):
    """Noise mostly on the pristine slab that both plain defects are formed from: their
    E_f samples are correlated (r > 0.9), with std sigma / n_defects. Noise on the
    vacancy slab moves E_f(V_S) up and the ligand's E_b at that vacancy down together
    (r < -0.9). Drawing each quantity's noise separately would give r = 0."""
    wd, ctx, summary = defects
    from facetflow.analysis.uncertainty import defect_samples

    plain = {e["defect"]: e for e in summary["defects"]["entries"] if e["ligand"] is None}
    pristine = plain["V_S"]["reference"]
    assert plain["Zn_int"]["reference"] == pristine
    sigma = {**dict.fromkeys(wd.energies, 0.03), pristine: 0.3}
    s, refs, mu, _eps, _rng = _sampled(wd, ctx, sigma, 4000)
    got = defect_samples(s, summary, refs, mu, {})
    lim = "anion-rich"
    vs, zn = (got[plain[k]["structure"]]["E_f"][lim] for k in ("V_S", "Zn_int"))
    assert np.corrcoef(vs, zn)[0, 1] > 0.9
    assert np.std(vs) == pytest.approx(0.3 / plain["V_S"]["n_defects"], rel=0.1)

    vac = plain["V_S"]["structure"]
    lig = next(e for e in summary["defects"]["entries"]
               if e["ligand"] and e["defect"] == "V_S")
    s, refs, mu, _eps, _rng = _sampled(wd, ctx, {**dict.fromkeys(wd.energies, 0.03),
                                                 vac: 0.3}, 4000)
    got = defect_samples(s, summary, refs, mu, {})
    r = np.corrcoef(got[vac]["E_f"][lim], got[lig["structure"]]["E_b_ligand_at_defect"])
    assert r[0, 1] < -0.9


# ------------------------------------------------------------------ figure and report


def test_shape_figure_draws_the_quantile_shapes(tiny, tmp_path):
    from mpl_toolkits.mplot3d.art3d import Poly3DCollection

    from facetflow.analysis.figures import shape_figure as save_shapes
    from facetflow.analysis.shape_plot import shape_figure

    wd, ctx, summary = tiny
    u = _propagate(wd, ctx, summary, dict.fromkeys(wd.energies, 0.01), n=200)
    with_bars = {**summary, "uncertainty": u}
    n_cases = len(summary["growth"]["cases"])
    assert len(shape_figure(summary).axes) == n_cases
    fig = shape_figure(with_bars)
    assert len(fig.axes) == 4 * n_cases
    small = fig.axes[1:4]
    assert [ax.get_title().split("\n")[0] for ax in small] == \
        ["5 % rates", "median rates", "95 % rates"]
    for ax in small:
        assert "aspect ratio" in ax.get_title()
        assert any(isinstance(c, Poly3DCollection) for c in ax.collections)
    paths = save_shapes(with_bars, tmp_path)
    assert {p.name for p in paths} == {"shapes.png", "shapes.svg"}
    assert all(p.stat().st_size > 1000 for p in paths)


def test_report_shows_area_fraction_and_delta_mu_intervals(tiny):
    from facetflow.analysis.html import render_html
    from facetflow.analysis.summary_view import interval_text
    from facetflow.records.uncertainty import UncertaintySummary

    wd, ctx, summary = tiny
    u = _propagate(wd, ctx, summary, dict.fromkeys(wd.energies, 0.01), n=200)
    u = UncertaintySummary.model_validate(u).model_dump(mode="json")
    s = {**summary, "uncertainty": u}
    html = render_html(s)
    frac = interval_text(s, "growth.cases.without additive.shape.facet_area_fractions.110")
    shape = summary["growth"]["cases"]["without additive"]["shape"]
    assert frac and f"{{110}} {shape['facet_area_fractions']['110']:.2f}{frac}" in html
    assert "Growth as a chemical potential moves" in html
    row = interval_text(s, "growth_vs_delta_mu.Se.0.cases.with F.anisotropy_index",
                        ratio=True)
    assert row and row in html
