"""The basis-set error of the reference set: the same reactions with GPAW LCAO (dzp) and
plane waves, at the same geometries.

    python benchmarks/basis_error.py LCAO_DATASET PW_DATASET [--json FILE]

Each DATASET is a folder made by ``facetflow dataset export`` from the work directory of
``studies/reference_set/basis/lcao.yaml`` or ``pw.yaml`` (scripts/reference_set.sh does
both). Reactions are matched by their id without the study name (study/facet/kind/species).
Prints each reaction's two energies and their difference, then the MAE and the largest
difference (eV).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def reactions(folder: Path) -> dict[str, float]:
    """Reaction id without its study -> energy (eV)."""
    doc = json.loads((folder / "reactions.json").read_text())
    return {r["id"].split("/", 1)[1]: r["energy_eV"] for r in doc["reactions"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("lcao", type=Path)
    ap.add_argument("pw", type=Path)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    a, b = reactions(args.lcao), reactions(args.pw)
    common = sorted(set(a) & set(b))
    rows = {k: {"lcao_eV": a[k], "pw_eV": b[k], "diff_eV": a[k] - b[k]} for k in common}
    print(f"{'reaction':40s} {'LCAO':>8s} {'PW':>8s} {'LCAO-PW':>8s}")
    for k, r in rows.items():
        print(f"{k:40s} {r['lcao_eV']:8.3f} {r['pw_eV']:8.3f} {r['diff_eV']:8.3f}")
    d = np.array([r["diff_eV"] for r in rows.values()])
    summary = {"reactions": len(rows),
               "mae_eV": float(np.mean(np.abs(d))) if len(d) else None,
               "max_eV": float(np.max(np.abs(d))) if len(d) else None}
    print(f"{summary['reactions']} reactions; MAE {summary['mae_eV']}, max {summary['max_eV']}")
    if args.json:
        args.json.write_text(json.dumps({**summary, "by_reaction": rows}, indent=1))


if __name__ == "__main__":
    main()
