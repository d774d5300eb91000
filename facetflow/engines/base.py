"""The engine interface and the result record.

An engine relaxes or single-points an ``ase.Atoms`` under named settings and returns a
``CalcResult``: plain, JSON-serialisable data (energy in eV, forces in eV/Å, the final
structure, ionic steps, SCF cycles, wall time, warnings and provenance). Relaxations
honour ``FixAtoms`` constraints; ``relax_cell`` relaxes the cell too (bulk references).

Settings come from YAML presets per engine and purpose (``bulk``, ``slab``, ``molecule``)
in ``facetflow/presets/<engine>.yaml``, overridden by the study's ``engine.settings``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Protocol

import numpy as np
import yaml
from ase import Atoms
from ase.constraints import FixAtoms

PURPOSES = ("bulk", "slab", "molecule")


class EngineUnavailable(RuntimeError):
    """The engine cannot run here; ``reason`` says why and how to fix it."""

    def __init__(self, engine: str, reason: str) -> None:
        self.engine, self.reason = engine, reason
        super().__init__(f"engine {engine!r} unavailable: {reason}")


class CalcError(RuntimeError):
    """A calculation failed (e.g. SCF never converged); the message names the fix."""


@dataclass
class CalcResult:
    """What one calculation produced. Energies in eV, forces in eV/Å, lengths in Å."""

    engine: str
    task: str  # "relax" | "single"
    converged: bool
    energy: float
    forces: list
    structure: dict
    steps: int = 0
    scf_cycles: int = 0
    wall_time: float = 0.0
    fmax: float | None = None
    warnings: list[str] = field(default_factory=list)
    provenance: dict = field(default_factory=dict)
    trajectory_energies: list[float] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), default=float)

    @classmethod
    def from_dict(cls, d: dict) -> CalcResult:
        return cls(**d)

    def atoms(self) -> Atoms:
        return dict_to_atoms(self.structure)


class Engine(Protocol):
    """What every engine module exposes as ``ENGINE``."""

    name: str

    def available(self) -> tuple[bool, str]:
        """(usable here, version string or the reason it is not)."""

    def run(self, atoms: Atoms, task: str, settings: dict) -> CalcResult:
        """Relax (``task='relax'``) or single-point (``'single'``) ``atoms``."""


def atoms_to_dict(atoms: Atoms) -> dict:
    """A JSON-able description of ``atoms``: symbols, positions, cell, pbc, per-atom arrays
    (facetflow's region/plane/pseudo_h_charge/ligand_id) and fixed indices."""
    arrays = {k: np.asarray(v).tolist() for k, v in atoms.arrays.items()
              if k not in ("numbers", "positions")}
    fixed = sorted({int(i) for c in atoms.constraints if isinstance(c, FixAtoms)
                    for i in c.index})
    return {"symbols": atoms.get_chemical_symbols(), "positions": atoms.positions.tolist(),
            "cell": atoms.cell[:].tolist(), "pbc": [bool(x) for x in atoms.pbc],
            "arrays": arrays, "fixed": fixed}


def dict_to_atoms(d: dict) -> Atoms:
    atoms = Atoms(d["symbols"], positions=d["positions"], cell=d["cell"], pbc=d["pbc"])
    for k, v in d.get("arrays", {}).items():
        atoms.new_array(k, np.array(v))
    if d.get("fixed"):
        atoms.set_constraint(FixAtoms(indices=d["fixed"]))
    return atoms


def structure_hash(atoms: Atoms, decimals: int = 5) -> str:
    """Content hash of a structure: symbols, rounded positions and cell, pbc, pseudo-H
    charges and fixed atoms (what an engine's result depends on)."""
    d = atoms_to_dict(atoms)
    canon = {"symbols": d["symbols"],
             "positions": np.round(np.array(d["positions"]), decimals).tolist(),
             "cell": np.round(np.array(d["cell"]), decimals).tolist(), "pbc": d["pbc"],
             "pseudo_h": d["arrays"].get("pseudo_h_charge"), "fixed": d["fixed"]}
    return hashlib.sha256(json.dumps(canon, sort_keys=True).encode()).hexdigest()


@cache
def _preset_file(engine: str) -> dict:
    path = resources.files("facetflow.presets").joinpath(f"{engine}.yaml")
    return yaml.safe_load(path.read_text()) if path.is_file() else {}


def settings_for(engine: str, purpose: str, overrides: dict | None = None) -> dict:
    """Preset settings of ``engine`` for ``purpose`` merged with ``overrides``.

    ``overrides`` may hold plain keys (applied to every purpose) and per-purpose
    mappings under the purpose's name.
    """
    if purpose not in PURPOSES:
        raise ValueError(f"purpose must be one of {PURPOSES}, got {purpose!r}")
    presets = _preset_file(engine)
    merged = dict(presets.get("common", {}))
    merged.update(presets.get(purpose, {}))
    overrides = overrides or {}
    merged.update({k: v for k, v in overrides.items() if k not in PURPOSES})
    merged.update(overrides.get(purpose, {}) or {})
    return merged


def purpose_of(atoms: Atoms) -> str:
    """``slab`` for facetflow slabs (they carry a ``region`` array), ``molecule`` for a
    structure with no periodic neighbours in range, else ``bulk``."""
    if "region" in atoms.arrays:
        return "slab"
    from ase.neighborlist import neighbor_list

    i, _j, shifts = neighbor_list("ijS", atoms, 3.0)
    return "bulk" if len(i) and np.any(shifts) else "molecule"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def max_force(forces: np.ndarray, atoms: Atoms) -> float:
    """Largest force norm over the atoms that are free to move (eV/Å)."""
    f = np.asarray(forces).copy()
    for c in atoms.constraints:
        if isinstance(c, FixAtoms):
            f[c.index] = 0.0
    return float(np.linalg.norm(f, axis=1).max()) if len(f) else 0.0


def kpoint_mesh(atoms: Atoms, density: float) -> tuple[int, int, int]:
    """Monkhorst-Pack mesh N_i = ceil(2 pi density / L_i), L_i the spacing of the lattice
    planes normal to b_i (Å); axes longer than 15 Å (vacuum, molecule boxes) get 1."""
    if density <= 0:
        return (1, 1, 1)
    out = []
    recip = atoms.cell.reciprocal()  # rows b_i / (2 pi)
    for i in range(3):
        length = 1.0 / np.linalg.norm(recip[i])
        if not atoms.pbc[i] or length > 15.0:
            out.append(1)
        else:
            out.append(max(1, int(np.ceil(2 * np.pi * density / length))))
    return tuple(out)
