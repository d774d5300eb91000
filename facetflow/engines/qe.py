"""Quantum ESPRESSO (``pw.x``) engine: PBE with PseudoDojo norm-conserving
pseudopotentials and ld1.x-generated pseudo-hydrogens.

ASE writes the input (``ase.io.espresso.write_espresso_in``: namelists, cell, positions,
``FixAtoms`` as ``if_pos = 0 0 0``, the k-point card), reads the output
(``read_espresso_out``: energies in eV, forces in eV/Å, final positions and cell) and its
``EspressoProfile`` gives the command line. What ASE cannot say is the pseudo-hydrogens:
each pseudo-hydrogen charge is its own species (``H1``, ``H2`` ... in ATOMIC_SPECIES,
pw.x labels have at most three characters), so a slab passivated by H(0.75) and H(1.25)
has exactly the valence electrons of electron counting.

Relaxations use pw.x's own BFGS (``calculation='relax'``, or ``'vc-relax'`` with
``relax_cell``), which keeps wavefunctions between ionic steps. Convergence: forces below
``fmax`` (eV/Å, given to pw.x in Ry/bohr), SCF to ``conv_thr_per_atom`` x atoms (Ry).
Asymmetric slabs get a dipole correction along z (``tefield``, ``dipfield``) with the
sawtooth in the middle of the vacuum. An SCF that does not converge is retried
``scf_retries`` times, each with half the mixing beta and twice the smearing (Ry); then a
``CalcError`` says what to change.
"""

from __future__ import annotations

import io
import re
import shlex
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.espresso import EspressoProfile
from ase.io import read
from ase.io.espresso import write_espresso_in
from ase.units import Bohr, Ry

from facetflow.engines import runner
from facetflow.engines.base import EngineUnavailable
from facetflow.engines.kpoints import kpoint_mesh
from facetflow.engines.pseudos import (
    Species,
    checksum,
    pseudo_dir,
    pseudo_hydrogen,
    species,
    unique_species,
)
from facetflow.engines.settings import QeSettings, run_settings
from facetflow.records.calc import CalcResult

INPUT, OUTPUT = "pw.in", "pw.out"
PSEUDO_H_PREFIX = "H"  # pseudo-hydrogen species H1, H2 ...: pw.x labels have <= 3 characters


@dataclass(frozen=True)
class ScfKnobs:
    """Mixing and smearing of one SCF attempt: pw.x ``mixing_beta`` and ``degauss`` (Ry)."""

    beta: float
    degauss: float


def scf_knobs(s: QeSettings, attempt: int) -> ScfKnobs:
    """Attempt k (0, 1 ...) has the preset's mixing beta halved and smearing doubled k
    times."""
    return ScfKnobs(float(s.mixing_beta) / 2**attempt, float(s.degauss) * 2**attempt)


def calculation(task: str, s: QeSettings) -> str:
    """pw.x's ``calculation``: 'scf' for a single point, 'relax' or (``relax_cell``)
    'vc-relax'."""
    if task != "relax":
        return "scf"
    return "vc-relax" if s.relax_cell else "relax"


def _digits(x: float, significant: int) -> float:
    """``x`` rounded to ``significant`` digits: pw.x gets round thresholds, not the float
    noise of a unit conversion or a product with the number of atoms."""
    return float(f"{x:.{significant - 1}e}")


def input_data(atoms: Atoms, s: QeSettings, calc: str, knobs: ScfKnobs, pseudo_folder: str,
               outdir: Path) -> dict[str, Any]:
    """pw.x's namelist values for ``atoms`` (ASE puts each in its namelist). Units are
    pw.x's: cutoffs and energies in Ry, forces in Ry/bohr."""
    nat = len(atoms)
    data: dict[str, Any] = {
        "calculation": calc, "prefix": "pw", "outdir": str(outdir),
        "pseudo_dir": pseudo_folder, "tprnfor": True, "tstress": True,
        "forc_conv_thr": _digits(float(s.fmax) / (Ry / Bohr), 7),
        "etot_conv_thr": _digits(float(s.etot_conv_thr), 4), "nstep": int(s.max_steps),
        "disk_io": "low", "ecutwfc": float(s.ecutwfc),
        "ecutrho": float(s.ecutwfc) * float(s.ecutrho_factor),
        "occupations": s.occupations,
        "conv_thr": _digits(float(s.conv_thr_per_atom) * nat, 4),
        "mixing_beta": knobs.beta, "electron_maxstep": int(s.electron_maxstep)}
    if s.occupations == "smearing":
        data.update(smearing=s.smearing, degauss=knobs.degauss)
    if runner.wants_dipole_correction(atoms, s.dipole_correction):
        z = atoms.get_scaled_positions()[:, 2]
        gap_center = (z.max() + (1 + z.min())) / 2 % 1.0  # fractional z mid-vacuum
        data.update(tefield=True, dipfield=True, edir=3, emaxpos=round(float(gap_center), 4),
                    eopreg=0.05, eamp=0.0)
    if calc in ("relax", "vc-relax"):
        data["ion_dynamics"] = "bfgs"
    if calc == "vc-relax":
        data.update(cell_dynamics="bfgs", press_conv_thr=0.5)  # kbar
    return data


