"""Error bars for every number of a summary, probabilities for rankings and findings.

Monte Carlo over the structures' energies (eV), vectorised with numpy, under the noise
model of ``analysis.noise`` (committee, configurations, calibration, given Gaussian
noise). Each structure's energy is sampled once per sample and that one array is used
wherever the structure enters, so correlations are kept: a vacancy slab shared by
several E_b shifts all of them together, a bulk reference shifts every mu and gamma that
uses it; the calibration noise is drawn per binding energy and species family.

The samples go through the summary's own functions: mu and eps (``potentials``),
gamma_bare, gamma(theta) and E_b (``surfaces``, paper eqs. 3 and 4), theta* by the same
parabola rule as ``energetics.optimal_coverage``, growth rates by
``growth.growth_rate``, the anisotropy index, the kinetic Wulff aspect ratio and facet
area fractions (on the first ``SHAPE_SAMPLES`` samples, built as half-space
intersections: ``wulff.halfspace_shape``), the shapes of each facet's median, 5 % and
95 % rate, each row of the Delta mu sweeps (the same samples with mu shifted), the
defect formation energies (``defects``) and the paper checks (``paper.compare`` per
sample).
"""

from __future__ import annotations

import logging
import time

import numpy as np

import facetflow.analysis.defects as df
import facetflow.analysis.growth as gr
from facetflow.analysis.inputs import SummaryInputs
from facetflow.analysis.noise import (
    EnergySampler,
    NoiseModel,
    SampledInputs,
    calibration_noise,
    committee_noise,
    dataset_noise,
    starts_noise,
)
from facetflow.analysis.paper import AGREES, DISAGREES, compare
from facetflow.analysis.potentials import (
    chemical_potentials,
    passivation_energies,
    references,
    shifted,
)
from facetflow.analysis.surfaces import _eb, gamma_bare, interfacial
from facetflow.analysis.wulff import family_normals, halfspace_shape
from facetflow.structures.materials import Compound

log = logging.getLogger(__name__)

SAMPLES = 1000
SEED = 20
INTERVAL = 0.90
ROBUST = 0.90
SHAPE_SAMPLES = 200
FINDING_SAMPLES = 500


def propagate(inp: SummaryInputs, summary: dict, noise: NoiseModel, sources: dict,
              n: int = SAMPLES, seed: int = SEED, shape_samples: int = SHAPE_SAMPLES
              ) -> dict:
    """``summary.json: uncertainty`` (``records.uncertainty.UncertaintySummary``) of
    ``summary`` (the nominal summary of ``inp``) under ``noise``; kinetic Wulff shapes
    of the first ``shape_samples`` samples; the Delta mu rows and the defect energies
    from the same energy samples."""
    rng = np.random.default_rng(seed)
    sinp = SampledInputs(inp.wd, inp.ctx, sampler=EnergySampler(noise, n, rng))
    values: dict[str, dict] = {}
    refs = references(sinp)
    mu = chemical_potentials(sinp, refs)
    for k, m in mu.items():
        _put(values, f"chemical_potentials.{k}",
             (summary["chemical_potentials"].get(k) or {}).get("value"), m["value"])
    eps = passivation_energies(sinp, mu)
    for host, v in eps.items():
        _put(values, f"passivation.{host}",
             (summary.get("passivation", {}).get(host) or {}).get("value"), v)
    drawn: dict[tuple, np.ndarray] = {}
    facets = {label: facet_samples(sinp, label, fac, mu, eps, noise.calibration, rng,
                                   values, drawn)
              for label, fac in summary["facets"].items()}
    growth = growth_samples(inp, summary, facets, values, shape_samples)
    sweeps = delta_mu_samples(sinp, summary, mu, noise.calibration, rng, drawn)
    if summary.get("defects"):
        defect_samples(sinp, summary, refs, mu, values)
    findings = finding_probabilities(summary, facets, growth, inp.ctx.compare_with,
                                     min(n, FINDING_SAMPLES))
    return {"method": f"Monte Carlo over the structures' energies, {n} samples "
                      "(facetflow.analysis.uncertainty)",
            "samples": n, "seed": seed, "interval": INTERVAL, "robust_threshold": ROBUST,
            "sources": {**sources, "energies": dict(noise.sigma)},
            "values": values, "ranking": {case: _ranking(g) for case, g in growth.items()},
            "findings": findings,
            "shape_samples": min(n, shape_samples) if growth else 0,
            "shapes": {case: g["shapes"] for case, g in growth.items() if g["shapes"]},
            "delta_mu": delta_mu_values(summary, sweeps, values)}


