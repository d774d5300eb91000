"""The noise model of the error bars (``analysis.uncertainty``): where each structure's
energy (eV) may be off, and by how much. Per sample s:

    E_s(i) = E(i) + sum_m z_sm [E_m(i) - E(i)] / sqrt(M)        (model: committee)
                  - B_si X_si                                  (configurations)
                  + sigma_i g_si                               (given Gaussian noise)

* Model: M committee potentials evaluated as single points at the final geometry of
  every structure (``workflow.committee``); z_sm ~ N(0, 1) is shared by all structures
  of sample s, so each quantity q (a balanced reaction of energies: per-element offsets
  between models cancel) is sampled with variance mean_m (q_m - q)^2.
* Configurations: with k starts per structure, the lowest minimum is missed with
  probability p^k, p = (n_j>0 + 1) / (n + 2) the fraction of structures whose lowest
  start was not start 0 (Laplace's rule); a miss lowers the energy by X ~ Exp(mean gap),
  the gap the mean E(start 0) - E(lowest) where start 0 was not lowest. B ~ Bernoulli.
  With an ML pre-relaxation the starts are the ML ones, p and the gap their ML energies'.
* Calibration: where DFT values of binding energies exist (DFT runs of the same study,
  ``--also``; a reference data set, ``analysis.calibration``, at identical geometries),
  E_b of each species family (ligand, additive, growth) gets an independent
  N(0, sigma_family) with sigma the RMS ML - DFT residual.

Each structure's energy is sampled once per sample (``EnergySampler``) and that one array
is used wherever the structure enters, so correlations are kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from facetflow.analysis.calibration import dataset_residuals
from facetflow.analysis.inputs import SummaryInputs


@dataclass
class NoiseModel:
    """How structure energies are sampled (see the module docstring). ``committee``:
    structure id -> deviations E_m - E (eV, one per committee model); ``miss``: id ->
    (probability all its starts missed the lowest minimum, mean gap in eV); ``sigma``:
    id -> independent Gaussian standard deviation (eV); ``calibration``: species family
    -> standard deviation added to its E_b (eV)."""

    committee: dict[str, np.ndarray] = field(default_factory=dict)
    miss: dict[str, tuple[float, float]] = field(default_factory=dict)
    sigma: dict[str, float] = field(default_factory=dict)
    calibration: dict[str, float] = field(default_factory=dict)


class EnergySampler:
    """Samples of each structure's energy noise (eV), drawn once per structure and reused
    wherever it enters (shared references move every quantity using them together)."""

    def __init__(self, noise: NoiseModel, n: int, rng: np.random.Generator):
        self.noise, self.n, self.rng = noise, n, rng
        m = len(next(iter(noise.committee.values()), []))
        self.z = rng.standard_normal((n, m)) / np.sqrt(max(m, 1))
        self._cache: dict[str, np.ndarray] = {}

    def __call__(self, sid: str) -> np.ndarray:
        if sid not in self._cache:
            out = np.zeros(self.n)
            dev = self.noise.committee.get(sid)
            if dev is not None and self.z.shape[1]:
                out += self.z @ dev
            if sid in self.noise.miss:
                p, gap = self.noise.miss[sid]
                hit = self.rng.random(self.n) < p
                out -= hit * self.rng.exponential(gap, self.n)
            if self.noise.sigma.get(sid):
                out += self.noise.sigma[sid] * self.rng.standard_normal(self.n)
            self._cache[sid] = out
        return self._cache[sid]


@dataclass
class SampledInputs(SummaryInputs):
    """``SummaryInputs`` whose energies are arrays of samples (eV)."""

    sampler: Callable[[str], np.ndarray] | None = None

    def energy(self, sid: str | None):
        e = super().energy(sid)
        return None if e is None or self.sampler is None else e + self.sampler(sid)


def starts_noise(starts: dict | None) -> tuple[dict[str, tuple[float, float]], dict]:
    """Per structure with several starts: (probability all its starts missed the lowest
    minimum, mean gap in eV), and the source's description (``ConfigurationSource``).
    With an ML pre-relaxation (``stage`` "prerelax") the starts are the ML ones: the final
    calculation began from the lowest ML minimum, which may still not be the lowest
    there is, and the ML starts' statistics are the estimate of how likely that is."""
    rows = (starts or {}).get("by_structure") or {}
    rows = {k: r for k, r in rows.items() if r["done"] >= 2}
    if not rows:
        return {}, {"used": False,
                    "note": "one start per structure (workflow.starts: 1): not sampled"}
    n_not0 = sum(r["lowest_start"] != 0 for r in rows.values())
    p = (n_not0 + 1) / (len(rows) + 2)
    gaps = [r["gap_eV"] for r in rows.values() if r.get("gap_eV")]
    spreads = [r["spread_eV"] for r in rows.values() if r.get("spread_eV") is not None]
    gap = (float(np.mean(gaps)) if gaps
           else float(np.median(spreads)) if spreads else 0.0)
    miss = {sid: (p ** r["done"], gap) for sid, r in rows.items()}
    source = {"used": gap > 0, "structures": len(rows), "lowest_not_start_0": n_not0,
              "p_start_misses": p, "gap_eV": gap,
              "spread_eV": float(np.median(spreads)) if spreads else None,
              "p_missed": {str(k): p ** k for k in sorted({r["done"] for r in rows.values()})},
              "note": "each structure's energy is lowered by Exp(gap) with probability "
                      "p_start_misses^k (k its computed starts" + (
                          ", ML pre-relaxations; p and gap from their ML energies)"
                          if starts.get("stage") == "prerelax" else ")")}
    return miss, source


