"""The model-specific half of fine-tuning (``engines.finetune``): one ``Tuner`` per
foundation model, which evaluates frames, shifts the composition energies, trains one
epoch and writes the model file. The physics of the steps (composition refit, pseudo-H
labels, early stopping) lives in ``engines.finetune``; the loss is the same for every
model: energy_weight * MSE(E/N) (eV/atom)² + force_weight * MSE(F) (eV/Å)², Adam with a
cosine learning rate over the most epochs.

* ``chgnet``: CHGNet 0.3.0, trained by chgnet's own ``Trainer``; the composition
  energies are its AtomRef layer; written in CHGNet's checkpoint format (``*.pth.tar``).
* ``sevennet-0``, ``sevennet-l3i5``: SevenNet checkpoints from the sevenn wheel,
  trained on batched ``AtomGraphData`` graphs (forces from the model's own autograd
  output, kept differentiable in training mode); the composition energies are the
  per-species shift of its ``rescale_atomic_energy`` layer; written as a SevenNet
  checkpoint (``*.pth``: the stock configuration and the trained weights, no optimiser
  state), which ``SevenNetCalculator`` reads.
"""

from __future__ import annotations

import contextlib
import copy
import io
import time
from pathlib import Path

import numpy as np
from ase import Atoms

from facetflow.engines.base import EngineUnavailable

SEVENNET_TUNABLE = {"sevennet-0": "7net-0", "sevennet-l3i5": "7net-l3i5"}
FINETUNABLE = ("chgnet", *SEVENNET_TUNABLE)


def tuner(base_model: str, frames: list[Atoms]):
    """The ``Tuner`` of ``base_model`` over ``frames`` (graphs built once)."""
    if base_model == "chgnet":
        return ChgnetTuner(frames)
    if base_model in SEVENNET_TUNABLE:
        return SevennetTuner(base_model, frames)
    raise EngineUnavailable("mlip", f"fine-tuning {base_model!r} is not supported; "
                            f"supported: {', '.join(FINETUNABLE)}")


