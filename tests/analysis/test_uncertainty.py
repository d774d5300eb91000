"""Error bars and probabilities (analysis.uncertainty) on the tiny study's plan with
energies set by hand: E = sum_el n_el eps_el + bonus(structure), so every surface quantity
is known exactly and noise can be added with a known standard deviation."""

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from conftest import copy_workdir

EPS = {"In": -2.1, "As": -3.7, "Zn": -1.3, "Se": -4.4, "H": -1.1, "C": -5.3, "O": -6.9,
       "F": -2.6}
BONUS = {"110_bare": 2.0, "110_shell": 1.0, "110_acetate_t1.000_c0": -3.0,
         "110_acetate_t1.000_c0_vac0": -1.0, "110_acetate_t1.000_c0_F0": -4.0,
         "110_acetate_t1.000_c0_ZnSe0": -0.2, "111_bare": 1.5, "111_shell": 0.5,
         "111_acetate_t1.000_c0": -1.2, "111_acetate_t1.000_c0_vac0": -0.3,
         "111_acetate_t1.000_c0_F0": -1.9, "111_acetate_t1.000_c0_Se0": -0.8}


@pytest.fixture(scope="module")
def truth(tiny_run, tmp_path_factory):
    """The tiny work directory, its true energies and the summary made from them."""
    from facetflow.analysis.data import load
    from facetflow.analysis.summary import summarise
    from facetflow.records.context import read_context

    workdir = copy_workdir(tiny_run, tmp_path_factory.mktemp("unc")) / "tiny"
    plan = json.loads((workdir / "plan.json").read_text())
    nodes = {n["hash"]: n for n in plan["nodes"]}
    energies = {}
    for sid, rec in plan["records"].items():
        counts = Counter(nodes[rec["calc"]]["structure"]["symbols"])
        energies[sid] = sum(n * EPS[el] for el, n in counts.items()) + BONUS.get(sid, 0.0)
    wd, ctx = load(workdir), read_context(Path(workdir) / "study.json")
    summary = summarise(Fixed(wd, energies), ctx, uncertainty=False)
    return wd, ctx, energies, summary


def Fixed(wd, energies):  # noqa: N802 - a WorkData whose energies are given
    from facetflow.analysis.data import WorkData

    class _Fixed(WorkData):
        def energy(self, sid):
            return energies.get(sid)

    return _Fixed(wd.workdir, wd.plan, wd.results, [])


def _propagate(wd, ctx, energies, summary, sigma, n=400, seed=0):
    from facetflow.analysis.inputs import SummaryInputs
    from facetflow.analysis.uncertainty import NoiseModel, propagate

    sources = {"configurations": {"used": False, "note": ""},
               "model": {"used": False, "note": ""},
               "calibration": {"used": False, "note": ""}}
    return propagate(SummaryInputs(Fixed(wd, energies), ctx), summary,
                     NoiseModel(sigma=sigma), sources, n=n, seed=seed, shape_samples=0)


def test_intervals_cover_the_truth_at_their_nominal_rate(truth):
    """200 draws of energies with known Gaussian noise (0.1 eV each): the 90 % intervals
    of E_b and gamma made from each draw contain the true value in 85-95 % of draws."""
    wd, ctx, energies, summary = truth
    rng = np.random.default_rng(7)
    sigma = dict.fromkeys(energies, 0.1)
    paths = [f"facets.{label}.binding.{b['ligand']}.{b['species']}"
             for label, fac in summary["facets"].items() for b in fac["binding"]]
    paths += [f"facets.{label}.gamma.{p['structure']}"
              for label, fac in summary["facets"].items() for p in fac["gamma"]]
    true = _propagate(wd, ctx, energies, summary, {}, n=2)["values"]
    hits = Counter()
    for draw in range(200):
        seen = {k: e + 0.1 * rng.standard_normal() for k, e in energies.items()}
        got = _propagate(wd, ctx, seen, summary, sigma, seed=draw)["values"]
        for p in paths:
            hits[p] += got[p]["low"] <= true[p]["mean"] <= got[p]["high"]
    assert len(paths) >= 8
    for p in paths:
        assert 0.85 <= hits[p] / 200 <= 0.95, (p, hits[p])


