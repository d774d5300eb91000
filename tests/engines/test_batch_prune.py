"""Pruned starts (``workflow.prune_starts``) in the batched optimizers: a structure whose
``atoms.info`` carries a limit leaves the batch once it has taken ``prune_after_steps``
steps with its energy still above ``prune_above`` (eV); the others go on unchanged."""

import numpy as np
import pytest
from ase import Atoms

from facetflow.engines.batch import batched_fire, batched_lbfgs


def _harmonic(structures):
    """E = 0.5 k |r - r0|^2 + E0 per structure (k = 1 eV/Å², r0 and E0 in info)."""
    energies, forces = [], []
    for a in structures:
        d = a.positions - a.info["r0"]
        energies.append(0.5 * float((d * d).sum()) + a.info["e0"])
        forces.append(-d)
    return energies, forces


def _pair(limit: float | None, after: int = 3) -> list[Atoms]:
    out = []
    for e0 in (0.0, 5.0):
        a = Atoms("H2", positions=[[0, 0, 0], [0, 0, 2.0]], cell=[10, 10, 10])
        a.info.update(r0=a.positions + [[0.8, 0.0, 0.0], [0.0, -0.6, 0.3]], e0=e0)
        if limit is not None:
            a.info.update(prune_after_steps=after, prune_above=limit)
        out.append(a)
    return out


@pytest.mark.parametrize("optimizer", [batched_lbfgs, batched_fire])
def test_a_start_far_above_the_limit_stops_after_the_given_steps(optimizer):
    free = optimizer(_pair(None), _harmonic, fmax=1e-3, max_steps=500)
    # limit 2 eV: the structure at E0 = 5 eV stays above it; the one at 0 eV never is
    got = optimizer(_pair(2.0, after=3), _harmonic, fmax=1e-3, max_steps=500)
    assert got[1]["pruned"] and not got[1]["converged"] and got[1]["steps"] == 3
    assert got[1]["energy"] > 5.0
    assert not got[0]["pruned"] and got[0]["converged"]
    assert got[0]["steps"] == free[0]["steps"]  # the other one is not disturbed
    assert got[0]["energy"] == pytest.approx(free[0]["energy"], abs=1e-12)
    # a limit above its energy: relaxed to the end, as without pruning
    high = optimizer(_pair(100.0), _harmonic, fmax=1e-3, max_steps=500)
    assert not any(r["pruned"] for r in high)
    assert [r["steps"] for r in high] == [r["steps"] for r in free]
    assert np.allclose([r["energy"] for r in high], [r["energy"] for r in free])
