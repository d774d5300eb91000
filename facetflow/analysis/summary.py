"""From a work directory's energies to the study's results (``report/summary.json``).

Steps (conventions in docs/concepts.md; the schema is docs/summary.md):

1. Reference energies: bulk compounds per formula unit, elemental bulk per atom,
   molecules per molecule.
2. Chemical potentials in the study's limit (cation-rich: mu_cation = E(cation metal),
   mu_anion = E(compound) - mu_cation; for core and shell), ligands and additives from
   their stated reactions.
3. gamma_bare per facet: symmetric slab (E - sum n_i mu_i) / 2A; an asymmetric slab with
   a pseudo-H passivated bottom: (E - sum n_i mu_i - E_passivated) / A, E_passivated =
   sum over hosts N_H(host) eps_host (pseudo-H chemical-potential method: eps_host from
   the ``passivation`` reference slabs, both faces passivated).
4. gamma(theta) (paper eq. 3, generalised): gamma_bare + (E - E_bare - sum dn mu)/(n_faces A)
   with dn the added adsorbates (as ligand units) and shell atoms.
5. theta* per facet and ligand (and with each variant): ``optimal_coverage``.
6. Binding energies at the computed coverage nearest theta*: E_b(A) = [E(A in the freed
   site) - E(vacancy) - n mu_A] / n, n = sites changed (2 on symmetric slabs).
7. Growth model and kinetic Wulff shapes (``growth``), without and with each additive.

Anything that cannot be computed is ``None`` and listed in ``missing``; nothing raises
for missing data.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

import facetflow.analysis.growth as gr
from facetflow.analysis.data import WorkData, load
from facetflow.analysis.defects import summarise_defects
from facetflow.analysis.electronic_summary import electronic_section
from facetflow.analysis.inputs import SummaryInputs
from facetflow.analysis.paper import compare
from facetflow.analysis.potentials import (
    chemical_potentials,
    passivation_energies,
    references,
    shifted,
)
from facetflow.analysis.surfaces import facet_summary
from facetflow.analysis.uncertainty import uncertainty_section
from facetflow.records.context import AnalysisContext, read_context
from facetflow.records.plan import Optimum
from facetflow.records.summary import SUMMARY_SCHEMA

log = logging.getLogger(__name__)

GROWTH_ASSUMPTIONS = [
    "A facet grows by adding growth units (Se on polar/nonpolar {100}/{111}, ZnSe on {110}) "
    "at surface cation sites; free sites (1 - theta* x footprint) take them without a barrier.",
    "An occupied site must first be freed: the growth unit displaces the bound species at a "
    "Boltzmann cost exp(-max(0, E_b(growth) - E_b(bound)) / k_B T), T = synthesis temperature.",
    "With an additive, one ligand of those in the cell is replaced by it (the computed "
    "structures), so a fraction 1/n of occupied sites holds the additive.",
    "No diffusion between facets, no kinetics of ligand exchange; the rate is relative "
    "(normalised to the fastest facet). Kinetic Wulff: facet distance from the centre "
    "proportional to its growth rate, with the bulk crystal's point group (-43m: {111} A and "
    "{-1-1-1} B differ; 6mm: (0001) and (000-1) differ).",
    "A facet left out of the first ligand's facets is free of it: theta* = 0, rate 1.",
]


def optimal_arrangements(workdir: str | Path) -> Optimum:
    """Facet label -> ligand -> id of the computed arrangement nearest theta* (the lowest
    gamma at that coverage; no variant): where a run's second stage builds the binding
    structures (``structures.catalog.build_catalog``). A facet or ligand whose sweep has no
    energies is left out (its binding energies are then reported missing)."""
    workdir = Path(workdir)
    inp = SummaryInputs(load(workdir), read_context(workdir / "study.json"))
    mu = chemical_potentials(inp, references(inp))
    eps = passivation_energies(inp, mu)
    swept = {ls.name for ls in inp.study.ligands}
    out: Optimum = {}
    for f in inp.study.facets:
        optima = facet_summary(inp, f, mu, eps, binding=False)["optimum"]
        for name, opt in optima.items():
            if opt is not None and name in swept:
                out.setdefault(f.label, {})[name] = opt["structure"]
    return out


def summarise(wd: WorkData, context: AnalysisContext, versions: dict | None = None,
              uncertainty: bool = True, others: list[dict] | None = None) -> dict:
    """The summary (``facetflow.records.summary.Summary``, as a dict) of a work directory;
    with ``uncertainty``, its error bars and probabilities (``analysis.uncertainty``,
    calibrated against the DFT summaries among ``others`` of the same study)."""
    inp = SummaryInputs(wd, context)
    study = inp.study
    refs = references(inp)
    mu = chemical_potentials(inp, refs)
    eps = passivation_energies(inp, mu)
    facets = {f.label: facet_summary(inp, f, mu, eps) for f in study.facets}
    growth = growth_section(inp, facets)
    growth_vs_mu = {}
    for species, (lo, hi) in study.analysis.delta_mu.items():
        deltas = np.linspace(lo, hi, study.analysis.delta_mu_points)
        by_facet, growth_vs_mu[species] = delta_mu_sweep(inp, species, deltas, mu)
        for label, rows in by_facet.items():
            facets[label].setdefault("gamma_vs_delta_mu", {})[species] = rows
    engine = {**(context.engine.model_dump() if context.engine else {}),
              "identity": inp.identity()}
    out = {
        "schema": SUMMARY_SCHEMA, "study": study.name, "engine": engine,
        "conditions": study.conditions.model_dump(mode="json"), "versions": versions or {},
        "chemical_potentials": mu,
        "passivation": {h: {"value": v, "unit": "eV per pseudo-H"} for h, v in eps.items()},
        "references": refs, "facets": facets, "growth": growth,
        "missing": inp.missing, "store_problems": wd.store_problems,
    }
    if growth_vs_mu:
        out["growth_vs_delta_mu"] = growth_vs_mu
    if study.defects:
        out["defects"] = summarise_defects(
            inp.records, inp.energy, refs,
            {k: v["value"] for k, v in mu.items() if k in context.ligands},
            context.shell or context.core, list(study.defects.limits))
    electronic = electronic_section(inp)
    if electronic:
        out["electronic"] = electronic
    starts = starts_section(inp)
    if starts:
        out["starts"] = starts
    out["paper_comparison"] = compare(
        out, context.compare_with,
        f"{engine.get('name')} ({engine['identity']})" if engine.get("identity")
        else str(engine.get("name")))
    if uncertainty:
        try:
            out["uncertainty"] = uncertainty_section(inp, out, others)
        except (TypeError, ValueError, KeyError, IndexError) as exc:  # not the summary's end
            log.warning("error bars not computed: %s: %s", type(exc).__name__, exc)
            return out
        found = {f["id"]: f for f in out["uncertainty"]["findings"]}
        for row in out["paper_comparison"]:
            if row["id"] in found:
                row["probability"] = found[row["id"]]["probability"]
                row["robustness"] = found[row["id"]]["verdict"]
    return out


def starts_section(inp: SummaryInputs) -> dict | None:
    """With several starts per structure (``workflow.starts``): how much the start
    decided. Per structure the spread (eV) is the highest minus the lowest energy of
    its starts relaxed to the end (a pruned start, ``workflow.prune_starts``, has only an
    upper bound), and which start was lowest (0: the usual start). In a plan
    with an ML pre-relaxation the starts are the pre-relaxations (``stage``
    "prerelax"), ML energies, and the final calculation began from the lowest."""
    prerelax = any(rec.prerelax_starts for rec in inp.records.values())
    rows = {}
    for sid, rec in inp.records.items():  # a plan has final starts or ML ones, never both
        if not (rec.prerelax_starts if prerelax else rec.starts):
            continue
        energies = inp.wd.start_energies(sid, prerelax=prerelax)
        pruned = inp.wd.start_pruned(sid, prerelax=prerelax)
        done = [e for e in energies if e is not None]
        if not done:
            continue
        full = [e for e, p in zip(energies, pruned, strict=True) if e is not None and not p]
        rows[sid] = {"starts": len(energies), "done": len(done),
                     "lowest_start": energies.index(min(done)), "pruned": sum(pruned),
                     "spread_eV": max(full) - min(full) if len(full) > 1 else None,
                     "gap_eV": None if energies[0] is None else energies[0] - min(done)}
    if not rows:
        return None
    spreads = [r["spread_eV"] for r in rows.values() if r["spread_eV"] is not None]
    return {"stage": "prerelax" if prerelax else "final",
            "per_structure": max(r["starts"] for r in rows.values()),
            "structures": len(rows),
            "lowest_not_start_0": sum(r["lowest_start"] != 0 for r in rows.values()),
            "pruned": sum(r["pruned"] for r in rows.values()),
            "spread_eV": {"median": float(np.median(spreads)) if spreads else None,
                          "max": max(spreads) if spreads else None},
            "by_structure": rows,
            "candidates": candidates_section(inp) if prerelax else None}


def candidates_section(inp: SummaryInputs) -> dict | None:
    """With ``engine.dft_candidates`` m: how often the engine's ranking of the m lowest ML
    minima disagrees with the ML ranking. Candidate r started from the r-th lowest ML
    minimum; the ML ranking is confirmed when candidate 0 is also the engine's lowest.
    ``gain_eV``: E(candidate 0) - min_r E(candidate r) >= 0, what keeping only the ML
    choice would have cost (eV)."""
    rows = {}
    for sid, rec in inp.records.items():
        if not (rec.prerelax_starts and rec.starts):
            continue
        energies = inp.wd.start_energies(sid)
        done = [e for e in energies if e is not None]
        if len(done) < 2 or energies[0] is None:
            continue
        rows[sid] = {"candidates": len(energies), "done": len(done),
                     "lowest_candidate": energies.index(min(done)),
                     "gain_eV": energies[0] - min(done)}
    if not rows:
        return None
    gains = [r["gain_eV"] for r in rows.values()]
    return {"per_structure": max(r["candidates"] for r in rows.values()),
            "structures": len(rows),
            "lowest_not_candidate_0": sum(r["lowest_candidate"] != 0 for r in rows.values()),
            "gain_eV": {"median": float(np.median(gains)), "max": max(gains)},
            "by_structure": rows}


def delta_mu_sweep(inp: SummaryInputs, species: str, deltas, mu: dict
                   ) -> tuple[dict[str, list[dict]], list[dict]]:
    """theta* and gamma* per facet and ligand as mu(species) moves by each delta (eV),
    and the growth model's ranking and anisotropy index per case at each delta (a bound
    species' E_b moves by -delta: where the growth conclusion flips)."""
    out: dict[str, list[dict]] = {}
    growth = []
    for d in deltas:
        mu_d = shifted(inp.ctx, mu, species, float(d))
        eps = passivation_energies(inp, mu_d)
        facets = {}
        for f in inp.study.facets:
            fac = facets[f.label] = facet_summary(inp, f, mu_d, eps)
            row = {"delta_mu": float(d), "gamma_bare": fac["gamma_bare"]["value"],
                   "optimum": {k: None if o is None else
                               {"theta": o["theta"], "value": o["value"], "delta": o["delta"]}
                               for k, o in fac["optimum"].items()}}
            out.setdefault(f.label, []).append(row)
        growth.append({"delta_mu": float(d), "cases": growth_ranks(inp, facets)})
    return out, growth