def test_binding_energies_sharing_a_vacancy_move_together(truth):
    wd, ctx, energies, summary = truth
    from facetflow.analysis.inputs import SummaryInputs
    from facetflow.analysis.potentials import chemical_potentials, references
    from facetflow.analysis.surfaces import _eb
    from facetflow.analysis.uncertainty import EnergySampler, NoiseModel, SampledInputs

    vac = "110_acetate_t1.000_c0_vac0"
    fac = summary["facets"]["110"]
    entries = {b["species"]: b for b in fac["binding"] if b["reference"] == vac}
    assert {"F", "ZnSe"} <= set(entries)

    def samples(sigma):
        rng = np.random.default_rng(1)
        base = SummaryInputs(Fixed(wd, energies), ctx)
        s = SampledInputs(base.wd, ctx, sampler=EnergySampler(NoiseModel(sigma=sigma),
                                                              4000, rng))
        mu = chemical_potentials(s, references(s))
        return {k: _eb(s, k, b["role"], b["structure"], vac, b["n_sites"], b["theta"],
                       mu)["value"] for k, b in entries.items()}

    only_vacancy = samples({vac: 0.2})
    assert np.corrcoef(only_vacancy["F"], only_vacancy["ZnSe"])[0, 1] > 0.99
    # E_b = (E_with - E_vac - n mu)/n: independent equal noise on the three slabs; each
    # E_b has half of its variance from the shared vacancy -> correlation 0.5
    every = samples(dict.fromkeys([vac, *(b["structure"] for b in entries.values())], 0.2))
    r = np.corrcoef(every["F"], every["ZnSe"])[0, 1]
    assert 0.4 < r < 0.6
    assert np.std(every["F"]) == pytest.approx(0.2 * np.sqrt(2) / 2, rel=0.1)


def test_growth_input_counts_ligands_per_face_once(truth):
    """The additive's share 1/n uses the arrangement's ligands per face (n_ligands is
    already per face; dividing by n_faces again doubled the share on symmetric slabs)."""
    wd, _ctx, _energies, summary = truth
    case = summary["growth"]["cases"]["with F"]
    opt = summary["facets"]["110"]["optimum"]["acetate"]["structure"]
    rec = wd.records[opt]
    assert rec.n_faces == 2 and rec.n_ligands == 2
    assert case["inputs"]["110"]["n_ligands"] == rec.n_ligands


def test_ranking_and_finding_probabilities(truth):
    """Noise large enough to swap two facets' rates gives a fastest-facet probability
    strictly between 0 and 1, the probabilities add to 1, and a finding on the ranking
    gets the fraction of samples in which it holds."""
    wd, ctx, energies, summary = truth
    from facetflow.analysis.uncertainty import finding_probabilities, growth_samples

    quiet = _propagate(wd, ctx, energies, summary, {})
    for rank in quiet["ranking"].values():
        assert sorted(rank["fastest"].values())[-1] == 1.0  # no noise: one ranking
    noisy = _propagate(wd, ctx, energies, summary, dict.fromkeys(energies, 0.5))
    rank = noisy["ranking"]["without additive"]
    assert sum(rank["fastest"].values()) == pytest.approx(1.0)
    assert sum(rank["orders"].values()) == pytest.approx(1.0)
    assert rank["samples"] == 400
    stds = [v["std"] for k, v in noisy["values"].items() if ".binding." in k]
    assert min(stds) > 0.1
    # a finding "{110} grows fastest without additive", checked per sample
    findings = {"name": "t", "engine": "t", "binding_sign": "negative_bound", "findings": [
        {"id": "fast", "text": "110 fastest", "checks": [
            {"kind": "fastest_facet", "case": "without additive", "facet": "110"}]}]}
    from facetflow.analysis.inputs import SummaryInputs
    from facetflow.analysis.potentials import (
        chemical_potentials,
        passivation_energies,
        references,
    )
    from facetflow.analysis.uncertainty import (
        EnergySampler,
        NoiseModel,
        SampledInputs,
        facet_samples,
    )

    rng = np.random.default_rng(3)
    s = SampledInputs(Fixed(wd, energies), ctx, sampler=EnergySampler(
        NoiseModel(sigma=dict.fromkeys(energies, 0.5)), 300, rng))
    mu = chemical_potentials(s, references(s))
    eps = passivation_energies(s, mu)
    values: dict = {}
    facets = {k: facet_samples(s, k, f, mu, eps, {}, rng, values)
              for k, f in summary["facets"].items()}
    growth = growth_samples(SummaryInputs(Fixed(wd, energies), ctx), summary, facets,
                            values, shape_samples=0)
    (row,) = finding_probabilities(summary, facets, growth, findings, 300)
    g = growth["without additive"]
    fastest = np.mean(np.argmax(g["rates"], axis=1) == g["labels"].index("110"))
    assert row["probability"] == pytest.approx(fastest)


