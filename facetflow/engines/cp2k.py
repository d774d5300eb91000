"""CP2K engine (Quickstep GPW, PBE, GTH pseudopotentials, MOLOPT basis from Debian's
cp2k-data), run as ``cp2k.psmp -i cp2k.inp`` with CP2K's own optimiser (GEO_OPT, or
CELL_OPT with ``relax_cell``), which keeps the wavefunction between ionic steps.

The input is a tree of ASE's CP2K input sections (``ase.calculators.cp2k``: the fixed
method is parsed from ``METHOD``, the rest added per structure and settings); ASE's CP2K
calculator itself drives ``cp2k_shell`` and cannot run CP2K's optimisers or the kinds
below. The final geometry is ASE's reading of CP2K's restart file. A cell optimisation
turns the cell so that a lies along x and b in the xy plane; the engine returns the
relaxed cell in the input's orientation (the input cell times the symmetric stretch) and
forces and positions in the same frame.

Pseudo-hydrogen (documented approximation): each charge q is its own KIND with
``ELEMENT H``, the GTH-PBE-q1 potential and ``CORE_CORRECTION q - 1``, which changes the
effective nuclear charge to q. CP2K counts electrons from the potentials' valence minus
``CHARGE``, so the engine sets CHARGE = sum(1 - q) over the pseudo-hydrogens; that must be
an integer (it is for four H(0.75) or two H(0.5) per cell), else the engine says so.
The basis of a pseudo-H is that of H. An odd electron count switches on UKS.
Fixed atoms become MOTION/CONSTRAINT/FIXED_ATOMS. Asymmetric slabs get CP2K's surface
dipole correction along z. Gamma point only. Cutoffs in Ry, forces converged to ``fmax``
(eV/Å, given to CP2K in Hartree/bohr). SCF failures are retried with half the mixing,
then reported.
"""

from __future__ import annotations

import re
import shlex
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.cp2k import InputSection, parse_input
from ase.calculators.genericfileio import BaseProfile, read_stdout
from ase.constraints import FixAtoms
from ase.io import read
from ase.units import Bohr, Hartree

from facetflow.engines import runner
from facetflow.engines.base import CalcError, EngineUnavailable
from facetflow.engines.pseudos import Species, pseudo_h_charges, species, unique_species
from facetflow.engines.settings import Cp2kSettings, run_settings
from facetflow.records.calc import CalcResult

PROJECT = "cp2k"
INPUT, OUTPUT = "cp2k.inp", "cp2k.out"
RESTART = f"{PROJECT}-1.restart"  # the last geometry (and cell) of GEO_OPT/CELL_OPT
PSEUDO_H_PREFIX = "HP"  # pseudo-hydrogen kinds HP1, HP2 ...
DEFAULT_DATA_DIR = "/usr/share/cp2k"

METHOD = f"""
&GLOBAL
  PROJECT {PROJECT}
  PRINT_LEVEL MEDIUM
&END GLOBAL
&FORCE_EVAL
  METHOD Quickstep
  &PRINT
    &FORCES ON
    &END FORCES
  &END PRINT
  &DFT
    &SCF
      SCF_GUESS ATOMIC
      &DIAGONALIZATION
        ALGORITHM STANDARD
      &END DIAGONALIZATION
      &MIXING
        METHOD BROYDEN_MIXING
      &END MIXING
    &END SCF
    &XC
      &XC_FUNCTIONAL PBE
      &END XC_FUNCTIONAL
    &END XC
  &END DFT
&END FORCE_EVAL
"""


class Cp2kProfile(BaseProfile):
    """ASE's launch profile for CP2K: ``<command> -i <input>``, output on stdout."""

    def get_calculator_command(self, inputfile: str) -> list[str]:
        return ["-i", inputfile]

    def version(self) -> str | None:
        m = re.search(r"CP2K version\s+(\S+)", read_stdout([*self._split_command, "--version"]))
        return m.group(1) if m else None


@cache
def _basis_valence(data_dir: str, basis: str) -> dict[str, int]:
    """Valence q of each element's ``basis`` entry (from its -qN alias)."""
    out = {}
    path = Path(data_dir) / "BASIS_MOLOPT"
    for line in path.read_text(errors="replace").splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] == basis:
            m = re.search(r"-q(\d+)$", parts[2])
            if m:
                out.setdefault(parts[0], int(m.group(1)))
    return out


