"""A whole study on the embedded engine versus a naive baseline, and its rerun.

    python benchmarks/study.py [STUDY.yaml] [--work DIR] [--no-baseline] [--limit N]
                               [--starts K] [--baseline-json FILE]

1. ``facetflow run STUDY`` in a child process on a fresh work directory (build,
   plan, ML relaxations, analysis, report): wall time and peak memory (the largest sum
   of the resident set sizes of the child and its worker processes).
2. The same command again: the rerun of an unchanged study (0 calculations expected).
3. The naive baseline in a second child process: every distinct structure of the study
   relaxed one at a time with plain ASE BFGS and the same model (its stock ASE
   calculator), from the builder's unrelaxed guesses scaled to the baseline's own relaxed
   core lattice (the physics of the study: slab and bulk share one lattice), no warm
   starts, no batching, with the same fmax / max_steps / cell relaxation as the engine
   preset. Its energies are compared with facetflow's stored ones per structure
   (meV/atom).

``--starts K`` runs a copy of the study with ``workflow.starts: K`` (each structure with
adsorbates relaxed from K starts, the lowest kept); ``--baseline-json`` compares the
energies with a baseline written by an earlier run (its ``baseline.json``) instead of
running it again, and then reports no speed-up (that needs both in one process pair).

Prints the measured numbers and ratios and writes them to
``benchmarks/results_study_<name>[_starts<K>].json``. Default study: ``studies/quick.yaml``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _child(cmd: list[str]) -> tuple[float, float, str]:
    """Run ``cmd``; wall seconds, its peak memory (GB: the largest sum of the resident set
    sizes of it and all its descendants, e.g. ML worker processes, sampled every 0.2 s),
    its stdout."""
    import psutil  # a dependency of custodian

    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    out: dict[str, str] = {}

    def drain(name, stream):
        out[name] = stream.read()

    readers = [threading.Thread(target=drain, args=(n, s))
               for n, s in (("out", proc.stdout), ("err", proc.stderr))]
    for r in readers:
        r.start()
    top = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            tree = [top, *top.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:  # a process ended while being sampled
            pass
        time.sleep(0.2)
    for r in readers:
        r.join()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{out['err'][-3000:]}")
    return wall, peak / 1024**3, out["out"]


def baseline(study_path: str, out: str, workdir: str | None = None,
             limit: int | None = None) -> None:
    """The naive baseline (run in a child process): ASE BFGS one structure at a time, over
    the same structures as facetflow's run in ``workdir`` (its binding structures at the
    theta* that run picked, read from its ``expanded`` event)."""
    from facetflow.engines.mlip import load_calculator
    from facetflow.engines.optimize import relax_with_calculator
    from facetflow.engines.presets import settings_for
    from facetflow.structures.catalog import build_catalog
    from facetflow.study import load_study
    from facetflow.workflows.geometry import scale_to_lattice
    from facetflow.workflows.plan import structure_purpose

    path = Path(study_path)
    spec = load_study(path)
    optimum = None
    if workdir:
        from facetflow.workflows.events import read_events

        for e in read_events(Path(workdir) / "events.jsonl"):
            if e["event"] == "expanded":
                optimum = e["optimum"]
    records = build_catalog(spec, path.parent, optimum)[:limit]
    records.sort(key=lambda r: r.record.role != "reference")  # the bulk lattice first
    lattice = {}  # structure id -> (core reference id, primitive volume it was built at)
    if workdir:
        from facetflow.records.plan import read_plan

        plan = read_plan(Path(workdir) / "plan.json")
        for n in plan.nodes.values():
            if n.lattice_from:
                for label in n.labels:
                    lattice[label] = (plan.nodes[n.lattice_from].key, n.lattice_volume)
    relaxed_volume = {}
    rows = {}
    t_all = time.perf_counter()
    for rec in records:
        s = settings_for("mlip", structure_purpose(rec), spec.engine.settings)
        calc = load_calculator(s.get("model", "chgnet"))[0]
        atoms = rec.atoms.copy()
        if rec.id in lattice and lattice[rec.id][0] in relaxed_volume:
            ref, built = lattice[rec.id]
            atoms = scale_to_lattice(atoms, built, relaxed_volume[ref])
        info = relax_with_calculator(atoms, calc, float(s["fmax"]), int(s["max_steps"]),
                                     "BFGS", bool(s.get("relax_cell")))
        if rec.record.role == "reference":
            relaxed_volume[rec.id] = abs(atoms.get_volume())
        rows[rec.id] = {"energy": float(atoms.get_potential_energy()), "natoms": len(atoms),
                        "steps": info["steps"], "converged": info["converged"],
                        "wall": info["wall_time"]}
        print(f"  baseline {rec.id}: {info['steps']} steps, {info['wall_time']:.1f} s",
              file=sys.stderr, flush=True)
    Path(out).write_text(json.dumps({"wall": time.perf_counter() - t_all, "rows": rows}))


def _stored(workdir: Path) -> dict[str, dict]:
    """Per structure id: facetflow's final energy (eV; the lowest start's) and the ionic
    steps of all its calculations (every start) from the store."""
    from facetflow.analysis.data import load

    data = load(workdir)
    out = {}
    for sid in data.records:
        e = data.energy(sid)
        if e is not None:
            rows = [data.results.get(h) for h in data.starts(sid)]
            out[sid] = {"energy": e, "steps": sum(r.result.steps for r in rows
                                                  if r is not None and r.result)}
    return out


def _with_starts(study: Path, starts: int, dest: Path) -> Path:
    """A copy of ``study`` with ``workflow.starts: starts``, written into ``dest``."""
    import yaml

    data = yaml.safe_load(study.read_text())
    data.setdefault("workflow", {})["starts"] = starts
    out = dest / study.name
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("study", nargs="?", default=str(ROOT / "studies" / "quick.yaml"))
    ap.add_argument("--work", default=None, help="work directory (default: a new temp dir)")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--limit", type=int, default=None, help="baseline: first N structures")
    ap.add_argument("--starts", type=int, default=None, help="workflow.starts for the run")
    ap.add_argument("--baseline-json", default=None,
                    help="compare with this earlier baseline.json instead of running it")
    ap.add_argument("--baseline-child", nargs=3, metavar=("STUDY", "OUT", "WORKDIR"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.baseline_child:
        baseline(*args.baseline_child, limit=args.limit)
        return

    from facetflow.records.plan import read_plan

    study = Path(args.study).resolve()
    name = study.stem + (f"_starts{args.starts}" if args.starts else "")
    work = Path(args.work or tempfile.mkdtemp(prefix="ffbench-"))
    if work.exists():
        shutil.rmtree(work)
    if args.starts:
        work.mkdir(parents=True)
        study = _with_starts(study, args.starts, work)
    ff = shutil.which("facetflow") or sys.exit("facetflow is not installed")
    cmd = [ff, "run", str(study), "--work", str(work), "--no-progress"]
    print(f"study {study.relative_to(ROOT) if study.is_relative_to(ROOT) else study}")

    wall_run, rss_run, _ = _child(cmd)
    res: dict = {"study": name, "facetflow_run_s": wall_run, "facetflow_peak_rss_gb": rss_run}
    sdir = next(p for p in work.iterdir() if (p / "plan.json").is_file())
    run = json.loads((sdir / "run.json").read_text())
    plan = read_plan(sdir / "plan.json")
    res.update(raw_enumeration=plan.raw_count, distinct=len(plan.nodes),
               structures=len(plan.records), computed=run.get("run"),
               calc_wall_s=run.get("wall_time"))
    print(f"facetflow run: {wall_run:.1f} s wall, peak RSS {rss_run:.2f} GB; "
          f"{res['computed']} calculations for {res['structures']} structures "
          f"(raw enumeration {res['raw_enumeration']}, distinct {res['distinct']})")

    wall_re, _, _ = _child(cmd)
    rerun = json.loads((sdir / "run.json").read_text())
    res.update(rerun_s=wall_re, rerun_computed=rerun.get("run"))
    print(f"rerun: {wall_re:.1f} s wall, {res['rerun_computed']} calculations")

    if not args.no_baseline:
        out = work / "baseline.json"
        if args.baseline_json:
            shutil.copy(args.baseline_json, out)
            wall_b = rss_b = None
        else:
            bcmd = [sys.executable, __file__, "--baseline-child", str(study), str(out),
                    str(sdir)]
            if args.limit:
                bcmd += ["--limit", str(args.limit)]
            wall_b, rss_b, _ = _child(bcmd)
        base = json.loads(out.read_text())
        ours = _stored(sdir)
        diffs = {sid: 1000 * (ours[sid]["energy"] - b["energy"]) / b["natoms"]
                 for sid, b in base["rows"].items() if sid in ours}
        within = sum(abs(d) <= 5.0 for d in diffs.values())
        res.update(baseline_s=wall_b, baseline_structures=len(base["rows"]),
                   baseline_peak_rss_gb=rss_b,
                   speedup=None if wall_b is None else wall_b / wall_run,
                   baseline_steps=sum(b["steps"] for b in base["rows"].values()),
                   facetflow_steps=sum((ours[s]["steps"] or 0) for s in diffs),
                   energy_diff_mev_atom={k: round(v, 2) for k, v in sorted(diffs.items())},
                   within_5_mev_atom=within,
                   max_abs_diff_mev_atom=max((abs(d) for d in diffs.values()), default=None),
                   lower_than_baseline=sum(d < 0 for d in diffs.values()))
        if wall_b is None:
            print(f"naive baseline: read from {args.baseline_json} ({len(base['rows'])} "
                  "structures); no speed-up without running both here")
        else:
            print(f"naive baseline (ASE BFGS one at a time): {wall_b:.1f} s wall for "
                  f"{len(base['rows'])} structures")
            print(f"speed-up (baseline / facetflow wall): {res['speedup']:.2f}x")
        print(f"ionic steps: facetflow {res['facetflow_steps']}, baseline "
              f"{res['baseline_steps']}")
        print(f"energies within 5 meV/atom: {within}/{len(diffs)}; max |dE| "
              f"{res['max_abs_diff_mev_atom']:.2f} meV/atom; facetflow lower in "
              f"{res['lower_than_baseline']}")
    dest = ROOT / "benchmarks" / f"results_study_{name}.json"
    dest.write_text(json.dumps(res, indent=1, sort_keys=True))
    print(f"written {dest.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
