"""Geometry optimisation shared by engines whose calculator is an ASE calculator.

``relax_with_calculator`` runs an ASE optimiser (FIRE, BFGS or LBFGS) with the atoms'
``FixAtoms`` constraints, optionally with the cell (``FrechetCellFilter``), and reports
steps, energies along the path and whether ``fmax`` (eV/Å) was reached.
"""

from __future__ import annotations

import time

import numpy as np
from ase import Atoms
from ase.filters import FrechetCellFilter
from ase.optimize import BFGS, FIRE, LBFGS

from facetflow.engines.base import max_force

OPTIMIZERS = {"FIRE": FIRE, "BFGS": BFGS, "LBFGS": LBFGS}


def relax_with_calculator(atoms: Atoms, calc, fmax: float, max_steps: int,
                          optimizer: str = "FIRE", relax_cell: bool = False) -> dict:
    """Relax ``atoms`` in place; returns steps, energies, converged, wall time."""
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {optimizer!r}")
    atoms.calc = calc
    target = FrechetCellFilter(atoms) if relax_cell else atoms
    energies: list[float] = []
    opt = OPTIMIZERS[optimizer](target, logfile=None)
    opt.attach(lambda: energies.append(float(atoms.get_potential_energy())), interval=1)
    t0 = time.perf_counter()
    converged = bool(opt.run(fmax=fmax, steps=max_steps))
    wall = time.perf_counter() - t0
    forces = atoms.get_forces()
    return {"steps": int(opt.nsteps), "energies": energies, "converged": converged,
            "wall_time": wall, "fmax": max_force(forces, atoms),
            "stress": None if not relax_cell else np.asarray(atoms.get_stress()).tolist()}
