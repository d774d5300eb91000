"""GPAW engine: PAW, PBE, setups from the ``gpaw-data`` wheel; pseudo-hydrogen setups
generated in memory. Plane waves (``ecut``, eV) by default; ``mode: lcao`` uses GPAW's
double-zeta polarised basis sets (``basis: dzp``, shipped in gpaw-data; the pseudo-H
basis is made from its generated setup) on a real-space grid of spacing ``h`` (Å): much
cheaper per atom, with a basis-set superposition error of order 0.1 eV in binding
energies -- the protocol for checking ML binding energies on this machine.

A pseudo-hydrogen of valence q is a PAW setup generated on the fly with GPAW's
generator (``gpaw.atom.generator2``) for nuclear charge Z = q in the configuration 1s^q
(projectors 1s, s, p; cut-off radius 0.9 bohr), cached per process, and given to GPAW per
atom index; the electron count of a passivated slab is then exact.

Relaxations use ASE's optimiser with the GPAW calculator kept alive, so wavefunctions
carry over between ionic steps; bulk references relax the cell. Asymmetric slabs get
GPAW's dipole-layer correction along z. An SCF that does not converge in ``maxiter`` is
retried with half the mixer beta and twice the smearing, then reported as a CalcError.
With ``settings.command`` (an MPI launcher and GPAW's interpreter, e.g.
``mpiexec -n 8 gpaw python``) the same calculation runs in a subprocess as
``<command> -m facetflow.engines.gpaw FOLDER``.

With ``electronic: true`` (serial runs only) the result also carries the eigenvalues,
occupations, projections on atoms and the planar-averaged electrostatic potential of the
final structure (``engines.electronic_gpaw``).
"""

from __future__ import annotations

import io
import json
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from facetflow.engines.base import (
    CalcError,
    EngineUnavailable,
    max_force,
)
from facetflow.engines.electronic_gpaw import electronic_result
from facetflow.engines.kpoints import kpoint_mesh
from facetflow.engines.optimize import relax_with_calculator
from facetflow.engines.runner import SerialEngine, wants_dipole_correction
from facetflow.engines.settings import GpawSettings, run_settings
from facetflow.records.calc import CalcResult, atoms_to_dict, dict_to_atoms

PSEUDO_H_RADIUS = 0.9  # bohr


@cache
def _pseudo_h_generator(q: float, xc: str = "PBE"):
    from gpaw.atom.generator2 import generate

    gen = generate("H", q, "1s,s,p", [PSEUDO_H_RADIUS], PSEUDO_H_RADIUS, None, 2, xc=xc,
                   configuration=[(1, 0, q, -0.25)], output=io.StringIO())
    if not gen.check_all():
        raise CalcError(f"generated pseudo-H setup for q={q} fails GPAW's checks")
    return gen


@cache
def pseudo_h_setup(q: float, xc: str = "PBE"):
    """In-memory PAW setup of a pseudo-hydrogen with valence charge ``q``."""
    return _pseudo_h_generator(q, xc).make_paw_setup(f"pseudoH{q:g}")


@cache
def pseudo_h_basis(q: float, xc: str = "PBE"):
    """Its LCAO basis (double-zeta polarised, made from the same generator)."""
    return _pseudo_h_generator(q, xc).create_basis_set()


def _calculator(atoms: Atoms, s: GpawSettings, beta: float, width: float, txt: Path):
    """A GPAW calculator for ``atoms`` (mixer ``beta``, Fermi-Dirac ``width`` in eV, 0:
    fixed occupations), writing its log to ``txt``."""
    from gpaw import GPAW, PW, FermiDirac, Mixer  # GPAW is optional: only when it runs

    q = atoms.arrays.get("pseudo_h_charge", np.zeros(len(atoms)))
    lcao = s.mode == "lcao"
    setups: dict = {"default": "paw"}
    basis: dict = {"default": str(s.basis)}
    for i, c in enumerate(q):
        if c > 0:
            setups[i] = pseudo_h_setup(round(float(c), 6))
            basis[i] = pseudo_h_basis(round(float(c), 6))
    mode = "lcao" if lcao else PW(float(s.ecut))
    kwargs = {"mode": mode, "xc": "PBE", "setups": setups,
              "kpts": kpoint_mesh(atoms, float(s.kpt_density)),
              "mixer": Mixer(beta=beta, nmaxold=5, weight=50.0),
              "maxiter": int(s.maxiter), "txt": str(txt)}
    if lcao:  # localized basis (GPAW's dzp sets shipped in gpaw-data); real-space grid h
        kwargs.update(basis=basis, h=float(s.h))
    kwargs["occupations"] = FermiDirac(width) if width > 0 else {"name": "fixed-uniform"}
    if wants_dipole_correction(atoms, s.dipole_correction):
        kwargs["poissonsolver"] = {"dipolelayer": "xy"}
        if lcao:  # on a real-space grid the dipole layer needs a non-periodic z
            atoms.pbc = [True, True, False]
    return GPAW(**kwargs)


