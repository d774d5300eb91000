"""The embedded default engine: a universal machine-learned interatomic potential whose
weights ship inside its PyPI wheel, so it runs offline.

Models: ``chgnet`` (CHGNet 0.3.0 from chgnet 0.4.2), ``sevennet-0`` and
``sevennet-l3i5`` (from sevenn). Pseudo-hydrogens are plain H atoms for these models
(they have no fractional-charge H); they sit in the fixed bottom region of a slab, so
the approximation only affects absolute energies of the passivated face, which cancel
in facet energy differences. Results carry a warning saying so.
"""

from __future__ import annotations

import contextlib
import io
import time
import warnings
from collections.abc import Callable
from functools import cache
from importlib import metadata
from pathlib import Path

import numpy as np
from ase import Atoms

from facetflow.engines.base import (
    CalcResult,
    EngineUnavailable,
    atoms_to_dict,
    max_force,
    sha256_of,
)
from facetflow.engines.batch import batched_fire, batched_lbfgs
from facetflow.engines.optimize import relax_with_calculator
from facetflow.engines.workers import run_in_workers, worker_count

MODELS = {
    "chgnet": ("chgnet", "CHGNet 0.3.0 (MPtrj, PBE/PBE+U)"),
    "sevennet-0": ("sevenn", "SevenNet-0 (MPtrj, PBE/PBE+U)"),
    "sevennet-l3i5": ("sevenn", "SevenNet-l3i5 (MPtrj, PBE/PBE+U)"),
}
BATCHED = {"FIRE": batched_fire, "LBFGS": batched_lbfgs}  # optimizers run as one batch
SEVENNET_KEYS = {"sevennet-0": "7net-0", "sevennet-l3i5": "7net-l3i5"}


def _package_version(pkg: str) -> str | None:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return None


@cache
def load_calculator(model: str, device: str = "cpu"):
    """An ASE calculator for ``model`` (cached per process), and its weight file.
    The packages' start-up chatter on stdout is kept out of facetflow's output."""
    with contextlib.redirect_stdout(io.StringIO()):
        return _load_calculator(model, device)


def _load_calculator(model: str, device: str):
    if model not in MODELS:
        raise EngineUnavailable("mlip", f"unknown model {model!r}; known: {', '.join(MODELS)}")
    pkg = MODELS[model][0]
    if _package_version(pkg) is None:
        raise EngineUnavailable("mlip", f"model {model!r} needs the Python package {pkg!r}: "
                                "reinstall facetflow (scripts/install.sh)")
    if pkg == "chgnet":
        from chgnet.model import CHGNet
        from chgnet.model.dynamics import CHGNetCalculator

        from facetflow.engines.chgnet_graph import use_array_graphs

        net = CHGNet.load(verbose=False)
        use_array_graphs(net)  # the same graphs, built ~10x faster (chgnet_graph.py)
        calc = CHGNetCalculator(model=net, use_device=device)
        import chgnet

        weights = next(Path(chgnet.__file__).parent.glob("pretrained/0.3.0/*.pth.tar"), None)
    else:
        from sevenn.calculator import SevenNetCalculator

        calc = SevenNetCalculator(SEVENNET_KEYS[model], device=device)
        import sevenn

        weights = next((p for p in Path(sevenn.__file__).parent.rglob("checkpoint_*.pth")
                        if SEVENNET_KEYS[model].split("-")[-1] in p.parent.name), None)
    return calc, weights


@cache
def _weights_checksum(path: str | None) -> str | None:
    return sha256_of(Path(path)) if path else None


