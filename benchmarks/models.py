"""Which embedded ML potential: each model against a DFT data set, and its speed.

    python benchmarks/models.py DATASET_DIR [--models chgnet sevennet-0 ...]
        [--subset N] [--slab-steps 10] [--json results_models.json]

DATASET_DIR holds ``frames.extxyz`` and ``reactions.json`` (``facetflow dataset export``).
For every model: single points at every frame (the DFT geometries), then

* reaction energies (binding and exchange) with the data set's coefficients: MAE, RMSE
  and largest error against DFT (eV);
* force MAE over all force components of all frames (eV/Å);
* the wall time per ionic step of a relaxation of a ~200-atom slab (the paper study's
  ZnSe-capped InAs {100} slab with acetate at full coverage), ``--slab-steps`` steps
  through facetflow's engine on this machine's CPU (or ``--device cuda``).

``--subset N`` keeps the first N reactions and the frames they need (the tests run it
so). Prints a table; ``--json`` also writes it.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

MODELS = ("chgnet", "sevennet-0", "sevennet-l3i5", "sevennet-mf-0")


def load_dataset(folder: Path, subset: int | None) -> tuple[list, list[dict]]:
    """Frames and reactions; with ``subset``, the first reactions and their frames."""
    from ase.io import read

    frames = read(folder / "frames.extxyz", ":")
    reactions = json.loads((folder / "reactions.json").read_text())["reactions"]
    if subset is not None:
        reactions = reactions[:subset]
        needed = {h for r in reactions for h in r["coefficients"]}
        frames = [a for a in frames if a.info["calc_hash"] in needed]
    return frames, reactions


def evaluate(model: str, frames: list, device: str) -> tuple[dict, list[np.ndarray], float]:
    """Energies (eV) by frame hash and forces (eV/Å) of ``model`` at every frame, and the
    wall time (s)."""
    from facetflow.engines.mlip_models import load_calculator

    calc, _ = load_calculator(model, device)
    t0 = time.perf_counter()
    energies, forces = {}, []
    for a in frames:
        b = a.copy()
        b.calc = calc
        energies[a.info["calc_hash"]] = float(b.get_potential_energy())
        forces.append(np.asarray(b.get_forces()))
    return energies, forces, time.perf_counter() - t0


def scores(frames: list, reactions: list[dict], energies: dict, forces: list) -> dict:
    """Reaction-energy errors (eV) and force MAE (eV/Å) of one model."""
    err = np.array([sum(c * energies[h] for h, c in r["coefficients"].items())
                    - r["energy_eV"] for r in reactions])
    df = np.concatenate([(f - a.get_forces()).ravel() for f, a in zip(forces, frames,
                                                                       strict=True)])
    return {"reactions": len(reactions), "frames": len(frames),
            "reaction_mae_eV": float(np.mean(np.abs(err))) if len(err) else None,
            "reaction_rmse_eV": float(np.sqrt(np.mean(err ** 2))) if len(err) else None,
            "reaction_max_eV": float(np.max(np.abs(err))) if len(err) else None,
            "force_mae_eV_A": float(np.mean(np.abs(df))),
            "errors_eV": {r["id"]: float(e) for r, e in zip(reactions, err, strict=True)}}


def slab_step_time(model: str, steps: int, device: str) -> dict:
    """Wall time per ionic step (s) of the paper's {100} slab with acetate at full
    coverage, relaxed for ``steps`` steps by facetflow's mlip engine (one process)."""
    from facetflow.engines import get_engine
    from facetflow.engines.presets import settings_for
    from facetflow.structures.catalog import build_catalog
    from facetflow.study import load_study

    root = Path(__file__).resolve().parent.parent
    study = load_study(root / "studies" / "inas_znse_fluoride.yaml")
    slab = next(r for r in build_catalog(study) if r.id == "100_acetate_t1.000_c0")
    s = {**settings_for("mlip", "slab"), "model": model, "max_steps": steps,
         "fmax": 1e-6, "workers": 1, "device": device}
    eng = get_engine("mlip")
    eng.run(slab.atoms.copy(), "single", s)  # loads the model: not timed
    t0 = time.perf_counter()
    got = eng.run(slab.atoms.copy(), "relax", s)
    wall = time.perf_counter() - t0
    return {"atoms": len(slab.atoms), "steps": got.steps,
            "s_per_step": wall / max(got.steps, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--models", nargs="+", default=list(MODELS))
    ap.add_argument("--subset", type=int, default=None)
    ap.add_argument("--slab-steps", type=int, default=10, help="0: no timing")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    frames, reactions = load_dataset(args.dataset, args.subset)
    table = {}
    for model in args.models:
        energies, forces, wall = evaluate(model, frames, args.device)
        row = scores(frames, reactions, energies, forces)
        row["single_points_s"] = wall
        if args.slab_steps:
            row["slab"] = slab_step_time(model, args.slab_steps, args.device)
        table[model] = row
    print(f"{'model':16s} {'MAE':>7s} {'RMSE':>7s} {'max':>7s} {'F MAE':>7s} {'s/step':>8s}"
          f"   ({len(reactions)} reactions, {len(frames)} frames; eV, eV/Å)")
    for model, r in table.items():
        step = r.get("slab", {}).get("s_per_step")
        print(f"{model:16s} {_f(r['reaction_mae_eV'])} {_f(r['reaction_rmse_eV'])} "
              f"{_f(r['reaction_max_eV'])} {_f(r['force_mae_eV_A'])} "
              f"{'' if step is None else f'{step:8.3f}'}")
    if args.json:
        args.json.write_text(json.dumps({"dataset": str(args.dataset), "models": table},
                                        indent=1))


def _f(x: float | None) -> str:
    return "    n/a" if x is None else f"{x:7.3f}"


if __name__ == "__main__":
    main()