def committee_noise(inp: SummaryInputs) -> tuple[dict[str, np.ndarray], dict]:
    """Per structure the deviations E_m - E (eV) of the committee models that were
    evaluated on every structure with an energy, and the source's description."""
    models = list(inp.study.workflow.committee)
    engine_model = inp.wd.engine_model()
    if not models:
        return {}, {"used": False, "engine_model": engine_model,
                    "note": "no committee (workflow.committee is empty)"}
    done = [sid for sid in inp.records if inp.wd.energy(sid) is not None]
    table = {sid: inp.wd.committee_energies(sid) for sid in done}
    complete = [m for m in models if all(m in table[sid] for sid in done)]
    if not complete:
        return {}, {"used": False, "engine_model": engine_model, "committee": models,
                    "note": "committee energies missing for some structures: not used"}
    dev = {sid: np.array([table[sid][m] - inp.wd.energy(sid) for m in complete])
           for sid in done}
    return dev, {"used": True, "engine_model": engine_model, "committee": complete,
                 "structures": len(done),
                 "note": "single points at the final geometries; each quantity sampled "
                         "with variance mean_m (q_m - q)^2 (shared z per sample)"}


def dataset_noise(inp: SummaryInputs) -> tuple[dict[str, list[float]], str | None]:
    """ML - DFT residuals (eV) by species family from the study's calibration data set
    (``analysis.calibration``; ``facetflow.analysis.calibration``), and a note when it gives none
    (None when no data set is named)."""
    path = inp.study.analysis.calibration
    if not path:
        return {}, None
    final = next((n for n in inp.wd.plan.nodes.values()
                  if n.stage == "final" and n.engine == "mlip"), None)
    if final is None:
        return {}, "the final engine is not an ML potential"
    got, why = dataset_residuals(Path(path), final.settings.get("model"), final.identity,
                                 inp.study.analysis.calibration_studies)
    return got, why and f"data set not used: {why}"


def calibration_noise(summary: dict, others: list[dict],
                      dataset: tuple[dict[str, list[float]], str | None] = ({}, None)
                      ) -> tuple[dict[str, float], dict]:
    """sigma per species family from the ML - DFT residuals of the binding energies that
    this run (an ML engine) shares with DFT runs of the same study (``others``), and of
    the calibration data set's binding energies (``dataset``: residuals by family and a
    note, ``dataset_noise``)."""
    if summary["engine"].get("name") != "mlip":
        return {}, {"used": False, "note": "the final engine is not an ML potential"}
    dft = [o for o in others if (o.get("engine") or {}).get("name") not in (None, "mlip")]
    residuals: dict[str, list[float]] = {k: list(v) for k, v in dataset[0].items()}
    for other in dft:
        for label, fac in summary["facets"].items():
            theirs = {(b["species"], b.get("ligand")): b["value"]
                      for b in ((other.get("facets") or {}).get(label) or {}).get("binding")
                      or []}
            for b in fac["binding"]:
                ref = theirs.get((b["species"], b.get("ligand")))
                if b["value"] is not None and ref is not None:
                    residuals.setdefault(b["role"], []).append(b["value"] - ref)
    if not residuals:
        note = "no DFT rows of the same binding energies (facetflow report WORKDIR --also " \
               "DFT_WORKDIR, or analysis.calibration)"
        return {}, {"used": False, "note": "; ".join(filter(None, (note, dataset[1])))}
    fams = {k: {"sigma_eV": float(np.sqrt(np.mean(np.square(v)))),
                "mean_eV": float(np.mean(v)), "n": len(v)} for k, v in residuals.items()}
    against = [f"{o['study']} ({o['engine'].get('name')})" for o in dft] + (
        ["the calibration data set"] if dataset[0] else [])
    return ({k: v["sigma_eV"] for k, v in fams.items()},
            {"used": True, "against": against, "families": fams,
             "note": "E_b of each family gets N(0, sigma) with sigma the RMS ML - DFT "
                     "residual against " + ", ".join(against)})
