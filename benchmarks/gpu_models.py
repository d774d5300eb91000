"""Time per ionic step of slab relaxations with each embedded ML potential, on a GPU or
a CPU, one slab alone and many slabs together.

    python benchmarks/gpu_models.py [--device cuda cpu] [--models chgnet sevennet-0 ...]
        [--supercell 3x3] [--batch 32] [--cpu-batch N] [--steps 10] [--cpu-steps N]
        [--workers auto] [--batch-atoms N] [--json results_gpu_models.json]

The slab is the ZnSe-capped InAs(110) slab of ``scaling.py`` (``--supercell 3x3``: 180
atoms). For every device and model, two rows: the slab alone, and ``--batch`` copies of
it (each rattled by 0.02 Å with its own seed, so no two are the same) relaxed together.
Both go through facetflow's engine as a run does (``MlipEngine.run_many``, the slab
preset with ``max_steps = --steps`` and an unreachable fmax): on a GPU all structures
share one model call per optimizer step (``engines/batch.py``; CHGNet in graph batches
of ``batch_atoms`` atoms, the other models one structure per call), on a CPU the batch is
shared out to ``--workers`` processes (``auto``: one per core). Each row is timed after
an untimed warm-up of the same call with one step (model load, CUDA kernels, worker
processes). s/step is the wall time over the force evaluations (steps + 1) of the
relaxation; µs/atom-step divides it by all atoms of the batch.

Prints a table; ``--json`` writes it too, after every row.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

MODELS = ("chgnet", "sevennet-0", "sevennet-l3i5", "sevennet-mf-0")


def slabs(supercell: list[int], n: int) -> list:
    """``n`` copies of the capped slab, each rattled by 0.02 Å (seed = its index)."""
    from scaling import capped_slab

    slab = capped_slab(supercell)
    out = []
    for k in range(n):
        a = slab.copy()
        a.rattle(0.02, seed=k)
        out.append(a)
    return out


def step_time(model: str, device: str, structures: list, steps: int,
              workers: str | int, batch_atoms: int | None) -> dict:
    """Wall time per force evaluation of ``structures`` relaxed together for ``steps``
    steps by facetflow's mlip engine (after an untimed one-step warm-up)."""
    from facetflow.engines import get_engine
    from facetflow.engines.presets import settings_for
    from facetflow.engines.workers import worker_count

    s = {**settings_for("mlip", "slab"), "model": model, "max_steps": steps,
         "fmax": 1e-6, "device": device, "workers": workers}
    if batch_atoms:
        s["batch_atoms"] = batch_atoms
    eng = get_engine("mlip")
    warm = {**s, "max_steps": 1}
    for _ in range(2 if device == "cpu" and len(structures) > 1 else 1):
        eng.run_many([a.copy() for a in structures], "relax", warm)
    _sync(device)
    t0 = time.perf_counter()
    got = eng.run_many([a.copy() for a in structures], "relax", s)
    _sync(device)
    wall = time.perf_counter() - t0
    evals = max(r.steps for r in got) + 1
    atoms = sum(len(a) for a in structures)
    return {"model": model, "device": device, "atoms": len(structures[0]),
            "structures": len(structures), "steps": evals - 1, "wall_s": wall,
            "s_per_step": wall / evals, "us_per_atom_step": 1e6 * wall / evals / atoms,
            "workers": worker_count(s["workers"], device, len(structures)),
            "batch_atoms": s["batch_atoms"] if model == "chgnet" else None}


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def machine(devices: list[str]) -> dict:
    import torch

    info = {"python": platform.python_version(), "torch": torch.__version__,
            "cpus": len(os.sched_getaffinity(0)), "torch_threads": torch.get_num_threads(),
            "cpu": _cpu_name()}
    if any(d.startswith("cuda") for d in devices) and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    try:
        info["commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
            cwd=Path(__file__).parent, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        info["commit"] = None
    return info


def _cpu_name() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", nargs="+", default=["cuda"], help="cuda, cpu, or both")
    ap.add_argument("--models", nargs="+", default=list(MODELS))
    ap.add_argument("--supercell", default="3x3", help="of the (110) slab: 3x3 = 180 atoms")
    ap.add_argument("--batch", type=int, default=32, help="slabs in the batch row (<2: none)")
    ap.add_argument("--cpu-batch", type=int, default=None,
                    help="slabs in the batch row on a CPU (default: --batch)")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--cpu-steps", type=int, default=None,
                    help="steps of the rows on a CPU (default: --steps)")
    ap.add_argument("--workers", default="auto", help="CPU worker processes (auto or N)")
    ap.add_argument("--batch-atoms", type=int, default=None,
                    help="CHGNet atoms per model call (default: the preset's)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    workers = args.workers if args.workers == "auto" else int(args.workers)
    supercell = [int(x) for x in args.supercell.split("x")]
    out = {"command": " ".join(sys.argv), "machine": machine(args.device), "rows": []}
    print(f"{'model':14s} {'device':6s} {'atoms':>5s} {'structs':>7s} {'steps':>5s} "
          f"{'s/step':>8s} {'us/atom-step':>12s}", flush=True)
    for device in args.device:
        n = args.batch if device != "cpu" or args.cpu_batch is None else args.cpu_batch
        steps = args.steps if device != "cpu" or args.cpu_steps is None else args.cpu_steps
        sizes = [1] + ([n] if n > 1 else [])
        batch = slabs(supercell, max(sizes))
        for model in args.models:
            for size in sizes:
                try:
                    row = step_time(model, device, batch[:size], steps, workers,
                                    args.batch_atoms)
                except Exception as exc:  # noqa: BLE001 - record and go on to the next row
                    traceback.print_exc()
                    row = {"model": model, "device": device, "structures": size,
                           "error": f"{type(exc).__name__}: {exc}"}
                    print(f"{model:14s} {device:6s} failed: {row['error']}", flush=True)
                else:
                    print(f"{model:14s} {device:6s} {row['atoms']:5d} {size:7d} "
                          f"{row['steps']:5d} {row['s_per_step']:8.3f} "
                          f"{row['us_per_atom_step']:12.1f}", flush=True)
                out["rows"].append(row)
                if args.json:
                    args.json.write_text(json.dumps(out, indent=1) + "\n")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