class MlipEngine:
    name = "mlip"

    def available(self) -> tuple[bool, str]:
        found = [m for m, (pkg, _) in MODELS.items() if _package_version(pkg)]
        if not found:
            return False, "no ML potential installed: reinstall facetflow (scripts/install.sh)"
        return True, "models: " + ", ".join(found)

    def identity(self, model: str | None = None) -> str:
        """Package version and model: the weights ship inside that package version."""
        model = model or "chgnet"
        pkg = MODELS.get(model, (model,))[0]
        return f"{pkg} {_package_version(pkg)} {model}"

    def run(self, atoms: Atoms, task: str, settings: dict) -> CalcResult:
        """Relax (``task="relax"``) or evaluate (``"single"``) one structure. Slab and
        molecule relaxations with a batched optimizer take the same path as ``run_many``
        (so a calculation gives the same result alone or in a batch); cell relaxations and
        ``BFGS`` use ASE's optimizers."""
        if task == "relax" and _batched(settings):
            return self.run_many([atoms], task, {**settings, "workers": 1})[0]
        model = settings.get("model", "chgnet")
        _set_threads(settings.get("threads"))
        calc, weights = load_calculator(model, settings.get("device", "cpu"))
        work = atoms.copy()
        warnings = _pseudo_h_warning(atoms)
        t0 = time.perf_counter()
        if task == "relax":
            info = relax_with_calculator(work, calc, float(settings.get("fmax", 0.05)),
                                         int(settings.get("max_steps", 400)),
                                         settings.get("optimizer", "FIRE"),
                                         bool(settings.get("relax_cell", False)))
            if not info["converged"]:
                warnings.append(f"not converged in {info['steps']} steps "
                                f"(fmax {info['fmax']:.3f} eV/Å)")
        elif task == "single":
            work.calc = calc
            work.get_potential_energy()
            info = {"steps": 0, "energies": [], "converged": True}
        else:
            raise ValueError(f"task must be 'relax' or 'single', got {task!r}")
        energy = float(work.get_potential_energy())
        forces = np.asarray(work.get_forces())
        wall = time.perf_counter() - t0
        final = atoms.copy()
        final.positions = work.positions
        final.cell = work.cell
        return CalcResult(
            engine=self.name, task=task, converged=bool(info["converged"]), energy=energy,
            forces=forces.tolist(), structure=atoms_to_dict(final), steps=info["steps"],
            scf_cycles=0, wall_time=wall, fmax=max_force(forces, work), warnings=warnings,
            trajectory_energies=info.get("energies", []),
            provenance=self._provenance(model, weights, settings))

    def run_many(self, structures: list[Atoms], task: str, settings: dict,
                 on_result: Callable[[int, CalcResult], None] | None = None
                 ) -> list[CalcResult]:
        """Relax or single-point many structures. ``on_result(index, result)`` is called
        as each structure finishes, in this process.

        On a CPU, relaxations are shared out to ``workers`` processes (``auto``: one per
        usable core, memory permitting), each relaxing one structure at a time with its
        own share of the cores: on CPUs, batching structures into one model call saves
        nothing per atom, while two single-threaded processes do twice the work of one
        two-threaded one in about 1.2x the time (``benchmarks/README.md``). A structure's
        result does not depend on which worker ran it or on what else was running. On a
        GPU, all unconverged structures go through one batched model call per optimizer
        step (CHGNet batches them into one graph batch; other models are called one
        structure at a time inside the same loop)."""
        if task == "relax" and not _batched(settings):
            # cell relaxations (bulk references) and other optimizers: one at a time
            results = []
            for i, a in enumerate(structures):
                results.append(self.run(a, task, settings))
                if on_result is not None:
                    on_result(i, results[-1])
            return results
        workers = worker_count(settings, len(structures))
        if task == "relax" and workers > 1:
            return run_in_workers(structures, task, settings, workers, on_result)
        model = settings.get("model", "chgnet")
        _set_threads(settings.get("threads"))
        calc, weights = load_calculator(model, settings.get("device", "cpu"))
        forces_fn = _batch_forces(model, calc, int(settings.get("batch_atoms", 600)))
        works = [a.copy() for a in structures]
        t0 = time.perf_counter()
        results: dict[int, CalcResult] = {}

        def finish(i: int, info: dict) -> None:
            orig, work = structures[i], works[i]
            final = orig.copy()
            final.positions = work.positions
            warnings = _pseudo_h_warning(orig)
            if not info["converged"]:
                warnings.append(f"not converged in {info['steps']} steps")
            forces = np.asarray(info["forces"])
            results[i] = CalcResult(
                engine=self.name, task=task, converged=bool(info["converged"]),
                energy=float(info["energy"]), forces=forces.tolist(),
                structure=atoms_to_dict(final), steps=info["steps"],
                wall_time=time.perf_counter() - t0, fmax=max_force(forces, work),
                warnings=warnings, trajectory_energies=info["energies"],
                provenance=self._provenance(model, weights, settings, batched=True))
            if on_result is not None:
                on_result(i, results[i])

        if task == "relax":
            optimizer = settings.get("optimizer", "FIRE")
            options = {"maxstep": float(settings.get("maxstep", 0.2))}
            if optimizer == "LBFGS":
                options["h0"] = settings.get("h0", "fixed")
            BATCHED[optimizer](works, forces_fn, float(settings.get("fmax", 0.05)),
                               int(settings.get("max_steps", 400)), on_done=finish, **options)
        else:
            energies, forces = forces_fn(works)
            for i, (e, f) in enumerate(zip(energies, forces, strict=True)):
                finish(i, {"steps": 0, "converged": True, "energies": [], "energy": e,
                           "forces": f})
        return [results[i] for i in range(len(works))]

    def _provenance(self, model: str, weights, settings: dict, batched: bool = False) -> dict:
        return {"engine": self.name, "model": model, "model_description": MODELS[model][1],
                "package": MODELS[model][0],
                "package_version": _package_version(MODELS[model][0]),
                "weights": weights.name if weights else None,
                "weights_sha256": _weights_checksum(str(weights) if weights else None),
                "settings": dict(settings), "batched": batched}


