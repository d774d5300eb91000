"""Fine-tuning the embedded ML potential on DFT frames (``facetflow finetune``).

Supported: ``chgnet`` (CHGNet 0.3.0 from chgnet 0.4.2). The steps:

1. Composition energies. A DFT code's total energies sit on its own absolute scale
   (PAW setups, pseudopotentials), not MPtrj's. The residuals R_f = E_DFT,f - E_model,f
   of the training frames are fitted by least squares as R_f = sum_el n_el,f delta_el,
   and delta_el (eV/atom) is added to the model's composition reference energies
   (CHGNet's AtomRef): reaction energies are unchanged by it, absolute energies align.
   Pseudo-hydrogens (``pseudo_h_charge`` > 0) are a species of their own in that fit;
   the model sees them as H, so their frames' energies are put on H's footing first
   (``_pseudo_h_labels``), or the network would be trained to absorb an offset that no
   reaction energy contains.
2. Training of the network on energies per atom and forces (CHGNet's own trainer, MSE
   loss, Adam, cosine learning rate), the composition model frozen (``layers: all``:
   every other weight trains; ``readout``: only the readout MLP that maps the learned
   atom features to energies, the representation kept), with early stopping
   on the validation frames' relative energy MAE (the energy error left once a
   per-element shift is removed: what reaction energies see) after ``patience`` epochs
   without improvement; the best weights are kept, the starting ones included, so a
   fine-tuning that only hurts the validation frames returns the stock network.
   The composition energies are refitted once more after training (the trained network
   moves the absolute scale a little), so the model's absolute energies stay on the DFT
   code's scale.
3. Split by structure family (``info["family"]`` of the frames: study and facet), never
   frames of one structure on both sides; with a single family, by structure.

The model file is CHGNet's checkpoint format (``CHGNet.from_file`` reads it); its sha256
is what enters the hash of every calculation that uses it (``engines.mlip``).
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from facetflow.engines.base import EngineUnavailable
from facetflow.engines.mlip_models import package_version, weights_checksum
from facetflow.records.model_card import Errors, ModelCard

log = logging.getLogger(__name__)

FINETUNABLE = ("chgnet",)
TRAINABLE = ("all", "readout")  # TrainSettings.layers
MODEL_FILE = "model.pth.tar"
CARD_FILE = "model_card.json"


@dataclass(frozen=True)
class TrainSettings:
    """Hyperparameters of one fine-tuning (learning rate per Adam step; loss weights of
    energy per atom (eV/atom) and force components (eV/Å))."""

    epochs: int = 60
    patience: int = 8
    learning_rate: float = 3e-4
    batch_size: int = 4
    energy_weight: float = 1.0
    force_weight: float = 1.0
    val_fraction: float = 0.2
    seed: int = 0
    layers: str = "all"  # "all": every weight but the composition model; "readout": the MLP


def split_by_family(frames: list[Atoms], val_fraction: float, seed: int
                    ) -> tuple[list[int], list[int]]:
    """Indices of the training and validation frames. Whole families go to validation
    (shuffled with ``seed``) until it holds at least ``val_fraction`` of the frames; with
    one family, whole structures do. Never empty on either side when two groups exist."""
    key = "family" if len({a.info.get("family") for a in frames}) > 1 else "structure_id"
    groups: dict[str, list[int]] = {}
    for i, a in enumerate(frames):
        groups.setdefault(str(a.info.get(key, i)), []).append(i)
    names = sorted(groups)
    np.random.default_rng(seed).shuffle(names)
    val: list[int] = []
    for name in names[:-1]:  # the last group always trains
        if len(val) >= val_fraction * len(frames):
            break
        val += groups[name]
    train = sorted(set(range(len(frames))) - set(val))
    return train, sorted(val)


def finetune(frames: list[Atoms], out: Path, base_model: str = "chgnet",
             settings: TrainSettings | None = None, data: dict | None = None) -> ModelCard:
    """Fine-tune ``base_model`` on ``frames`` (energy and forces as their calculator's
    results); write ``out/model.pth.tar`` and ``out/model_card.json``; return the card."""
    if base_model not in FINETUNABLE:
        raise EngineUnavailable("mlip", f"fine-tuning {base_model!r} is not supported; "
                                f"supported: {', '.join(FINETUNABLE)}")
    if len(frames) < 2:
        raise ValueError(f"fine-tuning needs at least two DFT frames, got {len(frames)}")
    settings = settings or TrainSettings()
    if settings.layers not in TRAINABLE:
        raise ValueError(f"layers: {settings.layers!r} is not one of {', '.join(TRAINABLE)}")
    t0 = time.perf_counter()
    import torch

    torch.manual_seed(settings.seed)
    net = _load_chgnet()
    structures = [_structure(a) for a in frames]
    train, val = split_by_family(frames, settings.val_fraction, settings.seed)
    stock, _ = _predict(net, [structures[i] for i in train])  # the stock model, once
    frames, pseudo = _pseudo_h_labels(frames, train, stock)
    e_dft = np.array([a.get_potential_energy() for a in frames])
    errors = {"stock_train": _errors(net, structures, frames, train),
              "stock_val": _errors(net, structures, frames, val)}
    shift = _refit_composition(net, frames, e_dft, train, stock)
    errors["shifted_train"] = _errors(net, structures, frames, train)
    errors["shifted_val"] = _errors(net, structures, frames, val)
    start = errors["shifted_val" if val else "shifted_train"].relative_energy_mae_eV_atom
    epochs, best = _train(net, structures, frames, train, val, settings, start)
    tuned, _ = _predict(net, [structures[i] for i in train])
    again = _refit_composition(net, frames, e_dft, train, tuned)  # training moves the scale
    shift = {el: shift.get(el, 0.0) + again.get(el, 0.0) for el in sorted({*shift, *again})}
    errors["finetuned_train"] = _errors(net, structures, frames, train)
    errors["finetuned_val"] = _errors(net, structures, frames, val)
    return _write(net, out, base_model, settings, shift, epochs, best, errors,
                  {**(data or {}), **_split_data(frames, train, val),
                   "pseudo_h_offset_eV": pseudo},
                  time.perf_counter() - t0)


def _load_chgnet():
    with contextlib.redirect_stdout(io.StringIO()):
        from chgnet.model import CHGNet

        return CHGNet.load(verbose=False)


def _structure(atoms: Atoms):
    """A pymatgen Structure of a frame (molecules keep their box, periodic)."""
    from pymatgen.io.ase import AseAtomsAdaptor

    plain = Atoms(atoms.get_chemical_symbols(), positions=atoms.positions,
                  cell=atoms.cell, pbc=True)
    return AseAtomsAdaptor.get_structure(plain)


def _predict(net, structures: list) -> tuple[np.ndarray, list[np.ndarray]]:
    """Total energies (eV) and forces (eV/Å) of ``structures`` with ``net``."""
    with contextlib.redirect_stdout(io.StringIO()):
        preds = net.predict_structure(structures, task="ef", batch_size=4)
    preds = preds if isinstance(preds, list) else [preds]
    energies = np.array([float(p["e"]) * len(s) for p, s in zip(preds, structures,
                                                                   strict=True)])
    return energies, [np.asarray(p["f"]) for p in preds]


def _errors(net, structures: list, frames: list[Atoms], idx: list[int]) -> Errors:
    """Errors of ``net`` on the frames ``idx``."""
    if not idx:
        return Errors(frames=0, energy_mae_eV_atom=float("nan"), energy_mae_eV=float("nan"),
                      force_mae_eV_A=float("nan"))
    e, f = _predict(net, [structures[i] for i in idx])
    ref = np.array([frames[i].get_potential_energy() for i in idx])
    n = np.array([len(frames[i]) for i in idx])
    df = np.concatenate([(fi - frames[i].get_forces()).ravel()
                         for fi, i in zip(f, idx, strict=True)])
    return Errors(frames=len(idx), energy_mae_eV_atom=float(np.mean(np.abs(e - ref) / n)),
                  energy_mae_eV=float(np.mean(np.abs(e - ref))),
                  force_mae_eV_A=float(np.mean(np.abs(df))),
                  relative_energy_mae_eV_atom=_relative_mae(
                      ref - e, [frames[i] for i in idx]))


def _species(atoms: Atoms, pseudo: bool = True) -> list[str]:
    """Each atom's element; with ``pseudo`` a pseudo-hydrogen as 'H:<charge>' (its
    ``pseudo_h_charge``), a species of its own: DFT gives it another energy than H."""
    symbols = atoms.get_chemical_symbols()
    charge = atoms.arrays.get("pseudo_h_charge")
    if not pseudo or charge is None:
        return symbols
    return [f"H:{q:g}" if el == "H" and q > 0 else el
            for el, q in zip(symbols, charge, strict=True)]


def _counts(frames: list[Atoms], pseudo: bool = True) -> tuple[list[str], np.ndarray]:
    """The species present (sorted) and the atoms of each per frame (``_species``)."""
    per = [_species(a, pseudo) for a in frames]
    names = sorted({sp for f in per for sp in f})
    return names, np.array([[f.count(sp) for sp in names] for f in per], dtype=float)


def _relative_mae(residuals: np.ndarray, frames: list[Atoms]) -> float:
    """MAE per atom (eV/atom) of ``residuals`` (eV, DFT - model) once their least-squares
    per-species part sum_sp n_sp delta_sp is removed (pseudo-H of each charge a species):
    a composition-balanced reaction energy is blind to that part, and sees only what is
    left."""
    _, counts = _counts(frames)
    delta, *_ = np.linalg.lstsq(counts, residuals, rcond=None)
    return float(np.mean(np.abs(residuals - counts @ delta) / counts.sum(axis=1)))


def _pseudo_h_labels(frames: list[Atoms], train: list[int], e_model: np.ndarray
                     ) -> tuple[list[Atoms], dict[str, float]]:
    """The frames with the DFT energy of each pseudo-hydrogen put on real H's footing.

    The model sees a pseudo-H as H; DFT gives it (fractional nuclear charge) an energy
    per atom that differs from H's by an offset no network weight should learn. A least-
    squares fit of the training residuals E_DFT - E_model (``e_model``: the model's
    energies of the training frames ``train``, eV) over the species (``_species``)
    gives delta_sp; each pseudo-H kind k is relabelled by o_k = delta_k - delta_H: E' =
    E_DFT - sum_k n_k o_k. Every reaction keeps its energy (its two sides hold the same
    pseudo-H bottom). Returns the relabelled frames and o_k (eV per pseudo-H atom)."""
    names, counts = _counts([frames[i] for i in train])
    kinds = [n for n in names if n.startswith("H:")]
    if not kinds:
        return frames, {}
    e_dft = np.array([frames[i].get_potential_energy() for i in train])
    delta = dict(zip(names, np.linalg.lstsq(counts, e_dft - e_model, rcond=None)[0],
                     strict=True))
    offset = {k: float(delta[k] - delta.get("H", 0.0)) for k in kinds}
    out = []
    for a in frames:
        species = _species(a)
        shift = sum(offset.get(sp, 0.0) for sp in species)
        b = a.copy()
        b.calc = SinglePointCalculator(b, energy=a.get_potential_energy() - shift,
                                       forces=a.get_forces())
        out.append(b)
    return out, offset


def _refit_composition(net, frames: list[Atoms], e_dft: np.ndarray, train: list[int],
                       e_model: np.ndarray) -> dict[str, float]:
    """Least-squares per-element shifts of the composition energies (module docstring,
    step 1) from ``net``'s energies ``e_model`` of the training frames, applied to
    ``net``; returns them by element (eV/atom)."""
    import torch

    elements, counts = _counts([frames[i] for i in train], pseudo=False)
    delta, *_ = np.linalg.lstsq(counts, e_dft[train] - e_model, rcond=None)
    from pymatgen.core import Element

    with torch.no_grad():
        weight = net.composition_model.fc.weight
        for el, d in zip(elements, delta, strict=True):
            weight[0, Element(el).Z - 1] += float(d)
    return {el: float(d) for el, d in zip(elements, delta, strict=True)}


def _loader(structures: list, frames: list[Atoms], idx: list[int], batch: int,
            shuffle: bool):
    from chgnet.data.dataset import StructureData, collate_graphs
    from torch.utils.data import DataLoader

    with contextlib.redirect_stdout(io.StringIO()):  # chgnet prints what it imported
        data = StructureData(
            [structures[i] for i in idx],
            [frames[i].get_potential_energy() / len(frames[i]) for i in idx],
            [frames[i].get_forces().tolist() for i in idx], shuffle=False)
        return DataLoader(data, batch_size=batch, shuffle=shuffle, collate_fn=collate_graphs)


def _train(net, structures: list, frames: list[Atoms], train: list[int], val: list[int],
           s: TrainSettings, start_mae: float) -> tuple[int, int]:
    """CHGNet's trainer, one epoch at a time, early stopping on the validation frames'
    relative energy MAE (``_relative_mae``: what reaction energies see, blind to the
    composition energies a held-out family's new elements or pseudo-H cannot share with
    the training set); ``net`` ends with the best weights, the starting ones included.
    ``start_mae`` is that error of the starting weights. Returns (epochs run, epochs
    trained by the kept weights)."""
    from chgnet.trainer import Trainer

    with contextlib.redirect_stdout(io.StringIO()):
        trainer = Trainer(model=net, targets="ef", optimizer="Adam", scheduler="CosLR",
                          criterion="MSE", epochs=s.epochs, learning_rate=s.learning_rate,
                          energy_loss_ratio=s.energy_weight, force_loss_ratio=s.force_weight,
                          use_device="cpu", print_freq=10**6, torch_seed=s.seed)
    for name, p in net.named_parameters():
        p.requires_grad = (not name.startswith("composition_model.")
                           and (s.layers == "all" or name.startswith("mlp.")))
    train_loader = _loader(structures, frames, train, s.batch_size, True)
    watch = val or train
    best, best_mae, best_state, epoch = 0, start_mae, copy.deepcopy(net.state_dict()), 0
    for epoch in range(1, s.epochs + 1):
        with contextlib.redirect_stdout(io.StringIO()):
            trainer._train(train_loader, epoch - 1)
        mae = _errors(net, structures, frames, watch).relative_energy_mae_eV_atom
        log.info("fine-tuning epoch %d: validation relative energy MAE %.4f eV/atom",
                 epoch, mae)
        if mae < best_mae:
            best, best_mae, best_state = epoch, mae, copy.deepcopy(net.state_dict())
        elif epoch - best >= s.patience:
            break
    net.load_state_dict(best_state)
    return epoch, best


def _split_data(frames: list[Atoms], train: list[int], val: list[int]) -> dict:
    fams = [str(a.info.get("family")) for a in frames]
    return {"frames": {"train": len(train), "validation": len(val)},
            "families": {"train": sorted({fams[i] for i in train}),
                         "validation": sorted({fams[i] for i in val})}}


def _write(net, out: Path, base: str, s: TrainSettings, shift: dict, epochs: int,
           best: int, errors: dict, data: dict, wall: float) -> ModelCard:
    """Write the model file and its card (temporary names, then renamed)."""
    import dataclasses

    import torch

    out.mkdir(parents=True, exist_ok=True)
    part = out / (MODEL_FILE + ".part")
    torch.save({"model": net.as_dict()}, part)
    part.replace(out / MODEL_FILE)
    digest = weights_checksum.__wrapped__(str(out / MODEL_FILE))
    card = ModelCard(base_model=base, file=MODEL_FILE, sha256=digest, data=data,
                     composition_shift_eV=shift, hyperparameters=dataclasses.asdict(s),
                     epochs_run=epochs, best_epoch=best, errors=errors, wall_time_s=wall,
                     versions={"facetflow": package_version("facetflow"),
                               "chgnet": package_version("chgnet"),
                               "torch": package_version("torch")})
    tmp = out / (CARD_FILE + ".part")
    tmp.write_text(card.model_dump_json(by_alias=True, indent=1))
    tmp.replace(out / CARD_FILE)
    return card