def test_optimum_of_samples_follows_the_single_value_rule():
    from facetflow.analysis.energetics import optimal_coverage
    from facetflow.analysis.uncertainty import optimal_coverage_samples

    rng = np.random.default_rng(5)
    thetas = np.array([0.25, 0.375, 0.5, 0.625, 0.75])
    gammas = rng.normal(0, 1, (300, 5)) + 4 * (thetas - 0.5) ** 2
    theta, gamma = optimal_coverage_samples(thetas, gammas)
    for i in range(300):
        one = optimal_coverage(thetas, gammas[i])
        assert theta[i] == pytest.approx(one.theta)
        assert gamma[i] == pytest.approx(one.gamma)
    assert len(set(np.round(theta, 6))) > 5  # interior vertices as well as grid points


def test_committee_spread_is_the_models_disagreement_on_each_quantity(truth):
    """A committee model whose energies differ from the engine's by a per-element offset
    (cancels in every balanced quantity) plus 0.3 eV on one vacancy slab moves only the
    binding energies using that vacancy, by 0.3/n_sites (one standard deviation)."""
    wd, ctx, energies, summary = truth
    from facetflow.analysis.inputs import SummaryInputs
    from facetflow.analysis.uncertainty import NoiseModel, propagate

    plan = json.loads((Path(wd.workdir) / "plan.json").read_text())
    nodes = {n["hash"]: n for n in plan["nodes"]}
    vac = "110_acetate_t1.000_c0_vac0"
    dev = {}
    for sid, rec in plan["records"].items():
        counts = Counter(nodes[rec["calc"]]["structure"]["symbols"])
        dev[sid] = np.array([0.7 * counts["Zn"] - 0.2 * counts["H"] + (0.3 if sid == vac
                                                                      else 0.0)])
    sources = {k: {"used": False, "note": ""}
               for k in ("configurations", "model", "calibration")}
    got = propagate(SummaryInputs(Fixed(wd, energies), ctx), summary,
                    NoiseModel(committee=dev), sources, n=4000, shape_samples=0)["values"]
    for key, v in got.items():
        uses_vacancy = key.startswith("facets.110.binding.")
        if uses_vacancy:
            assert v["std"] == pytest.approx(0.3 / 2, rel=0.05), key
        elif ".binding." in key or ".gamma" in key:
            assert v["std"] < 1e-9, key