def growth_ranks(inp: SummaryInputs, facets: dict) -> dict[str, dict]:
    """Per growth case the ranking (fastest first) and anisotropy index, without shapes."""
    temperature = inp.study.conditions.temperature_C
    out = {}
    for case, additive in [("without additive", None)] + [
            (f"with {v.replace_with}", v.replace_with) for v in inp.study.variants]:
        inputs = _growth_inputs(inp, facets, additive)
        if len(inputs) < 2:
            continue
        rates = gr.relative_rates(inputs, temperature)
        out[case] = {"ranking": sorted(rates, key=lambda k: -rates[k]),
                     "anisotropy_index": gr.anisotropy_index(rates)}
    return out


def growth_section(inp: SummaryInputs, facets: dict) -> dict:
    """Relative growth rates, ranking and kinetic Wulff shape without and with each
    additive (``analysis.growth``; its assumptions in ``GROWTH_ASSUMPTIONS``)."""
    temperature = inp.study.conditions.temperature_C
    additives = [v.replace_with for v in inp.study.variants]
    cases = {case: _growth_case(inp, facets, additive, temperature)
             for case, additive in [("without additive", None)]
             + [(f"with {a}", a) for a in additives]}
    return {"model": "facetflow.analysis.growth.growth_rate (see its docstring)",
            "assumptions": GROWTH_ASSUMPTIONS, "temperature_C": temperature,
            "cases": cases}


