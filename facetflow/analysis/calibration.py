"""ML - DFT calibration from a reference data set (``facetflow dataset export``).

``score_dataset`` evaluates an embedded ML model as single points at every frame of a
data set (the DFT geometries) and writes ``DATASET/scores/<model>.json``: the model's
energy of every frame (eV) and its value of every reaction (eV, the data set's own
coefficients). ``dataset_residuals`` reads it back as ML - DFT residuals (eV) of the
binding energies, by species family (ligand, additive, growth: each reaction's ``role``),
which ``analysis.uncertainty`` turns into the calibration noise of a study run with that
model (``analysis.calibration: DATASET``). The residuals are at identical geometries, so
they measure the model's energy error, not its geometry error.
"""

from __future__ import annotations

import json
import logging
import re
import time
from pathlib import Path

from facetflow import __version__

log = logging.getLogger(__name__)

SCORES_SCHEMA = "facetflow.dataset-scores/1"


def scores_path(dataset: Path, model: str) -> Path:
    """Where the scores of ``model`` (a name or a model file) on ``dataset`` live."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(model).name if "/" in model else model)
    return Path(dataset) / "scores" / f"{name}.json"


def score_dataset(dataset: Path, model: str, device: str = "cpu") -> dict:
    """Single points of ``model`` at every frame of ``dataset``; writes and returns the
    scores document (frame energies and reaction values in eV, wall time in s)."""
    from ase.io import read

    from facetflow.engines import get_engine
    from facetflow.engines.mlip_models import load_calculator

    doc = json.loads((Path(dataset) / "reactions.json").read_text())
    frames = read(Path(dataset) / "frames.extxyz", ":") if doc.get("frames") else []
    calc, _ = load_calculator(model, device)
    t0 = time.perf_counter()
    energies = {}
    for a in frames:
        b = a.copy()
        b.calc = calc
        energies[a.info["calc_hash"]] = float(b.get_potential_energy())
    values = {r["id"]: sum(c * energies[h] for h, c in r["coefficients"].items())
              for r in doc.get("reactions", [])}
    out = {"schema": SCORES_SCHEMA, "model": model,
           "identity": get_engine("mlip").identity({"model": model}).key,
           "facetflow": __version__, "frames": energies, "reactions": values,
           "wall_time_s": time.perf_counter() - t0}
    path = scores_path(dataset, model)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_suffix(".json.part")
    part.write_text(json.dumps(out, indent=1))
    part.replace(path)
    return out


def dataset_residuals(dataset: Path, model: str, identity: str | None,
                      studies: list[str] | None = None
                      ) -> tuple[dict[str, list[float]], str | None]:
    """ML - DFT residuals (eV) of the data set's binding energies by family, and why
    there are none (None when there are). ``identity``: the run's engine identity; scores
    made with another (another package version, another model file) are not used.
    ``studies``: only the reactions of these studies of the data set (None or empty:
    all)."""
    path = scores_path(dataset, model)
    reactions_file = Path(dataset) / "reactions.json"
    if not reactions_file.is_file():
        return {}, f"no data set at {dataset} (reactions.json missing)"
    if not path.is_file():
        return {}, (f"no scores of {model} on {dataset} "
                    f"(facetflow dataset score {dataset} --model {model})")
    scores = json.loads(path.read_text())
    if identity is not None and scores.get("identity") != identity:
        return {}, (f"the scores in {path} are for {scores.get('identity')}, "
                    f"this run's engine is {identity}")
    out: dict[str, list[float]] = {}
    for r in json.loads(reactions_file.read_text()).get("reactions", []):
        ml = scores["reactions"].get(r["id"])
        if studies and r.get("study") not in studies:
            continue
        if r["kind"] == "binding" and r.get("role") and ml is not None:
            out.setdefault(r["role"], []).append(ml - r["energy_eV"])
    return out, None if out else (f"no binding reactions with scores in {dataset}"
                                  + (f" of {', '.join(studies)}" if studies else ""))
