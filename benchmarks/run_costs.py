"""What each part of a finished study run cost, from its results store and events.

    python benchmarks/run_costs.py WORKDIR [--workers 2]

For every calculation of the plan that this run computed (its ``events.jsonl``), the
engine's own wall time (``CalcResult.wall_time``, s: one worker's time on a relaxation;
for ML single points evaluated together, the call's time shared equally) and the
ionic steps, summed by part: references (bulk, molecules), the first start of each
structure, the other starts relaxed to the end, the other starts pruned
(``workflow.prune_starts``), and the committee single points. Shares are of the summed
worker time; ``span`` is the first start to the last finish of the run's calculations,
and worker time / (workers × span) how busy the workers were.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from facetflow.analysis.data import load


def part_of(node, result) -> str:
    """Which part of the run a calculation belongs to."""
    if node.stage == "committee":
        return "committee single points"
    if node.purpose in ("bulk", "molecule"):
        return "references (bulk, molecules)"
    if "#" not in node.key:
        return "first starts (and slabs without adsorbates)"
    return "other starts, pruned" if result.pruned else "other starts, to the end"


def costs(workdir: Path) -> dict:
    """Worker seconds, calculations and ionic steps by part, and the span (s)."""
    wd = load(workdir)
    events = [json.loads(line) for line in (workdir / "events.jsonl").read_text().splitlines()]
    ran = {e["hash"] for e in events if e["event"] == "done"}
    parts: dict[str, dict] = defaultdict(lambda: {"seconds": 0.0, "calculations": 0,
                                                  "steps": 0})
    for h in ran:
        row = wd.results.get(h)
        if row is None or row.result is None:
            continue
        p = parts[part_of(wd.plan.nodes[h], row.result)]
        p["seconds"] += row.result.wall_time
        p["calculations"] += 1
        p["steps"] += row.result.steps
    times = [e["t"] for e in events]
    return {"parts": dict(parts), "span_s": max(times) - min(times) if times else 0.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workdir", type=Path)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    got = costs(args.workdir)
    total = sum(p["seconds"] for p in got["parts"].values()) or 1.0
    print(f"{'part':46s} {'calcs':>6s} {'steps':>7s} {'worker s':>9s} {'share':>6s}")
    for name, p in sorted(got["parts"].items(), key=lambda kv: -kv[1]["seconds"]):
        print(f"{name:46s} {p['calculations']:6d} {p['steps']:7d} {p['seconds']:9.0f} "
              f"{p['seconds'] / total:6.1%}")
    span = got["span_s"]
    print(f"span of the calculations {span:.0f} s; workers busy "
          f"{total / (args.workers * span):.0%} of it" if span else "no calculations")


if __name__ == "__main__":
    main()