def total_charge(atoms: Atoms) -> int:
    """CHARGE that gives the pseudo-hydrogens their fractional valence (see module doc)."""
    deficit = float(sum(1.0 - c for c in pseudo_h_charges(atoms) if c > 0))
    if abs(deficit - round(deficit)) > 1e-6:
        raise CalcError(f"pseudo-hydrogens remove {deficit:g} electrons, not a whole number: "
                        "CP2K's CHARGE is an integer; use a supercell with 4n H(0.75)/H(1.25) "
                        "or 2n H(0.5)/H(1.5) per cell, or another engine")
    return int(round(deficit))


def run_type(task: str, s: Cp2kSettings) -> str:
    """CP2K's RUN_TYPE: ENERGY_FORCE, GEO_OPT or (``relax_cell``) CELL_OPT."""
    if task != "relax":
        return "ENERGY_FORCE"
    return "CELL_OPT" if s.relax_cell else "GEO_OPT"


def input_tree(atoms: Atoms, s: Cp2kSettings, run: str, alpha: float) -> InputSection:
    """The CP2K input for ``atoms``: ``METHOD`` plus the structure, the settings and the
    Broyden mixing ``alpha`` of this SCF attempt."""
    data = s.data_dir or DEFAULT_DATA_DIR
    kinds = species(atoms, PSEUDO_H_PREFIX)
    valence = {"H": 1, **_basis_valence(data, s.basis)}
    missing = sorted({k.element for k in kinds} - set(valence))
    if missing:
        raise EngineUnavailable("cp2k", f"no {s.basis} basis for {', '.join(missing)} in "
                                f"{data}")
    charge = total_charge(atoms)
    n_el = sum(valence.get(k.element, 0) for k in kinds) - charge
    root = parse_input(METHOD)
    root.add_keyword("GLOBAL", f"RUN_TYPE {run}")
    if run in ("GEO_OPT", "CELL_OPT"):
        _add_motion(root, atoms, s, run)
    if run == "CELL_OPT":
        root.add_keyword("FORCE_EVAL", "STRESS_TENSOR ANALYTICAL")
    dft = root.get_subsection("FORCE_EVAL/DFT")
    dft.keywords += [f"BASIS_SET_FILE_NAME {data}/BASIS_MOLOPT",
                     f"POTENTIAL_FILE_NAME {data}/GTH_POTENTIALS", f"CHARGE {charge}"]
    if n_el % 2:
        dft.keywords.append("UKS")
    if runner.wants_dipole_correction(atoms, s.dipole_correction):
        dft.keywords += ["SURFACE_DIPOLE_CORRECTION", "SURF_DIP_DIR Z"]
    _add_grid_and_scf(dft, s, alpha, n_el)
    if _periodic(s) == "NONE":
        dft.get_subsection("POISSON").keywords += ["PERIODIC NONE", "POISSON_SOLVER MT"]
    _add_subsys(root.get_subsection("FORCE_EVAL/SUBSYS"), atoms, s, kinds, valence)
    return root


def _add_motion(root: InputSection, atoms: Atoms, s: Cp2kSettings, run: str) -> None:
    """CP2K's BFGS to max force ``fmax`` (RMS fmax/1.5) in Hartree/bohr; fixed atoms."""
    fmax_au = float(s.fmax) / (Hartree / Bohr)
    root.get_subsection(f"MOTION/{run}").keywords += [
        "OPTIMIZER BFGS", f"MAX_ITER {int(s.max_steps)}", f"MAX_FORCE {fmax_au:.6e}",
        f"RMS_FORCE {fmax_au / 1.5:.6e}"]
    fixed = sorted({int(i) + 1 for c in atoms.constraints if isinstance(c, FixAtoms)
                    for i in c.index})
    if fixed:
        section = root.get_subsection("MOTION/CONSTRAINT/FIXED_ATOMS")
        section.keywords += ["LIST " + " ".join(str(i) for i in fixed[k:k + 20])
                             for k in range(0, len(fixed), 20)]


def _periodic(s: Cp2kSettings) -> str:
    """CP2K's PERIODIC: the setting, else XYZ (CP2K's own default: bulk and slabs)."""
    return s.periodic or "XYZ"


