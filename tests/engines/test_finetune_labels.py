"""The fine-tuning's energy bookkeeping: pseudo-hydrogens as a species of their own, and
the relative energy error that early stopping watches."""

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator


def _frame(n_h: int, n_pseudo: int, energy_of) -> Atoms:
    """A chain of H atoms 0.9 Å apart in a box, the last ``n_pseudo`` of them pseudo-H
    (charge 0.75), labelled with ``energy_of(atoms, n_h, n_pseudo)``."""
    n = n_h + n_pseudo
    atoms = Atoms("H" * n, positions=[[5.0 + 0.9 * i, 5.0, 5.0] for i in range(n)],
                  cell=[12.0, 10.0, 10.0], pbc=True)
    atoms.new_array("pseudo_h_charge", np.array([0.0] * n_h + [0.75] * n_pseudo))
    atoms.calc = SinglePointCalculator(atoms, energy=energy_of(atoms, n_h, n_pseudo),
                                       forces=np.zeros((n, 3)))
    return atoms


@pytest.mark.parametrize("base", ["chgnet", "sevennet-0"])
def test_pseudo_h_is_relabelled_by_its_own_offset(base):
    """'DFT' = model + 0.2 eV per H + (-1.0) eV per pseudo-H: the pseudo-H offset against H
    is -1.2 eV, and after relabelling every frame is the model + 0.2 eV per atom of
    either."""
    from facetflow.engines import finetune as ft
    from facetflow.engines.finetune_models import tuner

    shapes = ((2, 0), (1, 1), (2, 2), (3, 1))
    net = tuner(base, [_frame(h, p, lambda *_: 0.0) for h, p in shapes])
    stock, _ = net.predict(list(range(len(shapes))))
    model = dict(zip(shapes, stock, strict=True))

    def dft(atoms, n_h, n_pseudo):
        return model[(n_h, n_pseudo)] + 0.2 * n_h - 1.0 * n_pseudo

    frames = [_frame(h, p, dft) for h, p in shapes]
    out, offset = ft._pseudo_h_labels(frames, list(range(len(frames))), stock)
    assert offset == {"H:0.75": pytest.approx(-1.2, abs=1e-4)}
    for shape, a, b in zip(shapes, frames, out, strict=True):
        assert b.get_potential_energy() == pytest.approx(model[shape] + 0.2 * len(a),
                                                         abs=1e-4)
        moved = b.get_potential_energy() - a.get_potential_energy()
        n_pseudo = int((a.arrays["pseudo_h_charge"] > 0).sum())
        assert moved == pytest.approx(1.2 * n_pseudo, abs=1e-4)
    assert ft._species(frames[1]) == ["H", "H:0.75"]
    assert ft._species(frames[1], pseudo=False) == ["H", "H"]


def test_the_relative_error_ignores_per_species_offsets_only():
    from facetflow.engines import finetune as ft

    frames = [_frame(h, p, lambda *_: 0.0) for h, p in ((2, 0), (1, 1), (2, 2), (3, 1))]
    counts = np.array([[2, 0], [1, 1], [2, 2], [3, 1]], dtype=float)
    offsets = counts @ np.array([0.3, -1.1])  # a per-species shift: invisible
    assert ft._relative_mae(offsets, frames) == pytest.approx(0.0, abs=1e-9)
    noise = np.array([0.04, -0.04, 0.0, 0.0])  # not a per-species shift: seen
    assert ft._relative_mae(offsets + noise, frames) > 0.005
