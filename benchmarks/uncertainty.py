"""Time of the uncertainty propagation (``facetflow.analysis.uncertainty``) on a study's
full plan (both stages, its starts and committee), with synthetic energies in place of
calculations, so it runs in seconds without an engine.

    python benchmarks/uncertainty.py [studies/inas_znse_fluoride.yaml] [--work DIR]

Energies: E = sum_el n_el eps_el + b(structure), b ~ N(0, 0.5 eV) per slab (references: 0; a
bowl in theta for the arrangements, so theta* is where the binding structures are); start
j >= 1 of a structure lies |N(0, 0.3)| eV above or below start 0 (start 0 lowest in about
half of the structures); each committee model adds a per-element offset and N(0, 0.1) eV.
Prints the nominal summary's time, the propagation's time and its samples, and the
ranking and finding probabilities (meaningless numbers: the energies are made up).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np

EPS = {"In": -2.1, "As": -3.7, "Zn": -1.3, "Se": -4.4, "H": -1.1, "C": -5.3, "O": -6.9,
       "F": -2.6, "P": -5.4}
OFFSET = {"Zn": 0.2, "Se": -0.1, "H": 0.05}  # eV per atom, a committee model's offset


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("study", nargs="?", default="studies/inas_znse_fluoride.yaml")
    ap.add_argument("--work", default="work/bench_uncertainty")
    ap.add_argument("--theta", type=float, default=0.375, help="stand-in theta* where "
                    "the binding structures are built")
    args = ap.parse_args()
    workdir = prepare(Path(args.study), Path(args.work), args.theta)
    from facetflow.analysis.data import load
    from facetflow.analysis.summary import summarise
    from facetflow.records.context import read_context

    wd, ctx = load(workdir), read_context(workdir / "study.json")
    t0 = time.perf_counter()
    summarise(wd, ctx, uncertainty=False)
    nominal = time.perf_counter() - t0
    t0 = time.perf_counter()
    s = summarise(wd, ctx)
    total = time.perf_counter() - t0
    u = s["uncertainty"]
    print(json.dumps({"structures": len(wd.records), "calculations": len(wd.plan.nodes),
                      "nominal_summary_s": round(nominal, 2),
                      "summary_with_uncertainty_s": round(total, 2),
                      "propagation_s": round(total - nominal, 2), "samples": u["samples"],
                      "values": len(u["values"]),
                      "sources_used": [k for k, v in u["sources"].items()
                                       if isinstance(v, dict) and v.get("used")],
                      "ranking": {k: r["fastest"] for k, r in u["ranking"].items()},
                      "findings": u["findings"]}, indent=1))


def prepare(study_path: Path, workdir: Path, theta: float) -> Path:
    """A work directory with the study's plan, context and a synthetic store."""
    from facetflow.findings import load_findings
    from facetflow.records.context import EngineChoice
    from facetflow.records.plan import write_plan
    from facetflow.store import ResultStore
    from facetflow.structures.catalog import build_catalog
    from facetflow.structures.context import analysis_context, resolve
    from facetflow.structures.ids import arrangement_id
    from facetflow.study import load_study
    from facetflow.workflows.plan import build_plan

    study = load_study(study_path)
    optimum = {f.label: {ls.name: arrangement_id(f.label, ls.name, theta, 0)
                         for ls in study.ligands} for f in study.facets}
    plan = build_plan(study, build_catalog(study, study_path.parent, optimum))
    workdir.mkdir(parents=True, exist_ok=True)
    write_plan(plan, workdir / "plan.json")
    found = (load_findings(study.analysis.compare_with, study_path.parent)[0]
             if study.analysis.compare_with else None)
    analysis_context(resolve(study, study_path.parent), EngineChoice(name=plan.engine),
                     found.model_dump(mode="json") if found else None
                     ).write(workdir / "study.json")
    db = workdir / "synthetic.db"
    db.unlink(missing_ok=True)
    _fill_store(plan, ResultStore(db), theta)
    (workdir / "store.json").write_text(json.dumps({"url": str(db.resolve())}))
    return workdir


def _fill_store(plan, store, theta: float) -> None:
    """Synthetic rows for every calculation of ``plan``; arrangements get a bowl of 200
    (theta - ``theta``)^2 eV so that theta* lies where the binding structures are."""
    from facetflow.records.calc import CalcResult

    rng = np.random.default_rng(0)
    for sid, rec in plan.records.items():
        node = plan.nodes[rec.calc]
        counts = Counter(node.structure["symbols"])
        base = sum(n * EPS.get(el, -3.0) for el, n in counts.items())
        if rec.role != "reference":
            base += rng.normal(0, 0.5)
        if rec.role == "ligands":
            base += 200.0 * (rec.theta - theta) ** 2
        starts = rec.starts or [rec.calc]
        energies = [base] + [base + rng.normal(0, 0.3) for _ in starts[1:]]
        rows = list(zip(starts, energies, strict=True))
        for h in rec.committee.values():
            shift = sum(n * OFFSET.get(el, 0.0) for el, n in counts.items())
            rows.append((h, min(energies) + shift + rng.normal(0, 0.1)))
        for h, e in rows:
            zero = [[0.0, 0.0, 0.0]] * len(node.structure["symbols"])
            store.put(h, CalcResult(engine="synthetic", task="relax", converged=True,
                                    energy=float(e), structure=node.structure, forces=zero),
                      sid, {})


if __name__ == "__main__":
    main()