def _add_grid_and_scf(dft: InputSection, s: Cp2kSettings, alpha: float, n_el: int) -> None:
    """Grid cutoffs (Ry), SCF thresholds, the mixing of this attempt and Fermi-Dirac
    smearing (electronic temperature in K, with room for ``n_el``/10 empty orbitals)."""
    scf = dft.get_subsection("SCF")
    scf.keywords += [f"EPS_SCF {float(s.eps_scf):.2e}", f"MAX_SCF {int(s.max_scf)}"]
    scf.get_subsection("MIXING").keywords.append(f"ALPHA {alpha}")
    if s.smearing_K:
        scf.keywords.append(f"ADDED_MOS {max(10, n_el // 10)}")
        smear = scf.get_subsection("SMEAR")
        smear.params = "ON"
        smear.keywords += ["METHOD FERMI_DIRAC", f"ELECTRONIC_TEMPERATURE [K] {s.smearing_K}"]
    dft.get_subsection("MGRID").keywords += [f"CUTOFF {float(s.cutoff)}",
                                             f"REL_CUTOFF {float(s.rel_cutoff)}"]


def _add_subsys(subsys: InputSection, atoms: Atoms, s: Cp2kSettings, kinds: list[Species],
                valence: Mapping[str, int]) -> None:
    """Cell (Å), coordinates (Å) and one KIND per element or pseudo-hydrogen charge."""
    subsys.get_subsection("CELL").keywords += [
        f"{name} {v[0]:.10f} {v[1]:.10f} {v[2]:.10f}"
        for name, v in zip("ABC", atoms.cell[:], strict=True)] + [
        f"PERIODIC {_periodic(s)}"]
    subsys.get_subsection("COORD").keywords += [
        f"{k.label} {p[0]:.10f} {p[1]:.10f} {p[2]:.10f}"
        for k, p in zip(kinds, atoms.positions, strict=True)]
    for kind in unique_species(kinds):
        section = InputSection("KIND", params=kind.label)
        section.keywords += [f"ELEMENT {kind.element}", f"BASIS_SET {s.basis}",
                             f"POTENTIAL GTH-PBE-q{valence[kind.element]}"]
        if kind.charge > 0:
            section.keywords.append(f"CORE_CORRECTION {kind.charge - 1.0:.6f}")
        subsys.subsections.append(section)


def write_input(atoms: Atoms, s: Cp2kSettings, run: str, alpha: float) -> str:
    """The text of ``input_tree``."""
    return "\n".join(input_tree(atoms, s, run, alpha).write()) + "\n"


