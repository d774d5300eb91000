"""Cost of one ML relaxation versus slab size.

    python benchmarks/scaling.py [--sizes 1x2,2x2,...] [--model chgnet]

ZnSe-capped InAs(110) slabs (8 ML, 4 fixed, symmetric, 15 Å vacuum) of growing in-plane
supercells, each relaxed alone from the builder's guess with facetflow's batched L-BFGS
(fmax 0.05 eV/Å, as the mlip preset), plus one single-point evaluation. Prints a table:
atoms, ionic steps, seconds per relaxation, seconds per step, microseconds per
atom-step (flat means linear scaling).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from facetflow.engines.batch import batched_lbfgs
from facetflow.engines.mlip_models import batch_forces, load_calculator
from facetflow.structures.catalog import build_catalog
from facetflow.study import parse_study

SIZES = "1x2,2x2,2x3,3x3,4x3,4x4,5x4"


def capped_slab(supercell: list[int]):
    study = {"name": "scaling", "core": {"material": "InAs"},
             "shell": {"material": "ZnSe", "monolayers": 1, "termination": "cation"},
             "slab": {"monolayers": 8, "vacuum": 15.0, "fixed_monolayers": 4},
             "facets": [{"miller": [1, 1, 0], "termination": "stoichiometric",
                         "supercell": supercell}]}
    recs = build_catalog(parse_study(study), Path("."))
    return next(r.atoms for r in recs if r.id == "110_shell")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default=SIZES)
    ap.add_argument("--model", default="chgnet")
    args = ap.parse_args()
    forces = batch_forces(args.model, load_calculator(args.model)[0])
    slabs = [capped_slab([int(x) for x in s.split("x")]) for s in args.sizes.split(",")]
    forces(slabs[:1])  # warm-up (model load, first-call overheads)
    print(f"{'supercell':>9} {'atoms':>6} {'steps':>6} {'s/relax':>8} {'s/step':>7} "
          f"{'s/single':>8} {'us/atom-step':>12}")
    for size, atoms in zip(args.sizes.split(","), slabs, strict=True):
        t0 = time.perf_counter()
        forces([atoms])
        single = time.perf_counter() - t0
        work = atoms.copy()
        t0 = time.perf_counter()
        info = batched_lbfgs([work], forces, 0.05, 400)[0]
        wall = time.perf_counter() - t0
        evals = info["steps"] + 1
        print(f"{size:>9} {len(atoms):6d} {info['steps']:6d} {wall:8.1f} {wall / evals:7.3f} "
              f"{single:8.3f} {1e6 * wall / evals / len(atoms):12.0f}", flush=True)


if __name__ == "__main__":
    main()