def _put(values: dict, path: str, nominal, samples) -> None:
    """The interval entry of ``samples`` (skipped when not an array of finite values)."""
    if samples is None or np.ndim(samples) == 0:
        return
    x = np.asarray(samples, float)
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return
    q = (1 - INTERVAL) / 2
    lo, hi = np.quantile(x, [q, 1 - q])
    values[path] = {"nominal": None if nominal is None else float(nominal),
                    "mean": float(x.mean()), "std": float(x.std()), "low": float(lo),
                    "high": float(hi), "samples": int(len(x))}


def facet_samples(sinp: SampledInputs, label: str, fac: dict, mu: dict, eps: dict,
                  calibration: dict[str, float], rng: np.random.Generator,
                  values: dict, drawn: dict[tuple, np.ndarray] | None = None) -> dict:
    """Samples of one facet: gamma_bare, gamma of every point, theta* and gamma* per
    ligand (+variant), E_b of every binding entry (entered into ``values``); returns the
    theta* and binding samples the growth model and the findings need. ``drawn`` keeps
    each E_b's calibration draw (eV), so that a second pass (a Delta mu row) reuses it."""
    gb = gamma_bare(sinp, label, mu, eps)["value"]
    _put(values, f"facets.{label}.gamma_bare", fac["gamma_bare"]["value"], gb)
    bare = fac["gamma_bare"]["structure"]
    if fac.get("gamma_shell"):
        g = interfacial(sinp, fac["gamma_shell"]["structure"], bare, gb, mu)
        _put(values, f"facets.{label}.gamma_shell", fac["gamma_shell"]["value"], g["value"])
    deltas = {}
    for p in fac["gamma"]:
        g = interfacial(sinp, p["structure"], bare, gb, mu)
        if g["delta"] is not None:
            deltas[p["structure"]] = np.asarray(g["delta"], float)
            _put(values, f"facets.{label}.gamma.{p['structure']}", p["value"], g["value"])
    optima = {}
    for name, opt in fac["optimum"].items():
        series = [p for p in fac["gamma"] if p["structure"] in deltas
                  and p["ligand"] + (f"+{p['variant']}" if p["variant"] else "") == name]
        if not opt or opt.get("delta") is None or not series:
            continue
        thetas = sorted({p["theta"] for p in series})
        lowest = np.stack([np.min([deltas[p["structure"]] for p in series
                                   if p["theta"] == t], axis=0) for t in thetas], axis=1)
        theta, delta = optimal_coverage_samples(np.array(thetas), lowest)
        optima[name] = theta
        _put(values, f"facets.{label}.optimum.{name}.theta", opt["theta"], theta)
        _put(values, f"facets.{label}.optimum.{name}.value", opt["value"],
             None if gb is None else gb + delta)
    binding = []
    for b in fac["binding"]:
        got = _eb(sinp, b["species"], b["role"], b["structure"], b["reference"],
                  b["n_sites"], b["theta"], mu)["value"]
        if got is None or np.ndim(got) == 0:
            continue
        if calibration.get(b["role"]):
            got = got + _calibration_draw(drawn, (label, b.get("ligand"), b["species"]),
                                          calibration[b["role"]], len(got), rng)
        binding.append({**b, "value": got})
        _put(values, f"facets.{label}.binding.{b.get('ligand')}.{b['species']}",
             b["value"], got)
    return {"optimum": optima, "binding": binding}


def _calibration_draw(drawn: dict[tuple, np.ndarray] | None, key: tuple, sigma: float,
                      n: int, rng: np.random.Generator) -> np.ndarray:
    """N(0, sigma) samples (eV) of one E_b's calibration, drawn once per ``key`` when
    ``drawn`` keeps them."""
    if drawn is not None and key in drawn:
        return drawn[key]
    got = sigma * rng.standard_normal(n)
    if drawn is not None:
        drawn[key] = got
    return got


