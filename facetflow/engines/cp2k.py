"""CP2K engine (Quickstep GPW, PBE, GTH pseudopotentials, MOLOPT basis from Debian's
cp2k-data), run as ``cp2k.psmp -i cp2k.inp`` with CP2K's own optimiser (GEO_OPT, or
CELL_OPT for bulk), which keeps the wavefunction between ionic steps.

Pseudo-hydrogen (documented approximation): each charge q is its own KIND with
``ELEMENT H``, the GTH-PBE-q1 potential and ``CORE_CORRECTION q - 1``, which changes the
effective nuclear charge to q. CP2K counts electrons from the potentials' valence minus
``CHARGE``, so the engine sets CHARGE = sum(1 - q) over the pseudo-hydrogens; that must be
an integer (it is for four H(0.75) or two H(0.5) per cell), else the engine says so.
The basis of a pseudo-H is that of H. An odd electron count switches on UKS.
Fixed atoms become MOTION/CONSTRAINT/FIXED_ATOMS. Asymmetric slabs get CP2K's surface
dipole correction along z. Gamma point only. SCF failures are retried with half the
mixing, then reported.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from functools import cache
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.constraints import FixAtoms
from ase.io import read
from ase.units import Bohr, Hartree

from facetflow.engines.base import (
    CalcError,
    CalcResult,
    EngineUnavailable,
    atoms_to_dict,
    max_force,
)


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


def _kinds(atoms: Atoms) -> list[tuple[str, str, float]]:
    """(kind label, element, pseudo-H charge or 0) per atom."""
    q = atoms.arrays.get("pseudo_h_charge", np.zeros(len(atoms)))
    charges = sorted({round(float(c), 6) for c in q if c > 0})
    out = []
    for sym, c in zip(atoms.get_chemical_symbols(), q, strict=True):
        if sym == "H" and c > 0:
            out.append((f"HP{charges.index(round(float(c), 6)) + 1}", "H", float(c)))
        else:
            out.append((sym, sym, 0.0))
    return out


def total_charge(atoms: Atoms) -> int:
    """CHARGE that gives the pseudo-hydrogens their fractional valence (see module doc)."""
    q = atoms.arrays.get("pseudo_h_charge", np.zeros(len(atoms)))
    deficit = float(sum(1.0 - c for c in q if c > 0))
    if abs(deficit - round(deficit)) > 1e-6:
        raise CalcError(f"pseudo-hydrogens remove {deficit:g} electrons, not a whole number: "
                        "CP2K's CHARGE is an integer; use a supercell with 4n H(0.75)/H(1.25) "
                        "or 2n H(0.5)/H(1.5) per cell, or another engine")
    return int(round(deficit))


def write_input(atoms: Atoms, settings: dict, run_type: str, alpha: float) -> str:
    data = settings.get("data_dir", "/usr/share/cp2k")
    basis = settings.get("basis", "DZVP-MOLOPT-SR-GTH")
    valence = _basis_valence(data, basis)
    kinds = _kinds(atoms)
    charge = total_charge(atoms)
    zval = {"H": 1, **valence}
    n_el = sum(zval.get(el, 0) for _, el, _ in kinds) - charge
    periodic = settings.get("periodic", "XYZ")
    asym = "region" in atoms.arrays and not atoms.info.get("symmetric", True)
    dip = settings.get("dipole_correction", "auto")
    lines = ["&GLOBAL", "  PROJECT cp2k", f"  RUN_TYPE {run_type}", "  PRINT_LEVEL MEDIUM",
             "&END GLOBAL"]
    if run_type in ("GEO_OPT", "CELL_OPT"):
        fmax_au = float(settings.get("fmax", 0.01)) / (Hartree / Bohr)
        section = "GEO_OPT" if run_type == "GEO_OPT" else "CELL_OPT"
        lines += ["&MOTION", f"  &{section}", "    OPTIMIZER BFGS",
                  f"    MAX_ITER {int(settings.get('max_steps', 200))}",
                  f"    MAX_FORCE {fmax_au:.6e}", f"    RMS_FORCE {fmax_au / 1.5:.6e}",
                  f"  &END {section}"]
        fixed = sorted({int(i) + 1 for c in atoms.constraints if isinstance(c, FixAtoms)
                        for i in c.index})
        if fixed:
            lines += ["  &CONSTRAINT", "    &FIXED_ATOMS"]
            for k in range(0, len(fixed), 20):
                lines.append("      LIST " + " ".join(str(i) for i in fixed[k:k + 20]))
            lines += ["    &END FIXED_ATOMS", "  &END CONSTRAINT"]
        lines += ["  &PRINT", "    &TRAJECTORY", "      FORMAT XYZ", "    &END TRAJECTORY",
                  "  &END PRINT", "&END MOTION"]
    lines += ["&FORCE_EVAL", "  METHOD Quickstep", "  &PRINT", "    &FORCES ON",
              "    &END FORCES", "  &END PRINT"]
    if run_type == "CELL_OPT":
        lines += ["  STRESS_TENSOR ANALYTICAL"]
    lines += ["  &DFT", f"    BASIS_SET_FILE_NAME {data}/BASIS_MOLOPT",
              f"    POTENTIAL_FILE_NAME {data}/GTH_POTENTIALS", f"    CHARGE {charge}"]
    if n_el % 2:
        lines.append("    UKS")
    if dip is True or (dip == "auto" and asym):
        lines += ["    SURFACE_DIPOLE_CORRECTION", "    SURF_DIP_DIR Z"]
    lines += ["    &MGRID", f"      CUTOFF {float(settings.get('cutoff', 400))}",
              f"      REL_CUTOFF {float(settings.get('rel_cutoff', 50))}", "    &END MGRID",
              "    &SCF", f"      EPS_SCF {float(settings.get('eps_scf', 1e-6)):.2e}",
              f"      MAX_SCF {int(settings.get('max_scf', 100))}",
              "      SCF_GUESS ATOMIC"]
    temp = settings.get("smearing_K")
    lines += ["      &DIAGONALIZATION", "        ALGORITHM STANDARD", "      &END DIAGONALIZATION",
              "      &MIXING", "        METHOD BROYDEN_MIXING", f"        ALPHA {alpha}",
              "      &END MIXING"]
    if temp:
        lines += [f"      ADDED_MOS {max(10, n_el // 10)}", "      &SMEAR ON",
                  "        METHOD FERMI_DIRAC", f"        ELECTRONIC_TEMPERATURE [K] {temp}",
                  "      &END SMEAR"]
    lines += ["    &END SCF", "    &XC", "      &XC_FUNCTIONAL PBE", "      &END XC_FUNCTIONAL",
              "    &END XC"]
    if periodic == "NONE":
        lines += ["    &POISSON", "      PERIODIC NONE", "      POISSON_SOLVER MT",
                  "    &END POISSON"]
    lines += ["  &END DFT", "  &SUBSYS", "    &CELL"]
    for name, v in zip("ABC", atoms.cell[:], strict=True):
        lines.append(f"      {name} {v[0]:.10f} {v[1]:.10f} {v[2]:.10f}")
    lines += [f"      PERIODIC {periodic}", "    &END CELL", "    &COORD"]
    for (label, _, _), p in zip(kinds, atoms.positions, strict=True):
        lines.append(f"      {label} {p[0]:.10f} {p[1]:.10f} {p[2]:.10f}")
    lines.append("    &END COORD")
    for label in dict.fromkeys(k[0] for k in kinds):
        element, q = next((k[1], k[2]) for k in kinds if k[0] == label)
        zv = zval.get(element)
        if zv is None:
            raise EngineUnavailable("cp2k", f"no {basis} basis for {element} in {data}")
        lines += [f"    &KIND {label}", f"      ELEMENT {element}", f"      BASIS_SET {basis}",
                  f"      POTENTIAL GTH-PBE-q{zv}"]
        if q > 0:
            lines.append(f"      CORE_CORRECTION {q - 1.0:.6f}")
        lines.append("    &END KIND")
    lines += ["  &END SUBSYS", "&END FORCE_EVAL"]
    return "\n".join(lines) + "\n"


class Cp2kEngine:
    name = "cp2k"

    def available(self) -> tuple[bool, str]:
        if shutil.which("cp2k.psmp") is None:
            return False, "cp2k.psmp not found: run facetflow engines --install cp2k"
        if not Path("/usr/share/cp2k/BASIS_MOLOPT").is_file():
            return False, "cp2k-data missing: run facetflow engines --install cp2k"
        return True, shutil.which("cp2k.psmp")

    def run(self, atoms: Atoms, task: str, settings: dict) -> CalcResult:
        command = str(settings.get("command", "cp2k.psmp"))
        if shutil.which(command.split()[-1]) is None:
            raise EngineUnavailable(self.name, f"{command.split()[-1]} not found: run "
                                    "facetflow engines --install cp2k")
        run_type = "ENERGY_FORCE"
        if task == "relax":
            run_type = "CELL_OPT" if settings.get("relax_cell") else "GEO_OPT"
        alpha = float(settings.get("mixing_alpha", 0.2))
        warnings: list[str] = []
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="facetflow-cp2k-") as tmp:
            work = Path(settings.get("workdir") or tmp)
            work.mkdir(parents=True, exist_ok=True)
            attempts = int(settings.get("scf_retries", 2)) + 1
            for _ in range(attempts):
                (work / "cp2k.inp").write_text(write_input(atoms, settings, run_type, alpha))
                proc = subprocess.run(command.split() + ["-i", "cp2k.inp", "-o", "cp2k.out"],
                                      cwd=work, capture_output=True, text=True,
                                      env=_env(settings))
                output = (work / "cp2k.out").read_text(errors="replace") \
                    if (work / "cp2k.out").exists() else proc.stdout
                if "SCF run NOT converged" in output:
                    warnings.append(f"SCF not converged with mixing alpha {alpha}; retrying")
                    alpha /= 2
                    continue
                if proc.returncode != 0 or "PROGRAM ENDED AT" not in output:
                    raise CalcError(f"cp2k failed (exit {proc.returncode}): "
                                    f"{_abort_text(output + proc.stdout)}")
                break
            else:
                raise CalcError(f"SCF did not converge after {attempts} attempts (last mixing "
                                f"alpha {alpha * 2:g}): raise max_scf, lower mixing_alpha or "
                                "check the structure")
            energy = _last_float(r"ENERGY\| Total FORCE_EVAL \( QS \) energy \[a\.u\.\]:\s+"
                                 r"(-?\d+\.\d+)", output) * Hartree
            forces = _forces(output, len(atoms))
            final = atoms.copy()
            traj = work / "cp2k-pos-1.xyz"
            if task == "relax" and traj.exists():
                final.positions = read(traj, index=-1).positions
        wall = time.perf_counter() - t0
        nel = re.search(r"Number of electrons:\s+(\d+)", output)
        steps = len(re.findall(r"OPTIMIZATION STEP:", output))
        scf = sum(int(n) for n in re.findall(r"SCF run converged in\s+(\d+) steps", output))
        converged = task == "single" or "GEOMETRY OPTIMIZATION COMPLETED" in output
        return CalcResult(
            engine=self.name, task=task, converged=converged, energy=energy,
            forces=forces.tolist(), structure=atoms_to_dict(final), steps=steps,
            scf_cycles=scf, wall_time=wall, fmax=max_force(forces, atoms), warnings=warnings,
            provenance={"engine": self.name, "code": "CP2K", "version": _version(output),
                        "command": command, "charge": total_charge(atoms),
                        "n_electrons": int(nel.group(1)) if nel else None,
                        "basis": settings.get("basis", "DZVP-MOLOPT-SR-GTH"),
                        "settings": dict(settings)})


def _env(settings: dict) -> dict:
    import os

    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(settings.get("threads", 1)))
    return env


def _last_float(pattern: str, text: str) -> float:
    found = re.findall(pattern, text)
    if not found:
        raise CalcError("cp2k output has no total energy")
    return float(found[-1])


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


def _version(output: str) -> str | None:
    m = re.search(r"CP2K\| version string:\s+(.*)", output)
    return m.group(1).strip() if m else None


def _abort_text(text: str) -> str:
    m = re.search(r"\*\s+\[ABORT\]\s+\*(.*?)\*{20,}", text, re.S)
    if m:
        return " ".join(m.group(1).replace("*", " ").split())
    return " ".join(text.split()[-60:])


ENGINE = Cp2kEngine()
