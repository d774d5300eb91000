"""How often does DFT disagree with the ML model on which local minimum is lowest?

    python benchmarks/ranking.py DATASET_DIR [--json results_ranking.json]

AdsorbML's question, on a data set exported by ``facetflow dataset export`` from studies
with ``engine.dft_candidates`` > 1: every structure has DFT single points at several of
the pre-relaxing model's minima, each frame carrying its ML rank (``info["candidate"]``,
0: the lowest ML energy) and the ML energy there (``info["ml_energy"]``). Per study and in
total it prints the structures with at least two DFT candidates, how many of them DFT puts
another candidate lowest than ML's choice, the energy that keeping ML's choice costs there
(eV, DFT's energy of candidate 0 above DFT's lowest), the mean and median absolute error
of the candidates' energies relative to candidate 0 (eV, ML against DFT: how well the
model spaces the minima), and the least-squares slope s of ML gap = s x DFT gap (s < 1:
the model puts the minima too close together, too soft).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np


def candidates(frames: list) -> dict[tuple[str, str], dict[int, tuple[float, float]]]:
    """(study, structure) -> {ML rank: (DFT energy, ML energy)} of final DFT frames at ML
    minima (not at a pruned start: ``info["pruned"]``)."""
    out: dict[tuple[str, str], dict[int, tuple[float, float]]] = defaultdict(dict)
    for a in frames:
        if (a.info.get("stage") != "final" or "ml_energy" not in a.info
                or a.info.get("pruned")):
            continue
        key = (a.info["study"], a.info["structure_id"])
        out[key][int(a.info.get("candidate", 0))] = (a.get_potential_energy(),
                                                     float(a.info["ml_energy"]))
    return {k: v for k, v in out.items() if len(v) > 1 and 0 in v}


def statistics(rows: list[dict[int, tuple[float, float]]]) -> dict:
    """Disagreement, cost and relative-energy error over structures ``rows``."""
    gains, pairs, flipped = [], [], 0
    for cands in rows:
        dft = {r: e for r, (e, _) in cands.items()}
        ml = {r: m for r, (_, m) in cands.items()}
        lowest = min(dft, key=dft.get)
        flipped += lowest != 0
        gains.append(dft[0] - dft[lowest])
        pairs += [(ml[r] - ml[0], dft[r] - dft[0]) for r in cands if r != 0]
    gaps = np.array(pairs).reshape(-1, 2)  # (ML, DFT) energy of each candidate above 0
    errors = gaps[:, 0] - gaps[:, 1]
    return {"structures": len(rows), "dft_lowest_not_ml_lowest": flipped,
            "share": flipped / len(rows) if rows else None,
            "cost_eV": {"max": max(gains, default=0.0),
                        "mean_where_flipped": float(np.mean([g for g in gains if g > 0]))
                        if flipped else 0.0},
            "relative_energy_mae_eV": float(np.mean(np.abs(errors))) if len(errors) else None,
            "relative_energy_median_abs_eV": float(np.median(np.abs(errors)))
            if len(errors) else None,
            # least squares ML gap = s x DFT gap: s < 1, the model too soft between minima
            "gap_slope_ml_over_dft": float(gaps[:, 0] @ gaps[:, 1] / (gaps[:, 1] @ gaps[:, 1]))
            if len(errors) else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    from ase.io import read

    found = candidates(read(args.dataset / "frames.extxyz", ":"))
    studies = sorted({s for s, _ in found})
    result = {s: statistics([v for (t, _), v in found.items() if t == s]) for s in studies}
    result["all"] = statistics(list(found.values()))
    print(f"{'study':26s} {'structures':>10s} {'flipped':>8s} {'cost max':>9s} "
          f"{'cost mean':>9s} {'gap MAE':>8s} {'median':>7s} {'slope':>6s}")
    for name, r in result.items():
        gap = [r[k] for k in ("relative_energy_mae_eV", "relative_energy_median_abs_eV",
                              "gap_slope_ml_over_dft")]
        print(f"{name:26s} {r['structures']:10d} {r['dft_lowest_not_ml_lowest']:8d} "
              f"{r['cost_eV']['max']:9.3f} {r['cost_eV']['mean_where_flipped']:9.3f} "
              + " ".join("    n/a" if g is None else f"{g:7.3f}" for g in gap))
    if args.json:
        args.json.write_text(json.dumps({"dataset": str(args.dataset), "studies": result},
                                        indent=1))


if __name__ == "__main__":
    main()