def optimal_coverage_samples(thetas: np.ndarray, gammas: np.ndarray
                             ) -> tuple[np.ndarray, np.ndarray]:
    """theta* and gamma(theta*) per row of ``gammas`` (samples x sorted thetas), by the
    rule of ``energetics.optimal_coverage``: the lowest point, refined by the vertex of
    the parabola through it and its neighbours when interior, convex and between them."""
    rows = np.arange(len(gammas))
    k = np.argmin(gammas, axis=1)
    theta, gamma = thetas[k].astype(float), gammas[rows, k].astype(float)
    if len(thetas) < 3:
        return theta, gamma
    kk = np.clip(k, 1, len(thetas) - 2)
    t0, t1, t2 = thetas[kk - 1], thetas[kk], thetas[kk + 1]
    g0, g1, g2 = gammas[rows, kk - 1], gammas[rows, kk], gammas[rows, kk + 1]
    s01, s12 = (g1 - g0) / (t1 - t0), (g2 - g1) / (t2 - t1)
    a = (s12 - s01) / (t2 - t0)
    b = s01 - a * (t0 + t1)
    with np.errstate(divide="ignore", invalid="ignore"):
        tv = -b / (2 * a)
    ok = (k == kk) & (a > 0) & (tv >= t0) & (tv <= t2)
    gv = g0 + s01 * (tv - t0) + a * (tv - t0) * (tv - t1)
    return np.where(ok, tv, theta), np.where(ok, gv, gamma)


def case_rates(inp: SummaryInputs, summary: dict, facets: dict) -> dict[str, dict]:
    """Per growth case with two or more facets: the facet labels, the sampled rates
    (samples x facets, dimensionless, relative to the fastest facet of each sample) and
    the anisotropy index (fastest / slowest) of each sample, from the theta* and E_b
    samples of ``facets`` (``facet_samples``) through ``growth.growth_rate`` at the
    synthesis temperature."""
    temperature = summary["growth"]["temperature_C"]
    lig = inp.study.ligands[0].name if inp.study.ligands else None
    out = {}
    for case, data in summary["growth"]["cases"].items():
        inputs = data.get("inputs") or {}
        additive = None if case == "without additive" else case.removeprefix("with ")
        raw = {label: gr.growth_rate(_sampled_input(facets[label], fi, lig, additive),
                                     temperature) for label, fi in inputs.items()}
        if len(raw) < 2:
            continue
        labels = list(raw)
        rates = np.stack([np.broadcast_to(raw[k], (_n(facets),)) for k in labels], axis=1)
        rates = rates / rates.max(axis=1, keepdims=True)
        out[case] = {"labels": labels, "rates": rates,
                     "anisotropy_index": rates.max(axis=1) / rates.min(axis=1)}
    return out


def growth_samples(inp: SummaryInputs, summary: dict, facets: dict, values: dict,
                   shape_samples: int = SHAPE_SAMPLES) -> dict[str, dict]:
    """Per growth case: sampled rates and anisotropy index (``case_rates``), with the
    rates, the anisotropy index, and the aspect ratio and facet area fractions of the
    kinetic Wulff shape on the first ``shape_samples`` samples entered into ``values``;
    ``shapes``: the shapes of the quantile rates (``quantile_shapes``)."""
    millers = {f.label: f.miller for f in inp.study.facets}
    compound = gr.study_core(inp.study)
    out = case_rates(inp, summary, facets)
    for case, g in out.items():
        data, at = summary["growth"]["cases"][case], f"growth.cases.{case}"
        for j, label in enumerate(g["labels"]):
            _put(values, f"{at}.rates.{label}", data["rates"].get(label), g["rates"][:, j])
        _put(values, f"{at}.anisotropy_index", data["anisotropy_index"],
             g["anisotropy_index"])
        fams = [millers[k] for k in g["labels"]]
        _shape_values(compound, fams, g["rates"][:shape_samples], data.get("shape") or {},
                      f"{at}.shape", values)
        ref = data["ranking"][0] if data.get("ranking") else g["labels"][0]
        g["shapes"] = quantile_shapes(compound, g["labels"], fams, g["rates"],
                                      g["labels"].index(ref))
    return out


