"""Fine-tuning the embedded ML potential on DFT frames (``facetflow finetune``).

Supported: ``chgnet`` (CHGNet 0.3.0 from chgnet 0.4.2), ``sevennet-0`` and
``sevennet-l3i5`` (from sevenn); what differs between them lives in
``engines.finetune_models``. The steps:

1. Composition energies. A DFT code's total energies sit on its own absolute scale
   (PAW setups, pseudopotentials), not MPtrj's. The residuals R_f = E_DFT,f - E_model,f
   of the training frames are fitted by least squares as R_f = sum_el n_el,f delta_el,
   and delta_el (eV/atom) is added to the model's composition reference energies
   (CHGNet's AtomRef, SevenNet's per-species shift): reaction energies are unchanged
   by it, absolute energies align.
   Pseudo-hydrogens (``pseudo_h_charge`` > 0) are a species of their own in that fit;
   the model sees them as H, so their frames' energies are put on H's footing first
   (``_pseudo_h_labels``), or the network would be trained to absorb an offset that no
   reaction energy contains.
2. Training of the network on energies per atom and forces (MSE loss, Adam, cosine
   learning rate), the composition energies frozen (``layers: all``: every other weight
   trains; ``readout``: only the readout layers that map the learned atom features to
   energies, the representation kept), with early stopping
   on the validation frames' relative energy MAE (the energy error left once a
   per-element shift is removed: what reaction energies see) after ``patience`` epochs
   without improvement; the best weights are kept, the starting ones included, so a
   fine-tuning that only hurts the validation frames returns the stock network.
   The composition energies are refitted once more after training (the trained network
   moves the absolute scale a little), so the model's absolute energies stay on the DFT
   code's scale.
3. Split by structure family (``info["family"]`` of the frames: study and facet), never
   frames of one structure on both sides; with a single family, by structure.

The model file is the base model's own checkpoint format (CHGNet: ``model.pth.tar``,
SevenNet: ``model.pth``); its sha256 is what enters the hash of every calculation that
uses it (``engines.mlip``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from facetflow.engines.finetune_models import FINETUNABLE, tuner
from facetflow.engines.mlip_models import package_version, weights_checksum
from facetflow.records.model_card import Errors, ModelCard

log = logging.getLogger(__name__)

TRAINABLE = ("all", "readout")  # TrainSettings.layers
CARD_FILE = "model_card.json"
__all__ = ["FINETUNABLE", "TRAINABLE", "TrainSettings", "finetune", "split_by_family"]


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
    results); write ``out/<model file>`` and ``out/model_card.json``; return the card."""
    if len(frames) < 2:
        raise ValueError(f"fine-tuning needs at least two DFT frames, got {len(frames)}")
    settings = settings or TrainSettings()
    if settings.layers not in TRAINABLE:
        raise ValueError(f"layers: {settings.layers!r} is not one of {', '.join(TRAINABLE)}")
    t0 = time.perf_counter()
    import torch

    torch.manual_seed(settings.seed)
    net = tuner(base_model, frames)
    train, val = split_by_family(frames, settings.val_fraction, settings.seed)
    stock, _ = net.predict(train)  # the stock model, once
    frames, pseudo = _pseudo_h_labels(frames, train, stock)
    e_dft = np.array([a.get_potential_energy() for a in frames])
    errors = {"stock_train": _errors(net, frames, train),
              "stock_val": _errors(net, frames, val)}
    shift = _refit_composition(net, frames, e_dft, train, stock)
    errors["shifted_train"] = _errors(net, frames, train)
    errors["shifted_val"] = _errors(net, frames, val)
    start = errors["shifted_val" if val else "shifted_train"].relative_energy_mae_eV_atom
    epochs, best = _train(net, frames, train, val, settings, start)
    tuned, _ = net.predict(train)
    again = _refit_composition(net, frames, e_dft, train, tuned)  # training moves the scale
    shift = {el: shift.get(el, 0.0) + again.get(el, 0.0) for el in sorted({*shift, *again})}
    errors["finetuned_train"] = _errors(net, frames, train)
    errors["finetuned_val"] = _errors(net, frames, val)
    return _write(net, out, base_model, settings, shift, epochs, best, errors,
                  {**(data or {}), **_split_data(frames, train, val),
                   "pseudo_h_offset_eV": pseudo},
                  time.perf_counter() - t0)


def _errors(net, frames: list[Atoms], idx: list[int]) -> Errors:
    """Errors of the tuner ``net`` on the frames ``idx``."""
    if not idx:
        return Errors(frames=0, energy_mae_eV_atom=float("nan"), energy_mae_eV=float("nan"),
                      force_mae_eV_A=float("nan"))
    e, f = net.predict(idx)
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
    step 1) from the model's energies ``e_model`` of the training frames, applied to the
    tuner ``net``; returns them by element (eV/atom)."""
    elements, counts = _counts([frames[i] for i in train], pseudo=False)
    delta, *_ = np.linalg.lstsq(counts, e_dft[train] - e_model, rcond=None)
    shift = {el: float(d) for el, d in zip(elements, delta, strict=True)}
    net.shift(shift)
    return shift


def _train(net, frames: list[Atoms], train: list[int], val: list[int], s: TrainSettings,
           start_mae: float) -> tuple[int, int]:
    """Train one epoch at a time, early stopping on the validation frames' relative
    energy MAE (``_relative_mae``: what reaction energies see, blind to the composition
    energies a held-out family's new elements or pseudo-H cannot share with the training
    set); the tuner ends with the best weights, the starting ones included. ``start_mae``
    is that error of the starting weights. Returns (epochs run, epochs trained by the
    kept weights)."""
    net.start(frames, train, s)
    watch = val or train
    best, best_mae, best_state, epoch = 0, start_mae, net.state(), 0
    for epoch in range(1, s.epochs + 1):
        net.epoch(epoch)
        mae = _errors(net, frames, watch).relative_energy_mae_eV_atom
        log.info("fine-tuning epoch %d: validation relative energy MAE %.4f eV/atom",
                 epoch, mae)
        if mae < best_mae:
            best, best_mae, best_state = epoch, mae, net.state()
        elif epoch - best >= s.patience:
            break
    net.restore(best_state)
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

    out.mkdir(parents=True, exist_ok=True)
    part = out / (net.file + ".part")
    net.save(part)
    part.replace(out / net.file)
    digest = weights_checksum.__wrapped__(str(out / net.file))
    card = ModelCard(base_model=base, file=net.file, sha256=digest, data=data,
                     composition_shift_eV=shift, hyperparameters=dataclasses.asdict(s),
                     epochs_run=epochs, best_epoch=best, errors=errors, wall_time_s=wall,
                     versions={"facetflow": package_version("facetflow"),
                               net.package: package_version(net.package),
                               "torch": package_version("torch")})
    tmp = out / (CARD_FILE + ".part")
    tmp.write_text(card.model_dump_json(by_alias=True, indent=1))
    tmp.replace(out / CARD_FILE)
    return card