def unturned_cell(input_cell: np.ndarray, cp2k_cell: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """A relaxed cell in the orientation of the input cell, and the matrix that takes row
    vectors (positions, forces) from CP2K's frame to that orientation.

    CELL_OPT works on a cell turned to a along x, b in the xy plane: its final cell is
    ``input_cell @ F``, F = S R with S the symmetric stretch and R a rotation. The cell
    returned is ``input_cell @ S`` (the relaxed lattice, not turned); vectors map by R^T.
    """
    f = np.linalg.solve(input_cell, cp2k_cell)
    w, v = np.linalg.eigh(f @ f.T)
    stretch = v @ np.diag(np.sqrt(w)) @ v.T
    return input_cell @ stretch, np.linalg.solve(stretch, f).T


def final_frame(restart: Path, atoms: Atoms, cell_relaxed: bool
                ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """The last geometry of a CP2K optimisation (its restart file) in the frame of
    ``atoms``: positions (Å), the relaxed cell (Å; None when the cell was fixed) and the
    matrix that takes row vectors from CP2K's frame to this one (``unturned_cell``)."""
    final = read(restart, format="cp2k-restart")
    if not cell_relaxed:
        return final.positions, None, np.eye(3)
    cell, to_input = unturned_cell(atoms.cell[:], final.cell[:])
    return final.positions @ to_input, cell, to_input


def read_outcome(folder: Path, output: str, atoms: Atoms, task: str, run: str
                 ) -> runner.Outcome:
    """Energy (eV), forces (eV/Å) and, for an optimisation, the final geometry (restart
    file), from CP2K's output and files in ``folder``; ionic steps and SCF iterations."""
    energies = re.findall(r"ENERGY\| Total FORCE_EVAL \( QS \) energy \[a\.u\.\]:\s+"
                          r"(-?\d+\.\d+)", output)
    if not energies:
        raise CalcError("cp2k output has no total energy")
    forces = _forces(output, len(atoms))
    positions = cell = None
    if task == "relax":
        if not (folder / RESTART).is_file():
            raise CalcError(f"cp2k wrote no {RESTART} in {folder}: the optimisation "
                            "did not take a step; see cp2k.out")
        positions, cell, to_input = final_frame(folder / RESTART, atoms, run == "CELL_OPT")
        forces = forces @ to_input
    scf = sum(int(n) for n in re.findall(r"SCF run converged in\s+(\d+) steps", output))
    return runner.Outcome(
        energy=float(energies[-1]) * Hartree, forces=forces, positions=positions, cell=cell,
        steps=len(re.findall(r"OPTIMIZATION STEP:", output)), scf_cycles=scf,
        converged=task == "single" or "GEOMETRY OPTIMIZATION COMPLETED" in output)


def _forces(output: str, n: int) -> np.ndarray:
    """Forces (eV/Å) from the last ATOMIC FORCES block (a.u.)."""
    blocks = output.split("ATOMIC FORCES in [a.u.]")
    if len(blocks) < 2:
        return np.zeros((n, 3))
    rows = []
    for line in blocks[-1].splitlines()[3:3 + n]:
        parts = line.split()
        rows.append([float(x) for x in parts[3:6]])
    return np.array(rows) * Hartree / Bohr


@dataclass
class _Cp2kJob:
    """One CP2K calculation on ``atoms`` in ``folder``."""

    atoms: Atoms
    s: Cp2kSettings
    run: str
    folder: Path
    program: runner.Program

    def alpha(self, k: int) -> float:
        """Broyden mixing of attempt k: the preset's halved k times."""
        return float(self.s.mixing_alpha) / 2**k

    def attempt(self, k: int) -> str:
        """Write and run attempt ``k``; its output text (or ScfNotConverged, CalcError)."""
        for stale in self.folder.glob(f"{PROJECT}-*"):  # an earlier attempt's or run's files
            stale.unlink()
        (self.folder / INPUT).write_text(write_input(self.atoms, self.s, self.run,
                                                     self.alpha(k)))
        return runner.run_program(self.program, self.folder)

    def retrying(self, k: int) -> str:
        return f"SCF not converged with mixing alpha {self.alpha(k)}; retrying"

    def give_up(self, k: int) -> str:
        return (f"SCF did not converge after {k + 1} attempts (last mixing alpha "
                f"{self.alpha(k):g}): raise max_scf, lower mixing_alpha or check the structure")


class Cp2kEngine(runner.SerialEngine):
    """The CP2K engine. Settings: ``Cp2kSettings`` over ``presets/cp2k.yaml``."""

    name = "cp2k"

    def available(self) -> tuple[bool, str]:
        if shutil.which("cp2k.psmp") is None:
            return False, "cp2k.psmp not found: run facetflow engines --install cp2k"
        if not (Path(DEFAULT_DATA_DIR) / "BASIS_MOLOPT").is_file():
            return False, "cp2k-data missing: run facetflow engines --install cp2k"
        return True, shutil.which("cp2k.psmp")

    def run(self, atoms: Atoms, task: str, settings: Mapping[str, Any]) -> CalcResult:
        s = run_settings(self.name, atoms, settings)
        program = shlex.split(s.command)[-1]
        if shutil.which(program) is None:
            raise EngineUnavailable(self.name, f"{program} not found: run "
                                    "facetflow engines --install cp2k")
        started = time.perf_counter()
        with runner.scratch(self.name, s.workdir) as work:
            job = _Cp2kJob(atoms, s, run_type(task, s), work, _cp2k_program(s))
            output, warnings = runner.retry_scf(job, int(s.scf_retries) + 1)
            outcome = read_outcome(work, output, atoms, task, job.run)
        nel = re.search(r"Number of electrons:\s+(\d+)", output)
        outcome.provenance = {
            "engine": self.name, "code": "CP2K", "version": _version(output),
            "command": s.command, "charge": total_charge(atoms),
            "n_electrons": int(nel.group(1)) if nel else None, "basis": s.basis,
            "settings": s.model_dump(exclude_none=True)}
        return runner.assemble(self.name, task, atoms, outcome, started, warnings)


def _cp2k_program(s: Cp2kSettings) -> runner.Program:
    """``<command> -i cp2k.inp`` with OpenMP threads ``threads`` unless the environment
    sets them."""
    return runner.Program("cp2k", Cp2kProfile(s.command), INPUT, OUTPUT,
                          scf_failed="SCF run NOT converged", finished="PROGRAM ENDED AT",
                          error_text=_abort_text,
                          env_defaults={"OMP_NUM_THREADS": str(s.threads or 1)})


def _version(output: str) -> str | None:
    m = re.search(r"CP2K\| version string:\s+(.*)", output)
    return m.group(1).strip() if m else None


def _abort_text(text: str) -> str:
    """CP2K's ABORT message, else the last words of its output."""
    m = re.search(r"\*\s+\[ABORT\]\s+\*(.*?)\*{20,}", text, re.S)
    if m:
        return " ".join(m.group(1).replace("*", " ").split())
    return " ".join(text.split()[-60:])


ENGINE = Cp2kEngine()