def _shape_values(compound: Compound, millers: list, rates: np.ndarray, nominal: dict,
                  path: str, values: dict) -> None:
    """The aspect ratio and the area fraction of each family (keys as
    ``growth.kinetic_wulff`` writes them) of the kinetic Wulff shapes of the rows of
    ``rates`` (``_shapes``), entered into ``values`` under ``path``; a family absent
    from the nominal shape has the nominal fraction 0."""
    got = _shapes(compound, millers, rates)
    if got is None:
        return
    aspect, fractions = got
    _put(values, f"{path}.aspect_ratio", nominal.get("aspect_ratio"), aspect)
    known = nominal.get("facet_area_fractions")
    for j, m in enumerate(millers):
        key = gr.family_key(m)
        _put(values, f"{path}.facet_area_fractions.{key}",
             None if known is None else known.get(key, 0.0), fractions[:, j])


def _n(facets: dict) -> int:
    """The number of samples (from any sampled binding energy)."""
    for fs in facets.values():
        for b in fs["binding"]:
            return len(b["value"])
    return 1


def _sampled_input(fs: dict, nominal: dict, lig: str | None, additive: str | None
                   ) -> gr.FacetGrowthInput:
    """The growth model's input of one facet with sampled theta* and E_b (the nominal
    value where a quantity has no samples), chosen as ``summary._growth_inputs`` does."""
    eb = {b["species"]: b["value"] for b in fs["binding"]}
    grow = [b["value"] for b in fs["binding"] if b["role"] == "growth"]
    return gr.FacetGrowthInput(
        theta_opt=fs["optimum"].get(lig, nominal["theta_opt"]),
        footprint=nominal["footprint"],
        eb_growth=grow[0] if grow else nominal["eb_growth"],
        eb_ligand=eb.get(lig, nominal["eb_ligand"]), n_ligands=nominal["n_ligands"],
        eb_additive=None if additive is None else eb.get(additive, nominal["eb_additive"]))


def _shapes(compound: Compound, millers: list, rates: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray] | None:
    """Aspect ratio (samples) and area fraction of each family (samples x families) of
    the kinetic Wulff shape of each row of ``rates`` (NaN where a shape cannot be
    built); None when the facets share Miller indices or there are no rows. The shape
    is the one of ``growth.kinetic_wulff`` (every facet of a family, under the crystal's
    point group, at the family's rate), built directly as an intersection of half-spaces
    (``wulff.halfspace_shape``, ~1 ms instead of ~10 ms), once per distinct rate vector
    (rates equal to 1e-4)."""
    if len(set(millers)) < len(millers) or len(rates) == 0:
        return None
    normals = [family_normals(compound, m) for m in millers]
    made: dict[tuple, tuple[float, np.ndarray]] = {}
    rows = []
    for r in rates:
        key = tuple(np.round(r, 4))
        if key not in made:
            made[key] = halfspace_shape(normals, r)
        rows.append(made[key])
    return np.array([a for a, _f in rows]), np.stack([f for _a, f in rows])


def wulff_aspect_ratio(normals: list[np.ndarray], rates) -> float:
    """Largest over smallest caliper width of {x : n.x <= rate_f for every normal n of
    family f} (``wulff.halfspace_shape``); NaN when the facets do not close a shape."""
    return halfspace_shape(normals, rates)[0]


def quantile_shapes(compound: Compound, labels: list[str], millers: list,
                    rates: np.ndarray, ref: int = 0) -> dict | None:
    """The kinetic Wulff shapes with every facet at its median rate, at its 5 % and at
    its 95 % rate over the samples (``median``, ``low``, ``high``; the ends of the
    ``INTERVAL``): per shape the rates by facet label, the aspect ratio and the area
    fraction of each family (``wulff.halfspace_shape``). A shape depends only on the
    ratios of the rates, so each sample's rates are taken relative to facet ``ref``
    (the nominally fastest: 1 in every sample) before the quantiles; relative to each
    sample's fastest facet, a tie would fold both facets onto the same quantiles and
    hide the spread. Each facet is put at its own quantile, so ``low`` and ``high``
    bracket the rates of the samples rather than being the shape of one sample. None
    when the facets share Miller indices."""
    if len(set(millers)) < len(millers) or len(rates) == 0:
        return None
    normals = [family_normals(compound, m) for m in millers]
    with np.errstate(divide="ignore", invalid="ignore"):  # a rate of 0: NaN, left out
        rel = rates / rates[:, [ref]]
    rel[~np.isfinite(rel)] = np.nan
    q = (1 - INTERVAL) / 2
    out = {}
    for name, p in (("median", 0.5), ("low", q), ("high", 1 - q)):
        r = np.nanquantile(rel, p, axis=0)
        aspect, fractions = halfspace_shape(normals, r)
        closed = bool(np.isfinite(aspect))
        out[name] = {"rates": {k: float(v) for k, v in zip(labels, r, strict=True)},
                     "aspect_ratio": float(aspect) if closed else None,
                     "facet_area_fractions": {gr.family_key(m): float(f) for m, f in
                                              zip(millers, fractions, strict=True)}
                     if closed else {}}
    return out


