"""What ``workflow.prune_starts`` would save and cost, replayed on a finished run.

    python benchmarks/prune_replay.py WORKDIR [--after 30 40 50] [--above 1.5 2 3]

WORKDIR is the work directory of a study run with several starts and without pruning
(every start relaxed to the end), e.g. ``studies/inas_znse_fluoride.yaml`` with
``prune_starts`` removed. For each rule (N steps, Δ eV), each start j >= 1 whose stored
trajectory lies more than Δ above its structure's start-0 minimum after N steps is
counted as pruned: the atoms × steps it would not have taken, and whether it was in fact
the structure's lowest start (a minimum the pruned run would miss). Prints a table.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from facetflow.analysis.data import load


def replay(workdir: Path, after: int, above: float) -> dict:
    """Pruned starts, atom-steps saved (fraction of all relaxation atom-steps) and
    pruned starts that were the lowest, for one rule."""
    wd = load(workdir)
    total = sum(len(r.result.trajectory_energies) * len(r.result.forces)
                for r in wd.results.values()
                if r.result is not None and r.result.task == "relax")
    saved = pruned = missed = 0
    for rec in wd.records.values():
        rows = [wd.results.get(h) for h in rec.starts]
        if len(rows) < 2 or any(r is None or r.result is None for r in rows):
            continue
        final = [r.result.energy for r in rows]
        for j, row in enumerate(rows[1:], start=1):
            path = row.result.trajectory_energies
            if len(path) > after and path[after] > final[0] + above:
                pruned += 1
                saved += (len(path) - after) * len(row.result.forces)
                missed += final[j] < min(final[:j] + final[j + 1:])
    return {"after": after, "above_eV": above, "pruned": pruned,
            "saved": saved / total if total else 0.0, "missed_lowest": missed}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workdir", type=Path)
    ap.add_argument("--after", type=int, nargs="+", default=[30, 40, 50])
    ap.add_argument("--above", type=float, nargs="+", default=[1.5, 2.0, 3.0])
    args = ap.parse_args()
    print("after_steps  above_eV  pruned  atom-steps saved  pruned start was lowest")
    for n in args.after:
        for d in args.above:
            r = replay(args.workdir, n, d)
            print(f"{n:11d}  {d:8.1f}  {r['pruned']:6d}  {r['saved']:16.1%}  "
                  f"{r['missed_lowest']:23d}")


if __name__ == "__main__":
    main()
