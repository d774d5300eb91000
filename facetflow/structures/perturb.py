"""Perturbed starting structures, for relaxing one structure from several starts.

A ligand shell is floppy: which local minimum a relaxation ends in depends on where it
starts (a bridging carboxylate can end bidentate or monodentate, a proton of HF can stay
or move to a neighbouring carboxylate). Relaxing a structure from a few different starts
and keeping the lowest energy (``workflow.starts`` of a study) makes that visible and
less likely to decide a result.

``perturbed_start`` turns the builder's guess into another start, reproducibly (the
same seed gives the same structure to the last bit):

* every adsorbate of two or more atoms (atoms sharing a ``ligand_id`` >= 0, none fixed)
  is turned rigidly about the surface normal (z) through its anchor, the adsorbate atom
  nearest to an atom outside it, by an angle drawn uniformly from
  [-``rotation``, +``rotation``] degrees. A turn that would bring one of its atoms closer
  than ``CLASH`` times the sum of covalent radii to another atom is halved, up to three
  times, and otherwise left out;
* then every free atom is displaced by a Gaussian of ``rattle`` Å standard deviation per
  Cartesian component (this also breaks the builder's symmetry, which a relaxation keeps).

Fixed atoms (``FixAtoms``) never move.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.constraints import FixAtoms
from ase.data import covalent_radii
from ase.geometry import get_distances

CLASH = 0.7  # a turned adsorbate atom may not come closer than 0.7 (r_i + r_j) to another
HALVINGS = 3  # a clashing turn is halved up to this many times before it is left out


def perturbed_start(atoms: Atoms, seed: int, rotation: float = 30.0,
                    rattle: float = 0.05) -> Atoms:
    """A copy of ``atoms`` with adsorbates turned about z and free atoms rattled (module
    docstring). ``rotation`` in degrees (largest turn), ``rattle`` in Å (standard
    deviation); ``seed`` makes it reproducible."""
    if rotation < 0 or rattle < 0:
        raise ValueError(f"rotation and rattle must be >= 0, got {rotation}, {rattle}")
    rng = np.random.default_rng(seed)
    out = atoms.copy()
    free = np.ones(len(out), bool)
    for c in out.constraints:
        if isinstance(c, FixAtoms):
            free[c.index] = False
    lid = out.arrays.get("ligand_id")
    if lid is not None and rotation > 0:
        for group in sorted(set(int(x) for x in lid if x >= 0)):
            members = np.flatnonzero(lid == group)
            angle = rng.uniform(-rotation, rotation)  # drawn for every group: reproducible
            if len(members) < 2 or not free[members].all():
                continue
            _turn(out, members, angle)
    if rattle > 0:
        shift = rng.normal(0.0, rattle, (len(out), 3))
        shift[~free] = 0.0
        out.positions = out.positions + shift
    return out


def _turn(atoms: Atoms, members: np.ndarray, angle: float) -> None:
    """Turn ``members`` about z through their anchor by ``angle`` degrees, halving a turn
    that clashes (module docstring); in place."""
    others = np.setdiff1d(np.arange(len(atoms)), members)
    if len(others) == 0:
        return
    pos = atoms.positions
    _, d = get_distances(pos[members], pos[others], cell=atoms.cell, pbc=atoms.pbc)
    anchor = pos[members[int(np.argmin(d.min(axis=1)))]]
    limit = CLASH * (covalent_radii[atoms.numbers[members]][:, None]
                     + covalent_radii[atoms.numbers[others]][None, :])
    for _ in range(HALVINGS + 1):
        phi = np.radians(angle)
        rot = np.array([[np.cos(phi), -np.sin(phi), 0.0],
                        [np.sin(phi), np.cos(phi), 0.0],
                        [0.0, 0.0, 1.0]])
        moved = (pos[members] - anchor) @ rot.T + anchor
        _, d = get_distances(moved, pos[others], cell=atoms.cell, pbc=atoms.pbc)
        if (d >= limit).all():
            atoms.positions[members] = moved
            return
        angle /= 2.0