def kpts(atoms: Atoms, s: QeSettings) -> tuple[int, int, int] | None:
    """Monkhorst-Pack mesh of ``kpt_density``; None (pw.x's Gamma-point tricks) for a
    structure that is not periodic at all."""
    mesh = kpoint_mesh(atoms, float(s.kpt_density))
    if mesh == (1, 1, 1) and not np.any(atoms.pbc):
        return None
    return mesh


def input_text(atoms: Atoms, data: Mapping[str, Any], mesh: tuple[int, int, int] | None,
               pseudos: Mapping[str, str]) -> str:
    """The pw.x input: ASE's, with a species per pseudo-hydrogen charge. ``pseudos`` maps
    each species label to its pseudopotential file name."""
    per_atom = species(atoms, PSEUDO_H_PREFIX)
    by_element = {s.element: pseudos[s.label] for s in per_atom}  # pseudo-H: relabelled
    fd = io.StringIO()
    write_espresso_in(fd, atoms, input_data=dict(data), pseudopotentials=by_element,
                      kpts=mesh)
    text = fd.getvalue()
    if all(s.charge == 0 for s in per_atom):
        return text
    return _with_pseudo_h_species(text, atoms, per_atom, pseudos)


def _with_pseudo_h_species(text: str, atoms: Atoms, per_atom: Sequence[Species],
                           pseudos: Mapping[str, str]) -> str:
    """ASE's input, relabelled: ASE writes one species per element, pw.x needs one per
    pseudo-hydrogen charge in ``ntyp``, ATOMIC_SPECIES and ATOMIC_POSITIONS."""
    kinds = unique_species(per_atom)
    mass: dict[str, float] = {}
    for s, m in zip(per_atom, atoms.get_masses(), strict=True):
        mass.setdefault(s.label, m)
    lines = text.splitlines()
    start = lines.index("ATOMIC_SPECIES") + 1
    end = lines.index("", start)
    lines[start:end] = [f"{s.label} {mass[s.label]} {pseudos[s.label]}" for s in kinds]
    at = lines.index("ATOMIC_POSITIONS angstrom") + 1
    for i, s in enumerate(per_atom):
        lines[at + i] = s.label + " " + lines[at + i].split(" ", 1)[1]
    text = "\n".join(lines) + "\n"
    return re.sub(r"^(\s*ntyp\s*=\s*)\d+", rf"\g<1>{len(kinds)}", text, count=1, flags=re.M)


@dataclass
class _PwJob:
    """One pw.x calculation on ``atoms`` in ``folder`` (pseudopotentials staged in the
    profile's ``pseudo_dir``, ``pseudos`` maps species label to file name)."""

    atoms: Atoms
    s: QeSettings
    calc: str
    folder: Path
    program: runner.Program  # its profile is an EspressoProfile
    pseudos: dict[str, str]

    def attempt(self, k: int) -> str:
        """Write and run attempt ``k``; its output text (or ScfNotConverged, CalcError)."""
        data = input_data(self.atoms, self.s, self.calc, scf_knobs(self.s, k),
                          self.program.profile.pseudo_dir, self.folder / "out")
        text = input_text(self.atoms, data, kpts(self.atoms, self.s), self.pseudos)
        (self.folder / INPUT).write_text(text)
        return runner.run_program(self.program, self.folder)

    def retrying(self, k: int) -> str:
        knobs = scf_knobs(self.s, k)
        return (f"SCF not converged with mixing_beta={knobs.beta}, "
                f"degauss={knobs.degauss}; retrying")

    def give_up(self, k: int) -> str:
        knobs = scf_knobs(self.s, k)
        return (f"SCF did not converge after {k + 1} attempts (last mixing_beta="
                f"{knobs.beta:g}, degauss={knobs.degauss:g} Ry): raise electron_maxstep, "
                "lower mixing_beta, increase degauss, or check the structure")


def read_outcome(path: Path, output: str, task: str) -> runner.Outcome:
    """Energy, forces and final geometry (ASE's reading of the pw.x output at ``path``,
    energies in eV) and pw.x's counts of ionic steps and SCF iterations."""
    images = read(path, format="espresso-out", index=":")
    final = images[-1]
    energies = [float(image.get_potential_energy()) for image in images]
    scf = sum(int(n) for n in re.findall(r"convergence has been achieved in\s+(\d+)", output))
    converged = task == "single" or "bfgs converged" in output or \
        "End final coordinates" in output
    return runner.Outcome(
        energy=energies[-1], forces=np.asarray(final.get_forces()), positions=final.positions,
        cell=final.cell[:], converged=converged, scf_cycles=scf, trajectory_energies=energies,
        steps=max(len(energies) - 1, 0) if task == "relax" else 0)


