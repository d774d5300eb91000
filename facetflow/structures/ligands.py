"""The ligand library: adsorbate geometries in a local frame, their binding modes,
formal charges (for electron counting) and molecular references (for chemical potentials).

Local frame (see ``data/ligands.yaml``): anchors at z = 0 (one anchor at the origin, two
anchors at (±L/2, 0, 0)), the body pointing to +z. Placing a ligand is then a rotation
about z and a translation (plus, for a monodentate two-anchor ligand, a tilt).

Binding modes
-------------
``atop``        one anchor above one surface atom
``monodentate`` first anchor above one surface atom, the molecule tilted up
``chelating``   two anchors on one surface atom
``bridging``    two anchors on two surface atoms, or one anchor between two surface atoms
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
import yaml
from ase import Atoms
from ase.io import read

from facetflow.errors import SpecError

MODES = ("atop", "monodentate", "chelating", "bridging")
KINDS = ("X", "L", "Z", "X2", "growth")
MONODENTATE_TILT_DEG = 40.0


@dataclass(frozen=True)
class Ligand:
    """An adsorbate: geometry in the local frame plus chemistry.

    ``charge``: formal charge once bound (electrons taken from the surface = -charge).
    ``footprint``: surface cations one ligand stands for at full coverage.
    ``reference``: mu = sum_k coeff_k E(k); keys are molecules or ``bulk:<compound>``.
    """

    name: str
    symbols: tuple[str, ...]
    positions: np.ndarray
    anchors: tuple[int, ...]
    anchor_species: tuple[str, ...]
    modes: tuple[str, ...]
    kind: str
    charge: int
    footprint: int = 1
    reference: dict[str, float] = field(default_factory=dict)
    description: str = ""

    @property
    def anchor_span(self) -> float:
        """Distance between the two anchors (Å); 0 for one anchor."""
        if len(self.anchors) < 2:
            return 0.0
        a, b = self.anchors[:2]
        return float(np.linalg.norm(self.positions[a] - self.positions[b]))

    @property
    def formula(self) -> str:
        return Atoms(self.symbols).get_chemical_formula()

    def atoms(self) -> Atoms:
        return Atoms(self.symbols, positions=self.positions)

    def anchor_symbol(self, k: int = 0) -> str:
        return self.symbols[self.anchors[k]]

    def frame(self, mode: str) -> np.ndarray:
        """Local-frame positions for ``mode``: anchors at z = 0 as stored, or for a
        monodentate two-anchor ligand, anchor 0 at the origin and the molecule tilted up."""
        pos = self.positions.copy()
        if mode == "monodentate" and len(self.anchors) == 2:
            pos -= pos[self.anchors[0]]
            t = np.radians(MONODENTATE_TILT_DEG)
            rot = np.array([[np.cos(t), 0, -np.sin(t)], [0, 1, 0], [np.sin(t), 0, np.cos(t)]])
            pos = pos @ rot.T
        return pos


@dataclass(frozen=True)
class Molecule:
    """A gas-phase reference molecule."""

    name: str
    symbols: tuple[str, ...]
    positions: np.ndarray
    description: str = ""

    def atoms(self) -> Atoms:
        return Atoms(self.symbols, positions=self.positions)


@cache
def _library() -> dict:
    text = resources.files("facetflow.data").joinpath("ligands.yaml").read_text()
    return yaml.safe_load(text)


def ligand_names() -> list[str]:
    return sorted(_library()["ligands"])


def molecule_names() -> list[str]:
    return sorted(_library()["molecules"])


def get_molecule(name: str) -> Molecule:
    lib = _library()["molecules"]
    if name not in lib:
        raise SpecError.single("reference", "unknown reference molecule", name, molecule_names())
    d = lib[name]
    return Molecule(name, tuple(d["symbols"]), np.array(d["positions"], float),
                    d.get("description", ""))


def get_ligand(name: str, path: str = "ligand") -> Ligand:
    """A ligand of the built-in library."""
    lib = _library()["ligands"]
    if name not in lib:
        raise SpecError.single(path, "unknown ligand", name, ligand_names() +
                               ["or a custom ligand from an XYZ file"])
    return ligand_from_dict(name, lib[name], path)


def ligand_from_dict(name: str, d: dict, path: str = "ligand") -> Ligand:
    return Ligand(
        name=name, symbols=tuple(d["symbols"]), positions=np.array(d["positions"], float),
        anchors=tuple(int(i) for i in d["anchors"]),
        anchor_species=tuple(d.get("anchor_species") or ["cation"] * len(d["anchors"])),
        modes=tuple(d["modes"]), kind=str(d["kind"]), charge=int(d["charge"]),
        footprint=int(d.get("footprint", 1)),
        reference={str(k): float(v) for k, v in (d.get("reference") or {}).items()},
        description=str(d.get("description", "")))


def ligand_from_xyz(name: str, file: Path, anchors: list[int], *, kind: str = "X",
                    charge: int = -1, footprint: int = 1, modes: list[str] | None = None,
                    anchor_species: list[str] | None = None,
                    reference: dict[str, float] | None = None,
                    path: str = "custom_ligands") -> Ligand:
    """A user ligand from an XYZ file, moved into the local frame.

    ``anchors`` are 0-based atom indices of the atoms that bind the surface (one or two).
    The frame puts the anchors' centre at the origin, the anchor-anchor axis along x, and
    the molecule's centre of the other atoms toward +z.
    """
    if not anchors:
        raise SpecError.single(f"{path}.anchors", "a ligand needs at least one anchor atom",
                               anchors, "one or two 0-based atom indices")
    if len(anchors) > 2:
        raise SpecError.single(f"{path}.anchors", "at most two anchor atoms are supported",
                               anchors)
    try:
        atoms = read(str(file))
    except Exception as exc:  # noqa: BLE001 - any reader failure is a spec problem
        raise SpecError.single(f"{path}.file", f"cannot read XYZ file: {exc}",
                               str(file)) from exc
    n = len(atoms)
    bad = [i for i in anchors if not 0 <= i < n]
    if bad:
        raise SpecError.single(f"{path}.anchors", f"anchor index out of range for {n} atoms",
                               bad, f"0..{n - 1}")
    pos = to_local_frame(atoms.positions, anchors)
    modes = modes or (["bridging", "chelating", "monodentate"] if len(anchors) == 2
                      else ["atop", "bridging"])
    for m in modes:
        if m not in MODES:
            raise SpecError.single(f"{path}.modes", "unknown binding mode", m, MODES)
    if kind not in KINDS:
        raise SpecError.single(f"{path}.kind", "unknown ligand kind", kind, KINDS)
    return Ligand(name=name, symbols=tuple(atoms.get_chemical_symbols()), positions=pos,
                  anchors=tuple(anchors),
                  anchor_species=tuple(anchor_species or ["cation"] * len(anchors)),
                  modes=tuple(modes), kind=kind, charge=charge, footprint=footprint,
                  reference=dict(reference or {}), description=f"custom ligand from {file}")


def to_local_frame(positions: np.ndarray, anchors: list[int]) -> np.ndarray:
    """Rotate/translate coordinates so that the anchors define the local frame."""
    pos = np.asarray(positions, float).copy()
    anc = pos[list(anchors)]
    pos -= anc.mean(axis=0)
    rest = [i for i in range(len(pos)) if i not in anchors]
    up = pos[rest].mean(axis=0) if rest else np.array([0.0, 0.0, 1.0])
    if len(anchors) == 2:
        x = pos[anchors[1]] - pos[anchors[0]]
        x /= np.linalg.norm(x)
        up = up - np.dot(up, x) * x
        if np.linalg.norm(up) < 1e-6:
            up = np.cross(x, [0.0, 1.0, 0.0] if abs(x[1]) < 0.9 else [1.0, 0.0, 0.0])
        z = up / np.linalg.norm(up)
        y = np.cross(z, x)
    else:
        z = up / np.linalg.norm(up) if np.linalg.norm(up) > 1e-6 else np.array([0, 0, 1.0])
        trial = np.array([1.0, 0, 0]) if abs(z[0]) < 0.9 else np.array([0, 1.0, 0])
        x = trial - np.dot(trial, z) * z
        x /= np.linalg.norm(x)
        y = np.cross(z, x)
    rot = np.array([x, y, z])
    return pos @ rot.T


def place(ligand: Ligand, mode: str, targets: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """Cartesian positions of ``ligand`` bound in ``mode``.

    ``targets``: where the anchors go (one row per anchor used by the mode);
    ``direction``: in-plane unit vector for the local x axis when the anchors alone do not
    fix the rotation about z.
    """
    local = ligand.frame(mode)
    targets = np.atleast_2d(targets)
    if len(ligand.anchors) == 2 and mode in ("bridging", "chelating"):
        v = targets[1] - targets[0]
        phi = np.arctan2(v[1], v[0])
        origin = targets.mean(axis=0)
    else:
        phi = np.arctan2(direction[1], direction[0])
        origin = targets[0]
    c, s = np.cos(phi), np.sin(phi)
    rot = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    return local @ rot.T + origin
