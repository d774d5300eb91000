"""The embedded default engine: a universal machine-learned interatomic potential whose
weights ship inside its PyPI wheel, so it runs offline.

Models: ``chgnet``, ``sevennet-0``, ``sevennet-l3i5``, ``sevennet-mf-0``
(``mlip_models``), or a fine-tuned model file (``engines.finetune``). Settings:
``MlipSettings`` over ``presets/mlip.yaml``; ``maxstep`` and ``h0`` apply to facetflow's
batched optimizers (fixed-cell relaxations), while cell relaxations (bulk references) and
``BFGS`` run ASE's optimizers with ASE's own step control.

Pseudo-hydrogens are plain H atoms for these models (they have no fractional-charge H);
they sit in the fixed bottom region of a slab, so the approximation only affects absolute
energies of the passivated face, which cancel in facet energy differences. Results carry
a warning saying so.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from facetflow.engines.base import (
    CalcErrors,
    OnResult,
    each_in_turn,
    max_force,
)
from facetflow.engines.batch import batched_fire, batched_lbfgs
from facetflow.engines.mlip_models import (
    MODELS,
    batch_forces,
    is_model_file,
    load_calculator,
    model_description,
    model_package,
    package_version,
    weights_checksum,
)
from facetflow.engines.optimize import relax_with_calculator
from facetflow.engines.settings import MlipSettings, resolve_settings, run_settings
from facetflow.engines.workers import run_in_workers, worker_count
from facetflow.records.calc import CalcResult, EngineIdentity, atoms_to_dict

BATCHED = {"FIRE": batched_fire, "LBFGS": batched_lbfgs}  # optimizers run as one batch
TASKS = ("relax", "single")


@cache
def _identity(model: str) -> EngineIdentity:
    """A registry model is named; a model file is identified by its sha256, so changing
    the file changes every calculation hash that uses it."""
    pkg = model_package(model)
    name = f"finetuned-sha256:{weights_checksum(model)}" if is_model_file(model) else model
    return EngineIdentity(engine="mlip", package=pkg, version=package_version(pkg),
                          model=name)


class MlipEngine:
    """The ML-potential engine. Settings: ``MlipSettings`` over ``presets/mlip.yaml``."""

    name = "mlip"

    def available(self) -> tuple[bool, str]:
        found = [m for m, (pkg, _) in MODELS.items() if package_version(pkg)]
        if not found:
            return False, "no ML potential installed: reinstall facetflow (scripts/install.sh)"
        return True, "models: " + ", ".join(found)

    def identity(self, settings: Mapping[str, Any]) -> EngineIdentity:
        """Package version and model: the weights ship inside that package version."""
        return _identity(settings.get("model") or resolve_settings(self.name, "bulk").model)

    def settings(self, atoms: Atoms, settings: Mapping[str, Any]) -> MlipSettings:
        """What a calculation of ``atoms`` runs with (``settings.run_settings``)."""
        return run_settings(self.name, atoms, settings)

    def run(self, atoms: Atoms, task: str, settings: Mapping[str, Any]) -> CalcResult:
        """Relax (``task="relax"``) or evaluate (``"single"``) one structure. Fixed-cell
        relaxations with a batched optimizer take the same path as ``run_many`` (so a
        calculation gives the same result alone or in a batch); cell relaxations and
        ``BFGS`` use ASE's optimizers, single points the model's ASE calculator."""
        _check_task(task)
        s = self.settings(atoms, settings)
        if task == "relax" and _batched(s):
            return self._batch([atoms], task, s)[0]
        return self._one(atoms, task, s)

    def run_many(self, structures: Sequence[Atoms], task: str, settings: Mapping[str, Any],
                 on_result: OnResult | None = None) -> list[CalcResult]:
        """Relax or single-point many structures. ``on_result(index, result)`` is called
        as each structure finishes, in this process; failed ones are raised together at
        the end (``CalcErrors``). Structures for which ``settings`` complete to different
        values (a partial mapping, structures of different purposes) run as separate
        groups.

        On a CPU, relaxations are shared out to ``workers`` processes (``auto``: one per
        usable core, memory permitting), each relaxing one structure at a time with its
        own share of the cores: on CPUs, batching structures into one model call saves
        nothing per atom, while two single-threaded processes do twice the work of one
        two-threaded one in about 1.2x the time (``benchmarks/README.md``). A structure's
        result does not depend on which worker ran it or on what else was running. On a
        GPU, all unconverged structures go through one batched model call per optimizer
        step (CHGNet batches them into one graph batch; other models are called one
        structure at a time inside the same loop)."""
        _check_task(task)
        results: dict[int, CalcResult] = {}
        failures: dict[int, str] = {}
        for s, index in _groups(self, structures, settings):
            def done(k: int, result: CalcResult, index=index) -> None:
                results[index[k]] = result
                if on_result is not None:
                    on_result(index[k], result)

            try:
                self._run_group([structures[i] for i in index], task, s, done)
            except CalcErrors as exc:
                failures.update({index[k]: e for k, e in exc.failures.items()})
        if failures:
            raise CalcErrors(failures)
        return [results[i] for i in range(len(structures))]

    def _run_group(self, structures: list[Atoms], task: str, s: MlipSettings,
                   on_result: OnResult) -> None:
        """``run_many`` for structures that share the settings ``s``."""
        if task == "relax" and not _batched(s):
            # cell relaxations (bulk references) and ASE's BFGS: one at a time
            each_in_turn(lambda atoms: self._one(atoms, task, s), structures, on_result)
            return
        workers = worker_count(s.workers, s.device, len(structures))
        if task == "relax" and workers > 1:
            run_in_workers(_worker_job, structures, task, s.model_dump(), workers, on_result)
            return
        self._batch(structures, task, s, on_result)

    def _one(self, atoms: Atoms, task: str, s: MlipSettings) -> CalcResult:
        """One structure with the model's ASE calculator (and ASE's optimizer)."""
        _set_threads(s.threads)
        calc, weights = load_calculator(s.model, s.device)
        work = atoms.copy()
        notes = _pseudo_h_warning(atoms)
        t0 = time.perf_counter()
        if task == "relax":
            info = relax_with_calculator(work, calc, s.fmax, s.max_steps, s.optimizer,
                                         bool(s.relax_cell))
            if not info["converged"]:
                notes.append(f"not converged in {info['steps']} steps "
                             f"(fmax {info['fmax']:.3f} eV/Å)")
        else:
            work.calc = calc
            work.get_potential_energy()
            info = {"steps": 0, "energies": [], "converged": True}
        energy = float(work.get_potential_energy())
        forces = np.asarray(work.get_forces())
        final = atoms.copy()
        final.positions = work.positions
        final.cell = work.cell
        return CalcResult(
            engine=self.name, task=task, converged=bool(info["converged"]), energy=energy,
            forces=forces.tolist(), structure=atoms_to_dict(final), steps=info["steps"],
            scf_cycles=0, wall_time=time.perf_counter() - t0, fmax=max_force(forces, work),
            warnings=notes, trajectory_energies=info.get("energies", []),
            provenance=self._provenance(s, weights))

    def _batch(self, structures: Sequence[Atoms], task: str, s: MlipSettings,
               on_result: OnResult | None = None) -> list[CalcResult]:
        """Structures together: one model call per optimizer step for all still active."""
        _set_threads(s.threads)
        calc, weights = load_calculator(s.model, s.device)
        forces_fn = batch_forces(s.model, calc, s.batch_atoms)
        works = [a.copy() for a in structures]
        t0 = time.perf_counter()
        results: dict[int, CalcResult] = {}

        def finish(i: int, info: dict, wall: float | None = None) -> None:
            results[i] = self._batch_result(structures[i], works[i], task, info, s, weights,
                                            time.perf_counter() - t0 if wall is None else wall)
            if on_result is not None:
                on_result(i, results[i])

        if task == "relax":
            options: dict[str, Any] = {"maxstep": s.maxstep}
            if s.optimizer == "LBFGS":
                options["h0"] = s.h0
            BATCHED[s.optimizer](works, forces_fn, s.fmax, s.max_steps, on_done=finish,
                                 **options)
        else:  # one model call for all: each single point's wall time is its share
            energies, forces = forces_fn(works)
            share = (time.perf_counter() - t0) / max(1, len(works))
            for i, (e, f) in enumerate(zip(energies, forces, strict=True)):
                finish(i, {"steps": 0, "converged": True, "energies": [], "energy": e,
                           "forces": f}, share)
        return [results[i] for i in range(len(works))]

    def _batch_result(self, orig: Atoms, work: Atoms, task: str, info: dict,
                      s: MlipSettings, weights: Path | None, wall: float) -> CalcResult:
        final = orig.copy()
        final.positions = work.positions
        notes = _pseudo_h_warning(orig)
        if info.get("pruned"):
            notes.append(f"pruned after {info['steps']} steps: energy "
                         f"{info['energy']:.3f} eV above the limit "
                         f"{orig.info['prune_above']:.3f} eV (workflow.prune_starts)")
        elif not info["converged"]:
            notes.append(f"not converged in {info['steps']} steps")
        forces = np.asarray(info["forces"])
        return CalcResult(
            engine=self.name, task=task, converged=bool(info["converged"]),
            energy=float(info["energy"]), forces=forces.tolist(),
            structure=atoms_to_dict(final), steps=info["steps"], wall_time=wall,
            fmax=max_force(forces, work), warnings=notes,
            trajectory_energies=info["energies"], pruned=bool(info.get("pruned")),
            provenance=self._provenance(s, weights, batched=True))

    def _provenance(self, s: MlipSettings, weights: Path | None, batched: bool = False
                    ) -> dict:
        return {"engine": self.name, "model": s.model,
                "model_description": model_description(s.model),
                "package": model_package(s.model),
                "package_version": package_version(model_package(s.model)),
                "weights": weights.name if weights else None,
                "weights_sha256": weights_checksum(str(weights) if weights else None),
                "settings": s.model_dump(exclude_none=True), "batched": batched}


def _worker_job(atoms: Atoms, task: str, settings: dict) -> CalcResult:
    """What a worker process runs for one structure (``workers.run_in_workers``)."""
    return ENGINE.run_many([atoms], task, settings)[0]


def _groups(engine: MlipEngine, structures: Sequence[Atoms], settings: Mapping[str, Any]
            ) -> list[tuple[MlipSettings, list[int]]]:
    """The structures' indices grouped by the settings they run with, in order of first
    appearance (one group when ``settings`` are complete)."""
    groups: dict[str, tuple[MlipSettings, list[int]]] = {}
    for i, atoms in enumerate(structures):
        s = engine.settings(atoms, settings)
        groups.setdefault(s.model_dump_json(), (s, []))[1].append(i)
    return list(groups.values())


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"task must be 'relax' or 'single', got {task!r}")


def _batched(s: MlipSettings) -> bool:
    """Whether a relaxation with these settings runs in facetflow's own (batched)
    optimizers: FIRE or LBFGS, fixed cell."""
    return s.optimizer in BATCHED and not s.relax_cell


def _set_threads(threads: int | None) -> None:
    """PyTorch's CPU threads for this process (None: leave PyTorch's choice)."""
    if threads:
        import torch  # seconds to import: only once a model runs

        torch.set_num_threads(int(threads))


def _pseudo_h_warning(atoms: Atoms) -> list[str]:
    if "pseudo_h_charge" in atoms.arrays and np.any(atoms.arrays["pseudo_h_charge"] > 0):
        return ["pseudo-hydrogens treated as ordinary H by the ML potential"]
    return []


ENGINE = MlipEngine()