def test_precursor_priced_growth_species_keeps_the_element_at_its_limit(truth):
    """Se bound on {111} priced by another reaction (here E(H2), a molecule of the plan):
    its mu is listed as 'Se (adsorbate)' and gives E_b(Se), while the shell's Se (gamma)
    stays at the cation-rich limit; the headline names the reaction."""
    from facetflow.analysis.summary import summarise
    from facetflow.analysis.summary_view import growth_references

    wd, ctx, energies, summary = truth
    ligands = dict(ctx.ligands)
    ligands["Se"] = ligands["Se"].model_copy(update={"reference": {"H2": 1.0}})
    s = summarise(Fixed(wd, energies), ctx.model_copy(update={"ligands": ligands}),
                  uncertainty=False)
    mu = s["chemical_potentials"]
    assert mu["Se"]["value"] == pytest.approx(summary["chemical_potentials"]["Se"]["value"])
    h2 = energies["ref_mol_H2"]
    assert mu["Se (adsorbate)"]["value"] == pytest.approx(h2)
    eb = next(b for b in s["facets"]["111"]["binding"] if b["species"] == "Se")
    vac, with_se = "111_acetate_t1.000_c0_vac0", "111_acetate_t1.000_c0_Se0"
    assert eb["value"] == pytest.approx(energies[with_se] - energies[vac] - h2)
    assert s["facets"]["111"]["gamma_bare"] == summary["facets"]["111"]["gamma_bare"]
    assert "mu_Se = 1 E(H2)" in growth_references(s)


def test_fast_wulff_aspect_ratio_matches_the_kinetic_wulff_shape():
    """The samples' aspect ratio (half-space intersection over the point group's family
    normals) is the kinetic Wulff shape's, on zincblende (-43m: {111} A and {-1-1-1} B
    apart) and on wurtzite (6mm)."""
    from facetflow.analysis.growth import kinetic_wulff
    from facetflow.analysis.uncertainty import wulff_aspect_ratio
    from facetflow.analysis.wulff import family_normals
    from facetflow.structures.materials import get_compound

    zb, wz = get_compound("ZnSe"), get_compound("CdSe_wz")
    assert [len(family_normals(zb, m)) for m in [(1, 0, 0), (1, 1, 0), (1, 1, 1)]] == \
        [6, 12, 4]
    assert len(family_normals(wz, (1, 0, -1, 0))) == 6
    assert len(family_normals(wz, (0, 0, 0, 1))) == 1
    rng = np.random.default_rng(4)
    for compound, millers in [(zb, [(1, 0, 0), (1, 1, 0), (1, 1, 1), (-1, -1, -1)]),
                              (wz, [(1, 0, -1, 0), (1, 1, -2, 0), (0, 0, 0, 1),
                                    (0, 0, 0, -1)])]:
        normals = [family_normals(compound, m) for m in millers]
        for _ in range(8):
            rates = rng.uniform(0.4, 1.0, len(millers))
            slow = kinetic_wulff(compound, dict(zip(millers, rates, strict=True)))
            fast = wulff_aspect_ratio(normals, rates)
            assert fast == pytest.approx(slow.aspect_ratio, rel=0.01)
    cube = wulff_aspect_ratio([family_normals(zb, m) for m in [(1, 0, 0), (1, 1, 0)]],
                              [1.0, 5.0])
    assert cube == pytest.approx(np.sqrt(3), rel=0.01)


def test_calibration_is_the_rms_residual_against_dft_runs_per_family():
    from facetflow.analysis.uncertainty import calibration_noise

    def run(engine, values):
        return {"study": "s", "engine": {"name": engine}, "facets": {"111": {"binding": [
            {"species": sp, "ligand": "acetate", "role": role, "value": v}
            for (sp, role), v in values.items()]}}}

    ml = run("mlip", {("acetate", "ligand"): -1.0, ("F", "additive"): -2.0,
                      ("Se", "growth"): 0.5})
    dft = run("qe", {("acetate", "ligand"): -1.3, ("F", "additive"): -1.6})
    sigma, source = calibration_noise(ml, [dft])
    assert sigma == {"ligand": pytest.approx(0.3), "additive": pytest.approx(0.4)}
    assert source["used"] and source["families"]["additive"]["mean_eV"] == pytest.approx(-0.4)
    assert "s (qe)" in source["note"]
    # another ML run is no calibration, nor is a DFT run of the engine itself
    assert calibration_noise(ml, [run("mlip", {("F", "additive"): -1.0})])[0] == {}
    assert calibration_noise(dft, [ml])[1]["used"] is False
