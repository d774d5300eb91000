"""Batched L-BFGS versus batched FIRE on the same slabs with CHGNet (cold start).

    python benchmarks/optimizers.py [N]     # N slabs of studies/quick.yaml (default 14)

Prints wall time, ionic steps per structure and the final-energy difference per atom;
run in one process so machine noise affects both alike.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from facetflow.engines.batch import batched_fire, batched_lbfgs
from facetflow.engines.mlip_models import batch_forces, load_calculator
from facetflow.structures.catalog import build_catalog
from facetflow.study import load_study

ROOT = Path(__file__).resolve().parent.parent


def main(n: int = 14) -> None:
    records = build_catalog(load_study(ROOT / "studies" / "quick.yaml"), ROOT / "studies")
    slabs = [r.atoms for r in records if r.record.role in ("ligands", "variant", "binding")][:n]
    forces = batch_forces("chgnet", load_calculator("chgnet")[0])
    forces(slabs[:1])  # warm-up
    out, wall = {}, {}
    for name, optimizer in (("LBFGS", batched_lbfgs), ("FIRE", batched_fire)):
        work = [a.copy() for a in slabs]
        t0 = time.perf_counter()
        out[name] = optimizer(work, forces, 0.05, 400)
        wall[name] = time.perf_counter() - t0
        print(f"{name:6s} {wall[name]:7.1f} s  steps {[o['steps'] for o in out[name]]}  "
              f"converged {sum(o['converged'] for o in out[name])}/{len(slabs)}")
    de = [1000 * (a["energy"] - b["energy"]) / len(s)
          for a, b, s in zip(out["LBFGS"], out["FIRE"], slabs, strict=True)]
    print(f"time ratio FIRE/LBFGS: {wall['FIRE'] / wall['LBFGS']:.2f}")
    print(f"E(LBFGS) - E(FIRE) per atom (meV): {np.round(de, 2).tolist()}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 14)
