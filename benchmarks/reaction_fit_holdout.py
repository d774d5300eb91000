"""Does a fit to reaction energies carry over to a system it has not seen? CHGNet's readout
on reaction energies, leave one system out.

    python benchmarks/reaction_fit_holdout.py DATASET_DIR [--hold study|family]
        [--only GROUP ...] [--steps 300] [--learning-rate 1e-3] [--anchor 0.1]
        [--json results_reaction_fit_holdout.json]

The alternative to ``benchmarks/finetune_holdout.py`` (which trains on total energies and
forces): fit CHGNet's readout MLP (the network that maps each atom's learned features to
its energy) directly to the DFT reaction energies of the training reactions, the atom
features frozen. A frame's energy is then E(theta) = E_stock + sum_atoms [MLP_theta(h_a) -
MLP_stock(h_a)] with h_a the features after CHGNet's last convolution (computed once), so
a full-batch step over every reaction costs milliseconds. Loss (eV^2): the mean squared
reaction-energy error plus ``anchor`` times the squared distance of the MLP's weights from
the stock ones. Adam, ``steps`` full-batch steps.

For each held-out group the training reactions are split once more: one training family
(study and facet; the largest) is the validation set (with a single family left, every
fifth of its reactions), and the kept weights are those of
the step with the lowest validation MAE (step 0, the stock model, included): the rule a
user without the held-out answers could apply. Printed per held-out group, MAE in eV:
the stock model, the early-stopped fit, and along the whole path the held-out MAE at its
best step and at the last one (the best is hindsight, which no rule can pick; it says
how much a perfect stopping rule could win at most).
"""

from __future__ import annotations

import argparse
import copy
import json
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from finetune_holdout import group_of  # the same groups as the frame fine-tuning's


def atom_features(frames: list) -> tuple[list, np.ndarray, object]:
    """Per frame the atom features entering CHGNet's readout MLP, the stock total energies
    (eV), and the network."""
    from facetflow.engines.finetune_models import ChgnetTuner, _structure

    net = ChgnetTuner([]).net
    net.eval()
    seen: dict = {}
    hook = net.mlp.register_forward_hook(lambda m, inp, out: seen.update(x=inp[0].detach()))
    feats, energies = [], []
    with torch.no_grad():
        for a in frames:
            pred = net([net.graph_converter(_structure(a))], task="e")
            feats.append(seen["x"].clone())
            energies.append(float(pred["e"][0]) * len(a))
    hook.remove()
    return feats, np.array(energies), net


def design(reactions: list[dict], index: dict[str, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Coefficient matrix (reactions x frames) and DFT reaction energies (eV)."""
    m = torch.zeros(len(reactions), len(index), dtype=torch.float64)
    for j, r in enumerate(reactions):
        for h, c in r["coefficients"].items():
            m[j, index[h]] = c
    return m, torch.tensor([r["energy_eV"] for r in reactions], dtype=torch.float64)


def fit_path(feats: list, e_stock: np.ndarray, mlp, sets: dict, steps: int, lr: float,
             anchor: float) -> dict[str, list[float]]:
    """MAE (eV) of each reaction set in ``sets`` (name -> (matrix, energies)) at every step
    of the fit to ``sets['train']``."""
    mlp = copy.deepcopy(mlp)
    start = [p.detach().clone() for p in mlp.parameters()]
    with torch.no_grad():
        base = torch.stack([mlp(f).sum().double() for f in feats])
    e0 = torch.tensor(e_stock, dtype=torch.float64) - base
    opt = torch.optim.Adam(mlp.parameters(), lr=lr)
    path: dict[str, list[float]] = {k: [] for k in sets}
    for step in range(steps + 1):
        e = e0 + torch.stack([mlp(f).sum().double() for f in feats])
        for name, (m, y) in sets.items():
            path[name].append(float((m @ e.detach() - y).abs().mean()))
        if step == steps:
            break
        m, y = sets["train"]
        loss = ((m @ e - y) ** 2).mean() + anchor * sum(
            ((p - q) ** 2).sum() for p, q in zip(mlp.parameters(), start, strict=True))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return path


def holdout(feats, e_stock, net, reactions, index, key, group, args) -> dict:
    """Fit without ``group``; its reaction MAE along the path and at the early stop."""
    rest = [r for r in reactions if group_of(r, key) != group]
    families = Counter(group_of(r, "family") for r in rest)
    val_family = families.most_common(1)[0][0]
    if len(families) > 1:
        val = [group_of(r, "family") == val_family for r in rest]
    else:  # one family left: every fifth of its reactions validates
        val_family = f"{val_family} (every fifth reaction)"
        val = [i % 5 == 4 for i in range(len(rest))]
    sets = {"train": design([r for r, v in zip(rest, val, strict=True) if not v], index),
            "validation": design([r for r, v in zip(rest, val, strict=True) if v], index),
            "held_out": design([r for r in reactions if group_of(r, key) == group], index)}
    path = fit_path(feats, e_stock, net.mlp, sets, args.steps, args.learning_rate,
                    args.anchor)
    stop = int(np.argmin(path["validation"]))
    held = path["held_out"]
    return {"held_out": group, "reactions": len(sets["held_out"][1]),
            "validation_family": val_family, "mae_stock_eV": held[0],
            "early_stop_step": stop, "mae_early_stop_eV": held[stop],
            "best_step_hindsight": int(np.argmin(held)), "mae_best_hindsight_eV": min(held),
            "mae_last_eV": held[-1], "train_mae_last_eV": path["train"][-1]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--hold", choices=("study", "family"), default="study")
    ap.add_argument("--only", nargs="+", default=None)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--learning-rate", type=float, default=1e-3)
    ap.add_argument("--anchor", type=float, default=0.1)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    from ase.io import read

    torch.manual_seed(0)
    frames = read(args.dataset / "frames.extxyz", ":")
    reactions = json.loads((args.dataset / "reactions.json").read_text())["reactions"]
    index = {a.info["calc_hash"]: i for i, a in enumerate(frames)}
    groups = sorted({group_of(r, args.hold) for r in reactions})
    if args.only:
        unknown = sorted(set(args.only) - set(groups))
        if unknown:
            ap.error(f"--only {' '.join(unknown)}: no reactions; groups: {', '.join(groups)}")
        groups = sorted(args.only)
    feats, e_stock, net = atom_features(frames)
    rows = [holdout(feats, e_stock, net, reactions, index, args.hold, g, args)
            for g in groups]
    print(f"{'held out':26s} {'n':>4s} {'stock':>6s} {'early':>6s} {'(step)':>6s} "
          f"{'best':>6s} {'(step)':>6s} {'last':>6s} {'train':>6s}")
    for r in rows:
        print(f"{r['held_out']:26s} {r['reactions']:4d} {r['mae_stock_eV']:6.3f} "
              f"{r['mae_early_stop_eV']:6.3f} {r['early_stop_step']:6d} "
              f"{r['mae_best_hindsight_eV']:6.3f} {r['best_step_hindsight']:6d} "
              f"{r['mae_last_eV']:6.3f} {r['train_mae_last_eV']:6.3f}")
    if args.json:
        args.json.write_text(json.dumps({"dataset": str(args.dataset), "hold": args.hold,
                                         "steps": args.steps, "anchor": args.anchor,
                                         "learning_rate": args.learning_rate,
                                         "splits": rows}, indent=1))


if __name__ == "__main__":
    main()