def delta_mu_samples(sinp: SampledInputs, summary: dict, mu: dict,
                     calibration: dict[str, float], rng: np.random.Generator,
                     drawn: dict[tuple, np.ndarray]) -> dict[str, list[dict]]:
    """Per species of ``growth_vs_delta_mu`` and per row: the growth cases' samples
    (``case_rates``) with mu(species) moved by the row's Delta mu (eV) in every sample
    (``potentials.shifted``, as ``summary.delta_mu_sweep`` does). The energy samples
    and calibration draws (``drawn``) are those of the unshifted numbers, so the rows
    are correlated with them and with each other. theta* is found anew at each Delta mu;
    E_b is taken at the binding structures of the nominal theta* (the plan's)."""
    out: dict[str, list[dict]] = {}
    for species, rows in (summary.get("growth_vs_delta_mu") or {}).items():
        out[species] = []
        for row in rows:
            mu_d = shifted(sinp.ctx, mu, species, float(row["delta_mu"]))
            eps_d = passivation_energies(sinp, mu_d)
            facets = {label: facet_samples(sinp, label, fac, mu_d, eps_d, calibration,
                                           rng, {}, drawn)
                      for label, fac in summary["facets"].items()}
            out[species].append(case_rates(sinp, summary, facets))
    return out


def delta_mu_values(summary: dict, sweeps: dict[str, list[dict]], values: dict
                    ) -> dict[str, list[dict]]:
    """The interval of each Delta mu row's anisotropy index, entered into ``values`` as
    ``growth_vs_delta_mu.<species>.<row index>.cases.<case>.anisotropy_index``, and per
    species and row the probabilities of each facet being fastest (``_ranking``)."""
    out: dict[str, list[dict]] = {}
    for species, got in sweeps.items():
        rows = summary["growth_vs_delta_mu"][species]
        out[species] = []
        for i, (row, cases) in enumerate(zip(rows, got, strict=True)):
            for case, g in cases.items():
                nominal = ((row.get("cases") or {}).get(case) or {}).get("anisotropy_index")
                _put(values, f"growth_vs_delta_mu.{species}.{i}.cases.{case}."
                     "anisotropy_index", nominal, g["anisotropy_index"])
            out[species].append({"delta_mu": float(row["delta_mu"]),
                                 "cases": {c: _ranking(g) for c, g in cases.items()}})
    return out


def defect_samples(sinp: SampledInputs, summary: dict, refs: dict, mu: dict,
                   values: dict) -> dict[str, dict]:
    """The ``defects`` section's numbers from the sampled energies, through the
    section's own formulas (``defects.limits``, ``defects.entry_numbers``; eV): the
    formation enthalpy, mu of every limit, and per entry E_f per limit, dE_f and the
    ligand's E_b at the defect and on the pristine slab, entered into ``values`` as
    ``defects.entries.<structure>.E_f.<limit>`` (``.dE_f``, ...). A slab shared by
    several entries (the pristine slab, a defect slab under a ligand entry) moves them
    together. Returns each entry's samples by its structure id."""
    d, ctx = summary["defects"], sinp.ctx
    material = ctx.shell or ctx.core
    lims = df.limits(material, refs, sinp.records, list(d["limits"]))
    _put(values, "defects.formation_enthalpy", d["formation_enthalpy"]["value"],
         df.formation_enthalpy(material, refs, sinp.records))
    for lim, info in lims.items():
        for el, m in (info["mu"] or {}).items():
            _put(values, f"defects.limits.{lim}.mu.{el}",
                 (d["limits"][lim].get("mu") or {}).get(el), m)
    mu_l = {k: v["value"] for k, v in mu.items() if k in ctx.ligands}
    out = {}
    for e in d["entries"]:
        got = out[e["structure"]] = df.entry_numbers(sinp.records, sinp.energy, lims,
                                                     mu_l, e)
        at = f"defects.entries.{e['structure']}"
        for lim, x in got["E_f"].items():
            _put(values, f"{at}.E_f.{lim}", e["E_f"].get(lim), x)
        for key in ("dE_f", "E_b_ligand_at_defect", "E_b_ligand_pristine"):
            _put(values, f"{at}.{key}", e.get(key), got.get(key))
    return out