def _growth_inputs(inp: SummaryInputs, facets: dict, additive: str | None
                   ) -> dict[str, gr.FacetGrowthInput]:
    """Per facet the growth model's inputs: theta* and E_b of the first swept ligand,
    of its first growth species and of ``additive``; facets lacking one are left out,
    except a facet the ligand's ``facets`` list leaves out, which is free (theta* = 0)."""
    lig = inp.study.ligands[0].name if inp.study.ligands else None
    inputs = {}
    for label, fac in facets.items():
        if lig and inp.study.ligands[0].facets is not None and \
                label not in inp.study.ligands[0].facets:
            inputs[label] = gr.FREE_FACET
            continue
        opt = fac["optimum"].get(lig) if lig else None
        eb = {b["species"]: b["value"] for b in fac["binding"]}
        grow = [b["value"] for b in fac["binding"] if b["role"] == "growth"]
        if not opt or eb.get(lig) is None or not grow or grow[0] is None:
            continue
        if additive is not None and eb.get(additive) is None:
            continue
        rec = inp.records[opt["structure"]]
        inputs[label] = gr.FacetGrowthInput(
            theta_opt=opt["theta"], footprint=inp.ctx.ligands[lig].footprint,
            eb_growth=grow[0], eb_ligand=eb[lig],
            n_ligands=max(1, rec.n_ligands),  # already per face
            eb_additive=eb.get(additive) if additive else None)
    return inputs