def run_in_process(atoms: Atoms, task: str, s: GpawSettings, workdir: Path) -> dict:
    """The calculation itself (also the body of the parallel subprocess)."""
    from gpaw import KohnShamConvergenceError

    beta = float(s.mixer_beta)
    width = float(s.smearing)
    warnings: list[str] = []
    attempts = int(s.scf_retries) + 1
    txt = workdir / "gpaw.txt"
    for _ in range(attempts):
        work = atoms.copy()
        calc = _calculator(work, s, beta, width, txt)
        try:
            if task == "relax":
                info = relax_with_calculator(work, calc, float(s.fmax), int(s.max_steps),
                                             s.optimizer, bool(s.relax_cell))
            else:
                work.calc = calc
                work.get_potential_energy()
                info = {"steps": 0, "energies": [], "converged": True}
            break
        except KohnShamConvergenceError:
            warnings.append(f"SCF not converged (mixer beta {beta}, smearing {width} eV); "
                            "retrying")
            beta, width = beta / 2, (width * 2 if width > 0 else 0.01)
    else:
        raise CalcError(f"SCF did not converge after {attempts} attempts (last mixer beta "
                        f"{beta * 2:g}): raise maxiter, lower mixer_beta, increase smearing "
                        "or check the structure")
    text = txt.read_text(errors="replace") if txt.exists() else ""
    electronic = (electronic_result(work, calc, str(s.mode)).model_dump()
                  if s.electronic else None)
    return {"electronic": electronic, "energy": float(work.get_potential_energy()),
            "forces": np.asarray(work.get_forces()).tolist(),
            "positions": work.positions.tolist(), "cell": work.cell[:].tolist(),
            "steps": int(info["steps"]), "converged": bool(info["converged"]),
            "energies": info.get("energies", []),
            "scf_cycles": len(re.findall(r"\|iter:\s*\d+\|", text)),
            "n_electrons": float(calc.get_number_of_electrons()), "warnings": warnings}


class GpawEngine(SerialEngine):
    """The GPAW engine. Settings: ``GpawSettings`` over ``presets/gpaw.yaml``."""

    name = "gpaw"

    def available(self) -> tuple[bool, str]:
        try:
            version = metadata.version("gpaw")
        except metadata.PackageNotFoundError:
            return False, "GPAW not installed: run facetflow engines --install gpaw"
        try:
            metadata.version("gpaw-data")
        except metadata.PackageNotFoundError:
            return False, "PAW setups missing: run facetflow engines --install gpaw"
        return True, f"gpaw {version}"

    def run(self, atoms: Atoms, task: str, settings: Mapping[str, Any]) -> CalcResult:
        ok, why = self.available()
        if not ok:
            raise EngineUnavailable(self.name, why)
        s = run_settings(self.name, atoms, settings)
        if s.electronic and s.command:
            raise CalcError("electronic: true needs a serial GPAW run (command: null): the "
                            "projections are read in this process")
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="facetflow-gpaw-") as tmp:
            work = Path(s.workdir or tmp)
            work.mkdir(parents=True, exist_ok=True)
            if s.command:
                out = _run_subprocess(atoms, task, s, work)
            else:
                out = run_in_process(atoms, task, s, work)
        wall = time.perf_counter() - t0
        final = atoms.copy()
        final.positions = out["positions"]
        final.cell = out["cell"]
        forces = np.array(out["forces"])
        q = atoms.arrays.get("pseudo_h_charge", np.zeros(len(atoms)))
        return CalcResult(
            engine=self.name, task=task, converged=out["converged"], energy=out["energy"],
            forces=forces.tolist(), structure=atoms_to_dict(final), steps=out["steps"],
            scf_cycles=out["scf_cycles"], wall_time=wall, fmax=max_force(forces, atoms),
            warnings=out["warnings"], trajectory_energies=out["energies"],
            electronic=out.get("electronic"),
            provenance={"engine": self.name, "code": "GPAW",
                        "version": metadata.version("gpaw"),
                        "setups": f"gpaw-data {metadata.version('gpaw-data')}",
                        "pseudo_h_setups": sorted({f"{c:g}" for c in q if c > 0}),
                        "n_electrons": out["n_electrons"],
                        "settings": s.model_dump(exclude_none=True)})


def _run_subprocess(atoms: Atoms, task: str, s: GpawSettings, work: Path) -> dict:
    """The calculation in ``<command> -m facetflow.engines.gpaw FOLDER`` (MPI)."""
    serial = s.model_copy(update={"command": None})
    (work / "in.json").write_text(json.dumps({"atoms": atoms_to_dict(atoms), "task": task,
                                              "settings": serial.model_dump(),
                                              "info": dict(atoms.info)}, default=float))
    cmd = shlex.split(s.command) + ["-m", "facetflow.engines.gpaw", str(work)]
    proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True)
    if proc.returncode != 0 or not (work / "out.json").exists():
        raise CalcError(f"parallel GPAW run failed (exit {proc.returncode}): "
                        f"{(proc.stderr or proc.stdout)[-600:]}")
    return json.loads((work / "out.json").read_text())


def main(folder: str) -> None:
    """Entry point of ``<command> -m facetflow.engines.gpaw FOLDER``: reads in.json, writes
    out.json (rank 0)."""
    from gpaw.mpi import world

    work = Path(folder)
    spec = json.loads((work / "in.json").read_text())
    atoms = dict_to_atoms(spec["atoms"])
    atoms.info.update(spec.get("info", {}))
    out = run_in_process(atoms, spec["task"], GpawSettings.model_validate(spec["settings"]),
                         work)
    if world.rank == 0:
        (work / "out.json").write_text(json.dumps(out))


ENGINE = GpawEngine()

if __name__ == "__main__":
    main(sys.argv[1])
