"""The paper study with CHGNet fine-tuned on the DFT reference set, beside the stock run.

    python benchmarks/finetuned_study.py [STUDY.yaml] [--set data/reference_set]
        [--work work] [--stock WORK/<study>] [--layers all|readout] [--energy-weight 1]
        [--val-fraction 0.2] [--epochs 60] [--json results_finetuned_study.json]

1. CHGNet is fine-tuned (``facetflow.engines.finetune``; ``--layers``,
   ``--energy-weight``, ``--val-fraction`` and ``--epochs`` as ``facetflow finetune``
   takes them, whole structure families held out for early stopping; with
   ``--val-fraction 0`` it stops on the training frames) on every frame of the data set
   (``facetflow dataset export``), into ``WORK/<study>_finetuned/model/``; a model made
   from the same frames file with the same settings is reused.
2. A copy of the study named ``<study>_finetuned``, its engine's ``model`` set to that
   file (its sha256 enters every calculation's hash) and its relative paths made
   absolute, is run with ``facetflow run`` (resumable: a killed run continues).
3. Prints, for both runs, the verdict of each of the paper's findings with its
   probability under the error bars, the binding energies (eV) of the ligand, additives
   and growth species per facet, the growth ranking per case, and the fine-tuning's
   training and validation errors. The stock run is ``--stock`` (default
   ``WORK/<study>``, the main job's work directory), not run here.

The fine-tuned run has no calibration against DFT (the set's residuals of a model trained
on the set are in-sample), so its error bars come from the starts and the committee only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def finetuned_model(dataset: Path, out: Path, settings) -> tuple[Path, dict, float]:
    """The model fine-tuned with ``settings`` (``TrainSettings``) on ``dataset``'s frames
    (reused when made from the same frames file with the same settings), its model card
    and the training wall time (s; 0 when reused)."""
    import dataclasses

    from ase.io import read

    from facetflow.engines.finetune import finetune

    frames_file = dataset / "frames.extxyz"
    digest = hashlib.sha256(frames_file.read_bytes() + json.dumps(
        dataclasses.asdict(settings), sort_keys=True).encode()).hexdigest()
    card_file, stamp = out / "model_card.json", out / "frames.sha256"
    if card_file.is_file() and stamp.is_file() and stamp.read_text() == digest:
        card = json.loads(card_file.read_text())
        return out / card["file"], card, 0.0
    t0 = time.perf_counter()
    card = finetune(read(frames_file, ":"), out, "chgnet", settings).model_dump()
    stamp.write_text(digest)
    return out / card["file"], card, time.perf_counter() - t0


def variant(study_file: Path, model: Path, work: Path) -> Path:
    """The study with the fine-tuned model, written into ``work``."""
    data = yaml.safe_load(study_file.read_text())
    data["name"] = f"{data['name']}_finetuned"
    engine = data.setdefault("engine", {"name": "mlip"})
    engine.setdefault("settings", {})["model"] = str(model.resolve())
    cal = (data.get("analysis") or {}).get("calibration")
    if cal:
        data["analysis"]["calibration"] = str((study_file.parent / cal).resolve())
    out = work / f"{data['name']}.yaml"
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


def digest(summary: dict) -> dict:
    """Findings, binding energies and growth ranking of a run's ``summary.json``."""
    findings = {c["id"]: {"verdict": c["verdict"], "probability": c.get("probability")}
                for c in summary.get("paper_comparison") or []}
    binding = {f"{{{label}}} {b['species']} ({b['ligand']})": round(b["value"], 2)
               for label, facet in (summary.get("facets") or {}).items()
               for b in facet.get("binding") or [] if b.get("value") is not None}
    growth = {case: " > ".join(f"{{{f}}}" for f in c.get("ranking") or [])
              for case, c in ((summary.get("growth") or {}).get("cases") or {}).items()}
    return {"findings": findings, "binding_eV": binding, "growth": growth}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("study", type=Path, nargs="?",
                    default=ROOT / "studies" / "inas_znse_fluoride.yaml")
    ap.add_argument("--set", type=Path, default=ROOT / "data" / "reference_set")
    ap.add_argument("--work", type=Path, default=Path("work"))
    ap.add_argument("--stock", type=Path, default=None)
    ap.add_argument("--layers", choices=("all", "readout"), default="all")
    ap.add_argument("--energy-weight", type=float, default=1.0)
    ap.add_argument("--val-fraction", type=float, default=0.2)
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    from facetflow.engines.finetune import TrainSettings

    settings = TrainSettings(layers=args.layers, energy_weight=args.energy_weight,
                             val_fraction=args.val_fraction, epochs=args.epochs)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    name = yaml.safe_load(args.study.read_text())["name"]
    args.work.mkdir(parents=True, exist_ok=True)
    model, card, train_s = finetuned_model(args.set, args.work / f"{name}_finetuned" / "model",
                                           settings)
    study = variant(args.study, model, args.work)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "facetflow.cli", "run", str(study),
                           "--work", str(args.work), "--no-pictures", "--no-progress"])
    if proc.returncode != 0:
        sys.exit(f"the fine-tuned run failed (exit {proc.returncode})")
    runs = {"stock": args.stock or args.work / name, "fine-tuned": args.work / f"{name}_finetuned"}
    got = {k: digest(json.loads((d / "report" / "summary.json").read_text()))
           for k, d in runs.items() if (d / "report" / "summary.json").is_file()}
    result = {"model_card": card, "finetune_s": round(train_s, 1),
              "run_s": round(time.perf_counter() - t0, 1), "runs": got}
    _print(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


def _print(result: dict) -> None:
    runs = result["runs"]
    cols = list(runs)
    err = result["model_card"].get("errors", {})
    print(f"fine-tuning: {result['finetune_s']} s (0: reused); errors {json.dumps(err)}")
    print(f"fine-tuned run: {result['run_s']} s")
    print("| finding | " + " | ".join(cols) + " |\n|---|" + "---|" * len(cols))
    for fid in sorted({f for r in runs.values() for f in r["findings"]}):
        cells = [_verdict(runs[c]["findings"].get(fid)) for c in cols]
        print(f"| {fid} | " + " | ".join(cells) + " |")
    print("| E_b (eV) | " + " | ".join(cols) + " |\n|---|" + "---|" * len(cols))
    for key in sorted({k for r in runs.values() for k in r["binding_eV"]}):
        print(f"| {key} | " + " | ".join(str(runs[c]["binding_eV"].get(key, "-"))
                                         for c in cols) + " |")
    for case in sorted({k for r in runs.values() for k in r["growth"]}):
        print(f"growth {case}: " + "; ".join(f"{c}: {runs[c]['growth'].get(case, '-')}"
                                            for c in cols))


def _verdict(finding: dict | None) -> str:
    """'verdict (p %)' of one finding in one run, '-' where the run has none."""
    if not finding:
        return "-"
    p = finding.get("probability")
    return finding["verdict"] + ("" if p is None else f" ({p:.0%})")


if __name__ == "__main__":
    main()
