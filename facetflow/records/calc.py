"""What one calculation produced and which code produced it.

``CalcResult`` is the record every engine returns and the results store keeps: plain,
JSON-serialisable data (energies in eV, forces in eV/Å, lengths in Å, wall time in s).
``electronic`` (``records.electronic``) holds the eigenvalues, projections and planar-
averaged potential of a DFT calculation that was asked for them. ``EngineIdentity`` is
what, besides the settings, decides an engine's numbers (code and model versions); its
``key`` enters every calculation hash.

Structures travel as the dictionaries of ``atoms_to_dict`` (symbols, Cartesian positions
in Å, cell vectors in Å as rows, periodicity, facetflow's per-atom arrays and the indices
of fixed atoms); ``structure_hash`` is the content hash of a structure that a
calculation's result depends on.

``ENGINE_NAMES`` is the one list of engines (``facetflow.engines`` imports
``facetflow.engines.<name>`` for each); it lives here, at the bottom, so that every layer
(the study's validation included) can name engines without importing them.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal, get_args

import numpy as np
from ase import Atoms
from ase.constraints import FixAtoms
from pydantic import BaseModel, ConfigDict, Field

from facetflow.records.electronic import ElectronicResult

EngineName = Literal["mlip", "vasp", "qe", "cp2k", "gpaw"]
ENGINE_NAMES: tuple[str, ...] = get_args(EngineName)
Task = Literal["relax", "single"]


class EngineIdentity(BaseModel):
    """The code (and, for ML potentials, the model) behind an engine's numbers."""

    model_config = ConfigDict(frozen=True)

    engine: str = Field(description="engine name, one of ENGINE_NAMES")
    package: str | None = Field(default=None, description="Python package or code that "
                                "computes the energies (e.g. 'chgnet'); None: not recorded")
    version: str | None = Field(default=None, description="its installed version")
    model: str | None = Field(default=None, description="ML model name (weights ship inside "
                              "the package version); None for DFT codes")

    @property
    def key(self) -> str:
        """The text that enters calculation hashes: ``"<package> <version> <model>"`` when a
        package is recorded, else the engine name."""
        if self.package is None:
            return self.engine
        return f"{self.package} {self.version} {self.model}"


class CalcResult(BaseModel):
    """What one calculation produced."""

    engine: str = Field(description="engine name that computed it")
    task: Task = Field(description="'relax' (ionic relaxation) or 'single' (single point)")
    converged: bool = Field(description="relaxation: max force on free atoms < fmax within "
                            "max_steps; single point: True")
    energy: float = Field(description="total energy of the final structure, eV")
    forces: list[list[float]] = Field(description="forces on the final structure, eV/Å, "
                                      "one [Fx, Fy, Fz] per atom (F = -dE/dr)")
    structure: dict[str, Any] = Field(description="final structure as atoms_to_dict gives it "
                                      "(positions and cell in Å)")
    steps: int = Field(default=0, description="ionic steps taken")
    scf_cycles: int = Field(default=0, description="SCF iterations over all ionic steps "
                            "(0 for ML potentials)")
    wall_time: float = Field(default=0.0, description="wall time of the calculation, s")
    fmax: float | None = Field(default=None, description="largest force norm on free atoms, "
                               "eV/Å")
    warnings: list[str] = Field(default_factory=list, description="what the user should know "
                                "(not converged, approximations, corrections made)")
    provenance: dict[str, Any] = Field(default_factory=dict, description="code, versions, "
                                       "settings used, checksums of model weights")
    pruned: bool = Field(False, description="relaxation stopped early by "
                         "workflow.prune_starts: after prune_after_steps its energy lay "
                         "more than above_eV above its structure's start 0 minimum; the "
                         "energy (eV) is an upper bound of this start's own minimum")
    trajectory_energies: list[float] = Field(default_factory=list, description="total "
                                             "energy at each ionic step, eV")
    electronic: ElectronicResult | None = Field(None, description="eigenvalues, occupations, "
                                                "projections and planar-averaged potential "
                                                "(only when the calculation's settings ask "
                                                "for ``electronic``)")

    def to_dict(self) -> dict:
        """The record as plain data; without ``electronic`` when there is none, so a
        result without electronic output is stored exactly as before the field existed."""
        return self.model_dump(exclude={"electronic"} if self.electronic is None else None)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), default=float)

    @classmethod
    def from_dict(cls, d: dict) -> CalcResult:
        return cls.model_validate(d)

    def atoms(self) -> Atoms:
        return dict_to_atoms(self.structure)


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
    """The ``Atoms`` that ``atoms_to_dict`` described (arrays and ``FixAtoms`` restored)."""
    atoms = Atoms(d["symbols"], positions=d["positions"], cell=d["cell"], pbc=d["pbc"])
    for k, v in d.get("arrays", {}).items():
        atoms.new_array(k, np.array(v))
    if d.get("fixed"):
        atoms.set_constraint(FixAtoms(indices=d["fixed"]))
    return atoms


def structure_hash(atoms: Atoms, decimals: int = 5) -> str:
    """Content hash of a structure: symbols, positions and cell rounded to ``decimals`` Å,
    pbc, pseudo-H charges and fixed atoms (what an engine's result depends on)."""
    d = atoms_to_dict(atoms)
    canon = {"symbols": d["symbols"],
             "positions": np.round(np.array(d["positions"]), decimals).tolist(),
             "cell": np.round(np.array(d["cell"]), decimals).tolist(), "pbc": d["pbc"],
             "pseudo_h": d["arrays"].get("pseudo_h_charge"), "fixed": d["fixed"]}
    return hashlib.sha256(json.dumps(canon, sort_keys=True).encode()).hexdigest()