def _growth_case(inp: SummaryInputs, facets: dict, additive: str | None,
                 temperature: float) -> dict:
    """One growth case: rates relative to the fastest facet, ranking, anisotropy index
    and kinetic Wulff shape (a degenerate shape is reported with its error)."""
    inputs = _growth_inputs(inp, facets, additive)
    if len(inputs) < 2:
        return {"rates": {}, "ranking": [], "anisotropy_index": None, "shape": None,
                "note": "fewer than two facets with the inputs of the growth model"}
    rates = gr.relative_rates(inputs, temperature)
    millers = {f.label: f.miller for f in inp.study.facets}
    try:
        by_miller = {millers[k]: v for k, v in rates.items()}
        if len(by_miller) < len(rates):
            raise ValueError("two facets of the growth model share Miller indices")
        sh = gr.kinetic_wulff(gr.study_core(inp.study), by_miller)
        shape = {"aspect_ratio": sh.aspect_ratio, "aspect_ratio_c": sh.aspect_ratio_c,
                 "point_group": sh.point_group, "material": inp.study.core.material,
                 "facet_area_fractions": sh.facet_area_fractions}
    except Exception as exc:  # noqa: BLE001 - a degenerate shape is reported, not fatal
        shape = {"aspect_ratio": None, "error": str(exc)}
    return {"rates": rates, "ranking": sorted(rates, key=lambda k: -rates[k]),
            "anisotropy_index": gr.anisotropy_index(rates), "shape": shape,
            "inputs": {k: vars(v) for k, v in inputs.items()}}
