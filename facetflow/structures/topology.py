"""Bonds between cations and anions, from covalent radii.

Two atoms are bonded when one is a cation, the other an anion (of any of the materials
in the model), and their distance is below ``BOND_SCALE`` x the sum of covalent radii.
Pseudo-hydrogens bond to their nearest heavy atom.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers, covalent_radii
from ase.neighborlist import neighbor_list

BOND_SCALE = 1.25


def covalent_radius(symbol: str) -> float:
    return float(covalent_radii[atomic_numbers[symbol]])


def cation_anion_bonds(atoms: Atoms, cations: set[str], anions: set[str]
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bonded pairs (i, j, D) with i a cation and j an anion; D the bond vector i -> j (Å)."""
    symbols = np.array(atoms.get_chemical_symbols())
    species = sorted(cations | anions)
    rmax = max(covalent_radius(s) for s in species) * 2 * BOND_SCALE
    i, j, d, vec = neighbor_list("ijdD", atoms, rmax)
    is_cat = np.isin(symbols, list(cations))
    is_an = np.isin(symbols, list(anions))
    keep = is_cat[i] & is_an[j]
    radii = np.array([covalent_radius(s) for s in symbols])
    keep &= d < BOND_SCALE * (radii[i] + radii[j])
    return i[keep], j[keep], vec[keep]
