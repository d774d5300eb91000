"""Does fine-tuning carry over to a system it has not seen? Leave one system out.

    python benchmarks/finetune_holdout.py DATASET_DIR [--hold study|family]
        [--only GROUP ...] [--model chgnet|sevennet-0|sevennet-l3i5] [--epochs 60]
        [--layers all|readout] [--energy-weight 1] [--learning-rate 3e-4] [--whole]
        [--json results_finetune_holdout.json]

DATASET_DIR holds ``frames.extxyz`` and ``reactions.json`` (``facetflow dataset export``).
For each study (``--hold study``, e.g. train without CdSe/CdS, test on it) or each
structure family (``--hold family``: study and facet, e.g. without {110}), the model
(``--model``, CHGNet by default) is fine-tuned (``facetflow.engines.finetune``) on the
frames of everything else, and the reaction energies of the held-out part are computed
with the stock and the fine-tuned model at the DFT geometries. Prints the held-out
reaction-energy MAE before and after (eV) and the fine-tuning wall time (s) of each
split, and with ``--whole`` the time of a fine-tuning on the whole set. ``--layers
readout`` trains only the model's readout layers (the representation kept, less to
overfit on a small set), ``--energy-weight`` weighs the energy per atom against the
forces in the loss. Groups without a reaction are not held out (nothing to measure on
them); ``--only`` holds out just the named groups (e.g. ``refset_inas_znse:110``).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from facetflow.engines.finetune import FINETUNABLE, TrainSettings, finetune
from facetflow.engines.mlip_models import load_calculator


def reaction_mae(model: str, frames: list, reactions: list[dict]) -> float | None:
    """MAE (eV) of ``model``'s reaction energies against the data set's."""
    if not reactions:
        return None
    calc, _ = load_calculator(model, "cpu")
    by_hash = {a.info["calc_hash"]: a for a in frames}
    energy = {}
    for h in {h for r in reactions for h in r["coefficients"]}:
        b = by_hash[h].copy()
        b.calc = calc
        energy[h] = float(b.get_potential_energy())
    err = [sum(c * energy[h] for h, c in r["coefficients"].items()) - r["energy_eV"]
           for r in reactions]
    return float(np.mean(np.abs(err)))


def holdout(frames: list, reactions: list[dict], key: str, group: str,
            settings: TrainSettings, model: str = "chgnet") -> dict:
    """Fine-tune without ``group`` (frames whose ``info[key]`` is it); errors on it."""
    def member(a) -> bool:
        return str(a.info[key]) == group

    train = [a for a in frames if not member(a)]
    held = [r for r in reactions if group_of(r, key) == group]
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        card = finetune(train, Path(tmp), model, settings)
        wall = time.perf_counter() - t0
        tuned = reaction_mae(str(Path(tmp) / card.file), frames, held)
    return {"held_out": group, "reactions": len(held), "train_frames": len(train),
            "mae_stock_eV": reaction_mae(model, frames, held), "mae_finetuned_eV": tuned,
            "finetune_s": wall, "epochs": card.epochs_run}


def group_of(reaction: dict, key: str) -> str:
    """The held-out group of a reaction: its study, or (``family``) study and facet."""
    return reaction["study"] if key == "study" else f"{reaction['study']}:{reaction['facet']}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--hold", choices=("study", "family"), default="study")
    ap.add_argument("--only", nargs="+", default=None, help="hold out only these groups")
    ap.add_argument("--model", choices=FINETUNABLE, default="chgnet")
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--layers", choices=("all", "readout"), default="all")
    ap.add_argument("--energy-weight", type=float, default=1.0)
    ap.add_argument("--learning-rate", type=float, default=3e-4)
    ap.add_argument("--whole", action="store_true", help="also time a fine-tuning on the "
                    "whole set")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    from ase.io import read

    frames = read(args.dataset / "frames.extxyz", ":")
    reactions = json.loads((args.dataset / "reactions.json").read_text())["reactions"]
    settings = TrainSettings(epochs=args.epochs, layers=args.layers,
                             energy_weight=args.energy_weight,
                             learning_rate=args.learning_rate)
    with_reactions = {group_of(r, args.hold) for r in reactions}
    groups = sorted({str(a.info[args.hold]) for a in frames} & with_reactions)
    if args.only:
        unknown = sorted(set(args.only) - set(groups))
        if unknown:
            ap.error(f"--only {' '.join(unknown)}: not a group with reactions; "
                     f"groups: {', '.join(groups)}")
        groups = sorted(args.only)
    rows = [holdout(frames, reactions, args.hold, g, settings, args.model) for g in groups]
    whole = None
    if args.whole:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            finetune(frames, Path(tmp), args.model, settings)
            whole = time.perf_counter() - t0
    print(f"{'held out':32s} {'reactions':>9s} {'stock':>7s} {'tuned':>7s} {'time s':>7s}")
    for r in rows:
        print(f"{r['held_out']:32s} {r['reactions']:9d} {_f(r['mae_stock_eV'])} "
              f"{_f(r['mae_finetuned_eV'])} {r['finetune_s']:7.0f}")
    if whole is not None:
        print(f"fine-tuning on the whole set ({len(frames)} frames): {whole:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({"dataset": str(args.dataset), "hold": args.hold,
                                         "model": args.model,
                                         "settings": vars(settings), "splits": rows,
                                         "whole_set_s": whole}, indent=1))


def _f(x: float | None) -> str:
    return "    n/a" if x is None else f"{x:7.3f}"


if __name__ == "__main__":
    main()