class QeEngine(runner.SerialEngine):
    """The Quantum ESPRESSO engine. Settings: ``QeSettings`` over ``presets/qe.yaml``."""

    name = "qe"

    def available(self) -> tuple[bool, str]:
        if shutil.which("pw.x") is None:
            return False, "pw.x not found: run facetflow engines --install qe"
        if not (pseudo_dir() / "H.upf").is_file():
            return False, ("pseudopotentials missing in " + str(pseudo_dir()) +
                           ": run facetflow engines --install qe")
        return True, f"pw.x ({shutil.which('pw.x')}), pseudopotentials {pseudo_dir().name}"

    def run(self, atoms: Atoms, task: str, settings: Mapping[str, Any]) -> CalcResult:
        s = run_settings(self.name, atoms, settings)
        ok, why = self.available()
        if not ok and not s.pseudo_dir:
            raise EngineUnavailable(self.name, why)
        program = shlex.split(s.command)[-1]
        if shutil.which(program) is None:
            raise EngineUnavailable(self.name, f"{program} not found")
        files = self._pseudo_files(atoms, s)
        started = time.perf_counter()
        with runner.scratch(self.name, s.workdir) as work:
            staged = _stage(files, work / "pseudo")
            job = _PwJob(atoms, s, calculation(task, s), work,
                         _pw_program(s.command, work / "pseudo"), staged)
            output, warnings = runner.retry_scf(job, int(s.scf_retries) + 1)
            outcome = read_outcome(work / OUTPUT, output, task)
        outcome.provenance = self._provenance(output, s, files)
        return runner.assemble(self.name, task, atoms, outcome, started, warnings)

    def _pseudo_files(self, atoms: Atoms, s: QeSettings) -> dict[str, Path]:
        """The pseudopotential file of each species: ``<Element>.upf`` in ``pseudo_dir``,
        a generated one for each pseudo-hydrogen charge."""
        folder = Path(s.pseudo_dir or pseudo_dir())
        files: dict[str, Path] = {}
        for sp in unique_species(species(atoms, PSEUDO_H_PREFIX)):
            if sp.charge > 0:
                try:
                    files[sp.label] = pseudo_hydrogen(sp.charge, s.ld1_command or "ld1.x")
                except FileNotFoundError as exc:
                    raise EngineUnavailable(self.name, str(exc)) from None
                continue
            path = folder / f"{sp.element}.upf"
            if not path.is_file():
                raise EngineUnavailable(self.name, f"no pseudopotential for {sp.element} in "
                                        f"{folder}: add {sp.element}.upf or set pseudo_dir")
            files[sp.label] = path
        return files

    def _provenance(self, output: str, s: QeSettings, files: Mapping[str, Path]) -> dict:
        nelec = re.search(r"number of electrons\s*=\s*([\d.]+)", output)
        return {"engine": self.name, "code": "Quantum ESPRESSO pw.x",
                "version": _version(output), "command": s.command,
                "n_electrons": float(nelec.group(1)) if nelec else None,
                "pseudopotentials": {k: {"file": v.name, "sha256": checksum(v)}
                                     for k, v in files.items()},
                "settings": s.model_dump(exclude_none=True)}


def _pw_program(command: str, pseudo_folder: Path) -> runner.Program:
    """pw.x through ASE's ``EspressoProfile`` (``<command> -in pw.in``)."""
    return runner.Program("pw.x", EspressoProfile(command, pseudo_folder), INPUT, OUTPUT,
                          scf_failed="convergence NOT achieved", finished="JOB DONE",
                          error_text=_error_text)


def _stage(files: Mapping[str, Path], folder: Path) -> dict[str, str]:
    """Copy the pseudopotentials into ``folder`` (pw.x reads them from one folder); the
    file name of each species."""
    folder.mkdir(exist_ok=True)
    for path in files.values():
        target = folder / path.name
        if not target.exists():
            shutil.copyfile(path, target)
    return {label: path.name for label, path in files.items()}


def _version(output: str) -> str | None:
    m = re.search(r"Program PWSCF v\.(\S+)", output)
    return m.group(1) if m else None


def _error_text(output: str) -> str:
    """pw.x's error message (between its %%%% lines), else the end of the output."""
    m = re.search(r"%%%%+\n(.*?)\n\s*%%%%+", output, re.S)
    return " ".join(m.group(1).split()) if m else output[-400:]


ENGINE = QeEngine()