class ChgnetTuner:
    """CHGNet 0.3.0 (module docstring)."""

    file = "model.pth.tar"
    package = "chgnet"

    def __init__(self, frames: list[Atoms]):
        with contextlib.redirect_stdout(io.StringIO()):
            from chgnet.model import CHGNet

            self.net = CHGNet.load(verbose=False)
        self.structures = [_structure(a) for a in frames]
        self.trainer = self.loader = None

    def predict(self, idx: list[int]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Total energies (eV) and forces (eV/Å) of the frames ``idx``."""
        structures = [self.structures[i] for i in idx]
        with contextlib.redirect_stdout(io.StringIO()):
            preds = self.net.predict_structure(structures, task="ef", batch_size=4)
        preds = preds if isinstance(preds, list) else [preds]
        return (np.array([float(p["e"]) * len(s) for p, s in zip(preds, structures,
                                                                    strict=True)]),
                [np.asarray(p["f"]) for p in preds])

    def shift(self, delta: dict[str, float]) -> None:
        """Add ``delta`` (eV/atom by element) to the AtomRef composition energies."""
        import torch
        from pymatgen.core import Element

        with torch.no_grad():
            weight = self.net.composition_model.fc.weight
            for el, d in delta.items():
                weight[0, Element(el).Z - 1] += float(d)

    def start(self, frames: list[Atoms], train: list[int], s) -> None:
        """chgnet's Trainer over the training frames; ``s.layers`` picks what trains."""
        from chgnet.data.dataset import StructureData, collate_graphs
        from chgnet.trainer import Trainer
        from torch.utils.data import DataLoader

        with contextlib.redirect_stdout(io.StringIO()):  # chgnet prints what it imported
            self.trainer = Trainer(
                model=self.net, targets="ef", optimizer="Adam", scheduler="CosLR",
                criterion="MSE", epochs=s.epochs, learning_rate=s.learning_rate,
                energy_loss_ratio=s.energy_weight, force_loss_ratio=s.force_weight,
                use_device="cpu", print_freq=10**6, torch_seed=s.seed)
            data = StructureData(
                [self.structures[i] for i in train],
                [frames[i].get_potential_energy() / len(frames[i]) for i in train],
                [frames[i].get_forces().tolist() for i in train], shuffle=False)
        self.loader = DataLoader(data, batch_size=s.batch_size, shuffle=True,
                                 collate_fn=collate_graphs)
        for name, p in self.net.named_parameters():
            p.requires_grad = (not name.startswith("composition_model.")
                               and (s.layers == "all" or name.startswith("mlp.")))

    def epoch(self, n: int) -> None:
        """Train one epoch (``n`` counts from 1)."""
        with contextlib.redirect_stdout(io.StringIO()):
            self.trainer._train(self.loader, n - 1)

    def state(self) -> dict:
        return copy.deepcopy(self.net.state_dict())

    def restore(self, state: dict) -> None:
        self.net.load_state_dict(state)

    def save(self, path: Path) -> None:
        import torch

        torch.save({"model": self.net.as_dict()}, path)


class SevennetTuner:
    """A SevenNet checkpoint of the sevenn wheel (module docstring)."""

    file = "model.pth"
    package = "sevenn"
    readout = ("reduce_input_to_hidden.", "reduce_hidden_to_energy.")  # layers: readout

    def __init__(self, base_model: str, frames: list[Atoms]):
        import sevenn._keys as key
        from sevenn.util import load_checkpoint, pretrained_name_to_path

        self.checkpoint = load_checkpoint(pretrained_name_to_path(SEVENNET_TUNABLE[base_model]))
        with contextlib.redirect_stdout(io.StringIO()):
            self.model = self.checkpoint.build_model()
        self.key = key
        cutoff = float(self.model.cutoff)
        self.graphs = [self._graph(a, cutoff) for a in frames]
        self.optimizer = self.scheduler = None
        self.train_batches: tuple[list[int], int] = ([], 1)  # frames, batch size
        self.weights = (1.0, 1.0)

    def _graph(self, atoms: Atoms, cutoff: float):
        import torch
        from sevenn.atom_graph_data import AtomGraphData
        from sevenn.train.dataload import unlabeled_atoms_to_graph

        plain = Atoms(atoms.get_chemical_symbols(), positions=atoms.positions,
                      cell=atoms.cell, pbc=True)
        g = AtomGraphData.from_numpy_dict(unlabeled_atoms_to_graph(plain, cutoff,
                                                                   with_shift=False))
        g[self.key.ENERGY] = torch.tensor([atoms.get_potential_energy()],
                                          dtype=torch.float32)
        g[self.key.FORCE] = torch.tensor(atoms.get_forces(), dtype=torch.float32)
        return g

    def _batches(self, idx: list[int], size: int, shuffle: bool = False):
        from torch_geometric.loader import DataLoader

        return DataLoader([self.graphs[i] for i in idx], batch_size=size, shuffle=shuffle)

    def predict(self, idx: list[int]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Total energies (eV) and forces (eV/Å) of the frames ``idx``."""
        k = self.key
        self.model.eval()
        self.model.set_is_batch_data(True)
        energies, forces = [], []
        for b in self._batches(idx, 8):
            out = self.model(b)
            energies += out[k.PRED_TOTAL_ENERGY].detach().reshape(-1).tolist()
            f = out[k.PRED_FORCE].detach().numpy().astype(float)
            forces += np.split(f, np.cumsum(b[k.NUM_ATOMS].tolist())[:-1])
        return np.array(energies), forces

    def shift(self, delta: dict[str, float]) -> None:
        """Add ``delta`` (eV/atom by element) to the per-species energy shift."""
        import torch
        from ase.data import atomic_numbers

        rescale = self.model._modules["rescale_atomic_energy"]
        with torch.no_grad():
            for el, d in delta.items():
                rescale.shift[self.model.type_map[atomic_numbers[el]]] += float(d)

    def start(self, frames: list[Atoms], train: list[int], s) -> None:
        """Adam with a cosine learning rate; ``s.layers`` picks what trains (never the
        per-species shift and scale)."""
        import torch

        for i in train:  # the labels as relabelled (pseudo-H)
            self.graphs[i][self.key.ENERGY] = torch.tensor(
                [frames[i].get_potential_energy()], dtype=torch.float32)
        torch.manual_seed(s.seed)
        params = []
        for name, p in self.model.named_parameters():
            p.requires_grad = (not name.startswith("rescale_atomic_energy.")
                               and (s.layers == "all" or name.startswith(self.readout)))
            if p.requires_grad:
                params.append(p)
        self.optimizer = torch.optim.Adam(params, lr=s.learning_rate)
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer,
                                                                    T_max=s.epochs)
        self.train_batches = (train, s.batch_size)
        self.weights = (s.energy_weight, s.force_weight)

    def epoch(self, n: int) -> None:
        """Train one epoch (``n`` counts from 1): the loss of the module docstring."""
        k = self.key
        self.model.train()
        self.model.set_is_batch_data(True)
        for b in self._batches(*self.train_batches, shuffle=True):
            self.optimizer.zero_grad()
            out = self.model(b)
            n_atoms = b[k.NUM_ATOMS].float()
            e = (out[k.PRED_TOTAL_ENERGY].reshape(-1) - b[k.ENERGY].reshape(-1)) / n_atoms
            f = out[k.PRED_FORCE] - b[k.FORCE]
            loss = self.weights[0] * (e ** 2).mean() + self.weights[1] * (f ** 2).mean()
            loss.backward()
            self.optimizer.step()
        self.scheduler.step()

    def state(self) -> dict:
        return copy.deepcopy(self.model.state_dict())

    def restore(self, state: dict) -> None:
        self.model.load_state_dict(state)

    def save(self, path: Path) -> None:
        """A checkpoint of these weights with the stock model's configuration as this
        sevenn reads it, stamped with this sevenn's version: the weights are already in
        its layout, so loading must not convert them again as it converts older
        checkpoints (SevenNet-0's own file is one)."""
        import sevenn
        import torch

        config = self.checkpoint.config
        config["version"] = sevenn.__version__
        torch.save({"config": config, "model_state_dict": self.model.state_dict(),
                    "time": time.strftime("%Y-%m-%d %H:%M:%S"),
                    "hash": "facetflow-finetune"}, path)


def _structure(atoms: Atoms):
    """A pymatgen Structure of a frame (molecules keep their box, periodic)."""
    from pymatgen.io.ase import AseAtomsAdaptor

    plain = Atoms(atoms.get_chemical_symbols(), positions=atoms.positions,
                  cell=atoms.cell, pbc=True)
    return AseAtomsAdaptor.get_structure(plain)
