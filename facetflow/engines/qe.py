"""Quantum ESPRESSO (``pw.x``) engine: PBE with PseudoDojo norm-conserving
pseudopotentials and ld1.x-generated pseudo-hydrogens.

Each pseudo-hydrogen charge is its own species (``H1``, ``H2`` ... in ATOMIC_SPECIES), so
a slab passivated by H(0.75) and H(1.25) has exactly the valence electrons of electron
counting. Relaxations use pw.x's own BFGS (``calculation='relax'``, or ``'vc-relax'``
for bulk), which keeps wavefunctions between ionic steps; ``FixAtoms`` become
``if_pos = 0 0 0``. Asymmetric slabs get a dipole correction along z (``tefield``,
``dipfield``) with the sawtooth in the middle of the vacuum.

SCF failures are retried ``scf_retries`` times, each with half the mixing beta and twice
the smearing; then a ``CalcError`` says what to change.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.constraints import FixAtoms
from ase.data import atomic_masses, atomic_numbers
from ase.io import read
from ase.units import Bohr, Ry

from facetflow.engines.base import (
    CalcError,
    CalcResult,
    EngineUnavailable,
    atoms_to_dict,
    kpoint_mesh,
    max_force,
)
from facetflow.engines.pseudos import checksum, pseudo_dir, pseudo_hydrogen


def _species(atoms: Atoms) -> list[tuple[str, str, float]]:
    """(label, element, pseudo-H charge or 0) for every atom. pw.x species labels have at
    most three characters: pseudo-hydrogens are H1, H2 ... in order of increasing charge."""
    q = atoms.arrays.get("pseudo_h_charge", np.zeros(len(atoms)))
    charges = sorted({round(float(c), 6) for c in q if c > 0})
    out = []
    for sym, charge in zip(atoms.get_chemical_symbols(), q, strict=True):
        if sym == "H" and charge > 0:
            k = charges.index(round(float(charge), 6)) + 1
            out.append((f"H{k}", "H", float(charge)))
        else:
            out.append((sym, sym, 0.0))
    return out


def _is_asymmetric_slab(atoms: Atoms) -> bool:
    return "region" in atoms.arrays and not atoms.info.get("symmetric", True)


def write_input(atoms: Atoms, settings: dict, calculation: str, pseudos: dict[str, str],
                pseudo_folder: Path, outdir: Path, beta: float, degauss: float) -> str:
    species = _species(atoms)
    labels = list(dict.fromkeys(s[0] for s in species))
    fmax_ry_bohr = float(settings.get("fmax", 0.01)) / (Ry / Bohr)
    nat = len(atoms)
    control = {
        "calculation": f"'{calculation}'", "prefix": "'pw'", "outdir": f"'{outdir}'",
        "pseudo_dir": f"'{pseudo_folder}'", "tprnfor": ".true.", "tstress": ".true.",
        "forc_conv_thr": f"{fmax_ry_bohr:.6e}",
        "etot_conv_thr": f"{float(settings.get('etot_conv_thr', 1e-4)):.3e}",
        "nstep": int(settings.get("max_steps", 200)),
        "disk_io": "'low'",
    }
    system = {"ibrav": 0, "nat": nat, "ntyp": len(labels),
              "ecutwfc": float(settings.get("ecutwfc", 60.0)),
              "ecutrho": float(settings.get("ecutwfc", 60.0)) *
              float(settings.get("ecutrho_factor", 4.0)),
              "occupations": f"'{settings.get('occupations', 'smearing')}'"}
    if settings.get("occupations", "smearing") == "smearing":
        system["smearing"] = f"'{settings.get('smearing', 'gaussian')}'"
        system["degauss"] = degauss
    dip = settings.get("dipole_correction", "auto")
    if dip is True or (dip == "auto" and _is_asymmetric_slab(atoms)):
        z = atoms.get_scaled_positions()[:, 2]
        gap_center = (z.max() + (1 + z.min())) / 2 % 1.0
        control["tefield"] = ".true."
        control["dipfield"] = ".true."
        system.update({"edir": 3, "emaxpos": round(gap_center, 4), "eopreg": 0.05,
                       "eamp": 0.0})
    electrons = {"conv_thr": f"{float(settings.get('conv_thr_per_atom', 1e-9)) * nat:.3e}",
                 "mixing_beta": beta,
                 "electron_maxstep": int(settings.get("electron_maxstep", 150))}
    lines = []
    for name, block in (("control", control), ("system", system), ("electrons", electrons)):
        lines.append(f"&{name}")
        lines += [f"   {k} = {v}" for k, v in block.items()]
        lines.append("/")
    if calculation in ("relax", "vc-relax"):
        lines += ["&ions", "   ion_dynamics = 'bfgs'", "/"]
    if calculation == "vc-relax":
        lines += ["&cell", "   cell_dynamics = 'bfgs'", "   press_conv_thr = 0.5", "/"]
    lines.append("ATOMIC_SPECIES")
    for label in labels:
        element = next(s[1] for s in species if s[0] == label)
        mass = atomic_masses[atomic_numbers[element]]
        lines.append(f"   {label} {mass:.4f} {pseudos[label]}")
    lines.append("CELL_PARAMETERS angstrom")
    lines += [f"   {v[0]:.10f} {v[1]:.10f} {v[2]:.10f}" for v in atoms.cell[:]]
    fixed = set()
    for c in atoms.constraints:
        if isinstance(c, FixAtoms):
            fixed |= {int(i) for i in c.index}
    lines.append("ATOMIC_POSITIONS angstrom")
    for k, ((label, _, _), pos) in enumerate(zip(species, atoms.positions, strict=True)):
        flags = "   0 0 0" if k in fixed else ""
        lines.append(f"   {label} {pos[0]:.10f} {pos[1]:.10f} {pos[2]:.10f}{flags}")
    mesh = kpoint_mesh(atoms, float(settings.get("kpt_density", 3.5)))
    if mesh == (1, 1, 1) and not np.any(atoms.pbc):
        lines += ["K_POINTS gamma"]
    else:
        lines += ["K_POINTS automatic", f"   {mesh[0]} {mesh[1]} {mesh[2]} 0 0 0"]
    return "\n".join(lines) + "\n"


class QeEngine:
    name = "qe"

    def available(self) -> tuple[bool, str]:
        if shutil.which("pw.x") is None:
            return False, "pw.x not found: run facetflow engines --install qe"
        if not (pseudo_dir() / "H.upf").is_file():
            return False, ("pseudopotentials missing in " + str(pseudo_dir()) +
                           ": run facetflow engines --install qe")
        return True, f"pw.x ({shutil.which('pw.x')}), pseudopotentials {pseudo_dir().name}"

    def _pseudos(self, atoms: Atoms, settings: dict) -> dict[str, Path]:
        folder = Path(settings.get("pseudo_dir") or pseudo_dir())
        files: dict[str, Path] = {}
        for label, element, q in _species(atoms):
            if label in files:
                continue
            if q > 0:
                try:
                    files[label] = pseudo_hydrogen(q, settings.get("ld1_command", "ld1.x"))
                except FileNotFoundError as exc:
                    raise EngineUnavailable(self.name, str(exc)) from None
            else:
                path = folder / f"{element}.upf"
                if not path.is_file():
                    raise EngineUnavailable(self.name, f"no pseudopotential for {element} in "
                                            f"{folder}: add {element}.upf or set pseudo_dir")
                files[label] = path
        return files

    def run(self, atoms: Atoms, task: str, settings: dict) -> CalcResult:
        ok, why = self.available()
        if not ok and not settings.get("pseudo_dir"):
            raise EngineUnavailable(self.name, why)
        command = str(settings.get("command", "pw.x"))
        if shutil.which(command.split()[-1]) is None:
            raise EngineUnavailable(self.name, f"{command.split()[-1]} not found")
        files = self._pseudos(atoms, settings)
        calculation = "scf"
        if task == "relax":
            calculation = "vc-relax" if settings.get("relax_cell") else "relax"
        beta = float(settings.get("mixing_beta", 0.4))
        degauss = float(settings.get("degauss", 0.01))
        warnings: list[str] = []
        t0 = time.perf_counter()
        keep = settings.get("workdir")
        with tempfile.TemporaryDirectory(prefix="facetflow-qe-") as tmp:
            work = Path(keep) if keep else Path(tmp)
            work.mkdir(parents=True, exist_ok=True)
            staged = work / "pseudo"
            staged.mkdir(exist_ok=True)
            names = {}
            for label, path in files.items():
                target = staged / path.name
                if not target.exists():
                    shutil.copyfile(path, target)
                names[label] = target.name
            attempts = int(settings.get("scf_retries", 2)) + 1
            for _ in range(attempts):
                text = write_input(atoms, settings, calculation, names, staged,
                                   work / "out", beta, degauss)
                (work / "pw.in").write_text(text)
                with open(work / "pw.out", "w") as fh:
                    proc = subprocess.run(command.split() + ["-in", "pw.in"], cwd=work,
                                          stdout=fh, stderr=subprocess.STDOUT)
                output = (work / "pw.out").read_text(errors="replace")
                if "convergence NOT achieved" not in output and proc.returncode == 0 and \
                        "JOB DONE" in output:
                    break
                if "convergence NOT achieved" in output:
                    warnings.append(f"SCF not converged with mixing_beta={beta}, "
                                    f"degauss={degauss}; retrying")
                    beta, degauss = beta / 2, degauss * 2
                    continue
                raise CalcError(f"pw.x failed (exit {proc.returncode}): "
                                f"{_error_text(output)}")
            else:
                raise CalcError(
                    f"SCF did not converge after {attempts} attempts (last mixing_beta="
                    f"{beta * 2:g}, degauss={degauss / 2:g} Ry): raise electron_maxstep, "
                    "lower mixing_beta, increase degauss, or check the structure")
            final = read(work / "pw.out", format="espresso-out", index=-1)
        wall = time.perf_counter() - t0
        energy = float(final.get_potential_energy())
        forces = np.asarray(final.get_forces())
        result_atoms = atoms.copy()
        result_atoms.positions = final.positions
        result_atoms.cell = final.cell
        steps = len(re.findall(r"^!\s+total energy", output, re.M))
        scf = sum(int(n) for n in re.findall(r"convergence has been achieved in\s+(\d+)",
                                             output))
        converged = task == "single" or "bfgs converged" in output or \
            "End final coordinates" in output
        nelec = re.search(r"number of electrons\s*=\s*([\d.]+)", output)
        return CalcResult(
            engine=self.name, task=task, converged=converged, energy=energy,
            forces=forces.tolist(), structure=atoms_to_dict(result_atoms),
            steps=max(steps - 1, 0) if task == "relax" else 0, scf_cycles=scf,
            wall_time=wall, fmax=max_force(forces, atoms), warnings=warnings,
            trajectory_energies=[float(x) * Ry for x in re.findall(
                r"^!\s+total energy\s+=\s+(-?[\d.]+)", output, re.M)],
            provenance={"engine": self.name, "code": "Quantum ESPRESSO pw.x",
                        "version": _version(output), "command": command,
                        "n_electrons": float(nelec.group(1)) if nelec else None,
                        "pseudopotentials": {k: {"file": Path(v).name, "sha256": checksum(v)}
                                             for k, v in files.items()},
                        "settings": dict(settings)})


def _version(output: str) -> str | None:
    m = re.search(r"Program PWSCF v\.(\S+)", output)
    return m.group(1) if m else None


def _error_text(output: str) -> str:
    m = re.search(r"%%%%+\n(.*?)\n\s*%%%%+", output, re.S)
    return " ".join(m.group(1).split()) if m else output[-400:]


ENGINE = QeEngine()
