"""Electron counting for slabs with pseudo-hydrogen and adsorbates.

``excess_electrons`` is the ionic count: the sum of formal oxidation states of the slab
ions, plus each pseudo-hydrogen's contribution, plus the formal charges of the
adsorbates. A pseudo-H of charge q stands in for a quarter of the missing neighbour: on
an anion it contributes +q, on a cation q - 2 (e.g. H(0.75) on As: +0.75; H(1.25) on In:
-0.75). Zero means the electron-counting rule is satisfied (cation dangling bonds empty,
anion dangling bonds full); a positive value is the number of electrons left in cation
dangling bonds (or heterovalent interface bonds) that X-type ligands would take.

For tetrahedral materials the same total is also resolved per face from bonds: each
cation-anion bond contributes (v_i + v_j)/4 - 2, each cation dangling bond v/4, each anion
dangling bond v/4 - 2, each pseudo-H bond q + v/4 - 2 = 0; contributions go to the face on
whose side of the slab's mid-plane they sit. The two counts agree by construction, and
tests check that they do.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms

from facetflow.structures import REGION_CORE, REGION_PSEUDO_H, REGION_SHELL
from facetflow.structures.materials import valence
from facetflow.structures.periodic import in_plane_image
from facetflow.structures.topology import cation_anion_bonds


def ionic_excess(atoms: Atoms, oxidation_states: dict[str, int], cations: set[str],
                 adsorbate_charges: dict[int, int]) -> float:
    """Ionic electron count (e per cell): slab oxidation states + pseudo-H + adsorbates."""
    region = atoms.arrays["region"]
    symbols = np.array(atoms.get_chemical_symbols())
    total = 0.0
    slab = np.isin(region, (REGION_CORE, REGION_SHELL))
    for s in symbols[slab]:
        total += oxidation_states[str(s)]
    for h in np.flatnonzero(region == REGION_PSEUDO_H):
        host = _host(atoms, h)
        q = float(atoms.arrays["pseudo_h_charge"][h])
        total += q - 2.0 if symbols[host] in cations else q
    total += sum(adsorbate_charges.values())
    return float(total)


def _host(atoms: Atoms, h: int) -> int:
    """The slab atom a pseudo-H is bonded to: the nearest core or shell atom (in-plane
    periodic images by fractional wrapping; the bond is far shorter than the cell)."""
    heavy = np.flatnonzero(np.isin(atoms.arrays["region"], (REGION_CORE, REGION_SHELL)))
    d = np.linalg.norm(in_plane_image(atoms.positions[heavy] - atoms.positions[h],
                                      atoms.cell[:]), axis=1)
    return int(heavy[int(np.argmin(d))])


def face_balance(atoms: Atoms, cations: set[str], anions: set[str],
                 adsorbate_charges: dict[int, int]) -> dict[str, float]:
    """Bond-resolved electron excess of the top and bottom faces (tetrahedral slabs)."""
    region = atoms.arrays["region"]
    slab_idx = np.flatnonzero(np.isin(region, (REGION_CORE, REGION_SHELL)))
    slab = atoms[slab_idx]
    symbols = slab.get_chemical_symbols()
    z = slab.positions[:, 2]
    mid = 0.5 * (z.min() + z.max())
    v = np.array([valence(s) for s in symbols], float)
    i, j, vec = cation_anion_bonds(slab, cations, anions)
    faces = {"top": 0.0, "bottom": 0.0}

    def add(height: float, value: float) -> None:
        faces["top" if height >= mid else "bottom"] += value

    n_bonds = np.zeros(len(slab), int)
    for a, b, d in zip(i, j, vec, strict=True):
        n_bonds[a] += 1
        n_bonds[b] += 1
        add(z[a] + d[2] / 2, (v[a] + v[b]) / 4 - 2)
    for h in np.flatnonzero(region == REGION_PSEUDO_H):
        host = int(np.searchsorted(slab_idx, _host(atoms, h)))
        n_bonds[host] += 1  # q + v/4 - 2 = 0 for a pseudo-H bond
    for k, s in enumerate(symbols):
        db = 4 - n_bonds[k]
        per_db = v[k] / 4 if s in cations else v[k] / 4 - 2
        add(z[k], db * per_db)
    lid = atoms.arrays["ligand_id"]
    for ligand, charge in adsorbate_charges.items():
        zl = atoms.positions[lid == ligand, 2].mean()
        add(zl, charge)
    return faces


def electron_count(atoms: Atoms, oxidation_states: dict[str, int], cations: set[str],
                   anions: set[str], adsorbate_charges: dict[int, int],
                   n_surface_cations: int, n_faces: int, tetrahedral: bool) -> dict:
    """The electron-counting record of one structure (see module docstring);
    ``per_surface_cation`` divides by the surface cations of all ``n_faces`` faces."""
    total = ionic_excess(atoms, oxidation_states, cations, adsorbate_charges)
    record = {
        "excess_electrons": round(total, 6),
        "per_surface_cation": round(total / max(n_surface_cations * n_faces, 1), 6),
        "closed_shell": abs(total) < 1e-6,
    }
    if tetrahedral:
        faces = face_balance(atoms, cations, anions, adsorbate_charges)
        record["faces"] = {k: round(float(x), 6) for k, x in faces.items()}
    return record