def _batched(settings: dict) -> bool:
    """Whether a relaxation with these settings runs in facetflow's own (batched)
    optimizers: FIRE or LBFGS, fixed cell."""
    return (settings.get("optimizer", "FIRE") in BATCHED
            and not settings.get("relax_cell", False))


def _set_threads(threads) -> None:
    if threads:
        import torch

        torch.set_num_threads(int(threads))


def _pseudo_h_warning(atoms: Atoms) -> list[str]:
    if "pseudo_h_charge" in atoms.arrays and np.any(atoms.arrays["pseudo_h_charge"] > 0):
        return ["pseudo-hydrogens treated as ordinary H by the ML potential"]
    return []


def _batch_forces(model: str, calc, batch_atoms: int = 600):
    """A function mapping a list of Atoms to (energies in eV, forces in eV/Å).

    CHGNet evaluates consecutive structures together in model calls of at most
    ``batch_atoms`` atoms (a larger structure goes alone): on CPU, bigger graph batches
    stop paying off and their autograd buffers grow with the batch (memory), so the
    budget is in atoms, not structures. Other models: one structure per call."""
    if model == "chgnet":
        from pymatgen.io.ase import AseAtomsAdaptor

        net = calc.model
        net.eval()

        def forces_fn(batch):
            energies, forces = [], []
            for group in atom_chunks([len(a) for a in batch], batch_atoms):
                graphs = [net.graph_converter(AseAtomsAdaptor.get_structure(_plain(batch[i])))
                          for i in group]
                e, f = chgnet_energy_forces(net, graphs)
                energies += e
                forces += f
            return energies, forces
    else:
        def forces_fn(batch):
            energies, forces = [], []
            for a in batch:
                a.calc = calc
                energies.append(float(a.get_potential_energy()))
                forces.append(np.asarray(a.get_forces()))
            return energies, forces
    return forces_fn


def chgnet_energy_forces(net, graphs) -> tuple[list[float], list[np.ndarray]]:
    """Total energies (eV) and forces (eV/Å, F = -dE/dr) of CHGNet crystal graphs in one
    model call.

    The same numbers as ``CHGNet.predict_graph(task="ef")`` (to float32 round-off), but the
    forces come from a plain first derivative: CHGNet's own prediction path keeps the
    autograd graph of the forces (``create_graph=True``, needed to train on forces), which
    more than doubles the cost of a call and its memory when only relaxing. Written against
    chgnet 0.4.2's ``BatchedGraph`` and ``CHGNet._compute`` (the version pinned in
    pyproject.toml); the engine tests compare the two paths."""
    import torch
    from chgnet.model.model import BatchedGraph

    device = next(net.parameters()).device
    graphs = [g.to(device) for g in graphs]
    with warnings.catch_warnings():  # CHGNet's own internal tensor warning
        warnings.filterwarnings("ignore", message="Converting a tensor")
        batched = BatchedGraph.from_graphs(
            graphs, bond_basis_expansion=net.bond_basis_expansion,
            angle_basis_expansion=net.angle_basis_expansion, compute_stress=False)
    pred = net._compute(batched, compute_force=False)
    # model energy plus the composition model's fixed per-element reference (no position
    # dependence); per atom for the intensive CHGNet, so times the atom count
    e = pred["e"] + (0 if net.composition_model is None else net.composition_model(graphs))
    total = e * pred["atoms_per_graph"] if net.is_intensive else e
    grads = torch.autograd.grad(total.sum(), batched.atom_positions)
    return ([float(x) for x in total.detach().cpu()],
            [-g.detach().cpu().numpy().astype(float) for g in grads])


def atom_chunks(sizes: list[int], budget: int) -> list[list[int]]:
    """Consecutive index groups whose atom counts sum to at most ``budget`` (a structure
    larger than the budget forms a group of its own)."""
    groups: list[list[int]] = []
    total = 0
    for i, n in enumerate(sizes):
        if groups and total + n <= budget:
            groups[-1].append(i)
            total += n
        else:
            groups.append([i])
            total = n
    return groups


def _plain(atoms: Atoms) -> Atoms:
    """Atoms without facetflow arrays or constraints (for conversion to pymatgen)."""
    return Atoms(atoms.get_chemical_symbols(), positions=atoms.positions, cell=atoms.cell,
                 pbc=atoms.pbc)


ENGINE = MlipEngine()