def _ranking(g: dict) -> dict:
    """How often each facet is fastest, and each full order, over the samples."""
    labels, rates = g["labels"], g["rates"]
    order = np.argsort(-rates, axis=1, kind="stable")
    n = len(rates)
    fastest = np.bincount(order[:, 0], minlength=len(labels)) / n
    keys, counts = np.unique(order, axis=0, return_counts=True)
    orders = {" > ".join(labels[i] for i in key): float(c / n)
              for key, c in sorted(zip(keys.tolist(), counts, strict=True),
                                   key=lambda kc: -kc[1])}
    return {"fastest": {k: float(p) for k, p in zip(labels, fastest, strict=True)},
            "orders": orders, "samples": n}


def finding_probabilities(summary: dict, facets: dict, growth: dict,
                          findings: dict | None, n: int) -> list[dict]:
    """Per published finding the fraction of the first ``n`` samples in which all its
    checks pass (``paper.compare`` on each sample's numbers), and its verdict."""
    if not findings:
        return []
    agree: dict[str, list[bool]] = {}
    for s in range(n):
        for row in compare(_sample_summary(summary, facets, growth, s), findings, ""):
            if row["verdict"] in (AGREES, DISAGREES):
                agree.setdefault(row["id"], []).append(row["verdict"] == AGREES)
    out = []
    for f in findings["findings"]:
        got = agree.get(f["id"])
        p = float(np.mean(got)) if got else None
        verdict = ("not computed" if p is None else "robust agreement" if p >= ROBUST
                   else "robust disagreement" if p <= 1 - ROBUST else "not robust")
        out.append({"id": f["id"], "probability": p, "verdict": verdict})
    return out


def _sample_summary(summary: dict, facets: dict, growth: dict, s: int) -> dict:
    """The numbers the paper checks read, at sample ``s``."""
    out: dict = {"facets": {}, "growth": {"cases": {}}}
    for label, fac in summary["facets"].items():
        fs = facets[label]
        optimum = {k: (dict(v, theta=float(fs["optimum"][k][s])) if k in fs["optimum"]
                       else v) for k, v in fac["optimum"].items()}
        binding = [dict(b, value=float(b["value"][s])) for b in fs["binding"]]
        out["facets"][label] = {"gamma": fac["gamma"], "optimum": optimum,
                                "binding": binding}
    for case, g in growth.items():
        r = g["rates"][s]
        out["growth"]["cases"][case] = {
            "ranking": [g["labels"][i] for i in np.argsort(-r, kind="stable")],
            "anisotropy_index": float(g["anisotropy_index"][s])}
    return out


def uncertainty_section(inp: SummaryInputs, summary: dict, others: list[dict] | None = None,
                        sigma: dict[str, float] | None = None, n: int = SAMPLES) -> dict:
    """The ``uncertainty`` section of ``summary``: its sources (configurations from the
    starts, model from the committee, calibration from the DFT runs ``others``) and
    their propagation; ``sigma``: extra independent noise per structure id (eV)."""
    miss, conf = starts_noise(summary.get("starts"))
    committee, model = committee_noise(inp)
    calibration, cal = calibration_noise(summary, others or [], dataset_noise(inp))
    noise = NoiseModel(committee=committee, miss=miss, sigma=dict(sigma or {}),
                       calibration=calibration)
    sources = {"configurations": conf, "model": model, "calibration": cal}
    t0 = time.perf_counter()
    got = propagate(inp, summary, noise, sources, n=n)
    log.info("uncertainty: %d samples in %.2f s", n, time.perf_counter() - t0)
    return got
