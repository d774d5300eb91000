"""VASP engine: pymatgen input sets, custodian error handling, pymatgen output parsing.

Inputs
    INCAR and KPOINTS from pymatgen's ``MPRelaxSet`` (bulk, molecules) or ``MVLSlabSet``
    (slabs: k-points from k_product = N x a, k_z = 1; dipole correction LDIPOL/IDIPOL = 3
    for asymmetric slabs) with the study's values: PBE, ENCUT 450 eV, EDIFF 1e-5,
    EDIFFG -0.01. POSCAR is written here so that each pseudo-hydrogen charge is its own
    species block with its own POTCAR (H.5, H.75, H1.25, H1.5); fixed atoms get
    selective dynamics ``F F F``.
POTCAR
    With ``PMG_VASP_PSP_DIR`` set, the POTCAR is assembled by pymatgen; without it only
    ``POTCAR.spec`` (one symbol per species) is written, enough to check inputs, and the
    run stops with a message saying what to set.
Run
    ``custodian`` runs ``command`` (the setting; ``$VASP_COMMAND`` when it is null) with
    VaspErrorHandler, UnconvergedErrorHandler, NonConvergingErrorHandler,
    PotimErrorHandler, PositiveEnergyErrorHandler and, when ``walltime`` is set,
    WalltimeHandler; corrections are recorded in the result's warnings and provenance.
Outputs
    ``vasprun.xml`` parsed with pymatgen's ``Vasprun`` (final energy, forces, structure,
    ionic and electronic steps). With ``electronic: true`` also ``LORBIT = 11`` and
    ``LVHAR``: eigenvalues, projections and the planar-averaged ``LOCPOT``
    (``engines.electronic_vasp``).
"""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.constraints import FixAtoms

from facetflow.engines.base import (
    CalcError,
    EngineUnavailable,
    max_force,
)
from facetflow.engines.electronic_vasp import INCAR_TAGS, vasp_electronic
from facetflow.engines.runner import SerialEngine, wants_dipole_correction
from facetflow.engines.settings import VaspSettings, resolve_settings, run_settings
from facetflow.records.calc import CalcResult, atoms_to_dict


def pseudo_h_potcar(q: float) -> str:
    """VASP's name for the pseudo-hydrogen POTCAR of charge q: 0.75 -> H.75, 1.25 -> H1.25."""
    text = f"{q:.2f}".rstrip("0").rstrip(".")
    return "H" + (text[1:] if text.startswith("0") else text)


def _plain(atoms: Atoms) -> Atoms:
    return Atoms(atoms.get_chemical_symbols(), positions=atoms.positions, cell=atoms.cell,
                 pbc=True)


def species_blocks(atoms: Atoms, potcar_map: dict[str, str]) -> tuple[list[str], list[int]]:
    """POTCAR symbol of each species block and the atom order (original indices) of the
    POSCAR: blocks in order of first appearance, pseudo-H charges as separate blocks."""
    q = atoms.arrays.get("pseudo_h_charge", np.zeros(len(atoms)))
    labels = []
    for sym, charge in zip(atoms.get_chemical_symbols(), q, strict=True):
        labels.append(pseudo_h_potcar(float(charge)) if (sym == "H" and charge > 0)
                      else potcar_map.get(sym, sym))
    blocks = list(dict.fromkeys(labels))
    order = [i for b in blocks for i, lab in enumerate(labels) if lab == b]
    return blocks, order


def input_set(atoms: Atoms, s: VaspSettings, purpose: str):
    """The pymatgen input set for ``atoms`` with facetflow's settings applied."""
    # pymatgen's VASP sets are slow to import: only when VASP inputs are written
    from pymatgen.io.ase import AseAtomsAdaptor
    from pymatgen.io.vasp.sets import MPRelaxSet, MVLSlabSet

    structure = AseAtomsAdaptor.get_structure(_plain(atoms))
    incar = {"ENCUT": s.encut, "EDIFF": s.ediff, "EDIFFG": s.ediffg, "ISPIN": s.ispin,
             "ISMEAR": s.ismear, "SIGMA": s.sigma, "NSW": s.nsw, "ISIF": s.isif, "IBRION": 2,
             "LWAVE": False, "LCHARG": False}
    incar.update(s.incar or {})
    kpoints = {"reciprocal_density": s.reciprocal_density}
    functional = s.potcar_functional
    if purpose == "slab":
        dipole = wants_dipole_correction(atoms, s.dipole_correction)
        vs = MVLSlabSet(structure, auto_dipole=dipole,
                        k_product=int(s.k_product),
                        user_incar_settings=incar, user_potcar_functional=functional)
    else:
        vs = MPRelaxSet(structure, user_incar_settings=incar, user_kpoints_settings=kpoints,
                        user_potcar_functional=functional)
    return vs


def write_inputs(atoms: Atoms, s: VaspSettings, purpose: str, directory: Path,
                 task: str = "relax") -> tuple[list[str], list[int]]:
    """Write INCAR, KPOINTS, POSCAR and POTCAR.spec (and POTCAR when pymatgen can find
    POTCAR files). Returns the POTCAR symbols and the POSCAR atom order (original
    indices)."""
    from pymatgen.io.vasp.inputs import Incar, Kpoints, Potcar

    directory.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vs = input_set(atoms, s, purpose)
        incar = Incar(dict(vs.incar))
        kpts = vs.kpoints
    if task == "single":
        incar.update({"NSW": 0, "IBRION": -1})
        incar.pop("EDIFFG", None)
    if s.ispin == 1:
        incar.pop("MAGMOM", None)
    if s.electronic:
        incar.update(INCAR_TAGS)
    if purpose == "molecule" or s.gamma_only:
        kpts = Kpoints.gamma_automatic((1, 1, 1))
    potcar_map = dict(vs.CONFIG["POTCAR"])
    blocks, order = species_blocks(atoms, potcar_map)
    incar.write_file(directory / "INCAR")
    kpts.write_file(directory / "KPOINTS")
    _write_poscar(atoms, blocks, order, directory / "POSCAR")
    (directory / "POTCAR.spec").write_text("\n".join(blocks) + "\n")
    if os.environ.get("PMG_VASP_PSP_DIR"):
        Potcar(blocks, functional=s.potcar_functional).write_file(directory / "POTCAR")
    return blocks, order


def _write_poscar(atoms: Atoms, blocks: list[str], order: list[int], path: Path) -> None:
    symbols = atoms.get_chemical_symbols()
    fixed = set()
    for c in atoms.constraints:
        if isinstance(c, FixAtoms):
            fixed |= {int(i) for i in c.index}
    counts = []
    for b in blocks:
        counts.append(sum(1 for i in order if _block_of(atoms, i, blocks) == b))
    elements = [symbols[next(i for i in order if _block_of(atoms, i, blocks) == b)]
                for b in blocks]
    lines = [f"facetflow {atoms.get_chemical_formula()} ({' '.join(blocks)})", "1.0"]
    lines += [" ".join(f"{x:.10f}" for x in v) for v in atoms.cell[:]]
    lines += [" ".join(elements), " ".join(str(c) for c in counts)]
    if fixed:
        lines.append("Selective dynamics")
    lines.append("Cartesian")
    for i in order:
        p = atoms.positions[i]
        flag = (" F F F" if i in fixed else " T T T") if fixed else ""
        lines.append(f"{p[0]:.10f} {p[1]:.10f} {p[2]:.10f}{flag}")
    path.write_text("\n".join(lines) + "\n")


def _block_of(atoms: Atoms, i: int, blocks: list[str]) -> str:
    q = atoms.arrays.get("pseudo_h_charge", np.zeros(len(atoms)))[i]
    sym = atoms[i].symbol
    if sym == "H" and q > 0:
        return pseudo_h_potcar(float(q))
    return next(b for b in blocks if b == sym or b.split("_")[0] == sym)


def parse_vasprun(path: Path) -> dict:
    """Energy (eV), forces (eV/Å), final structure, ionic steps and SCF cycles from a
    vasprun.xml, with pymatgen."""
    from pymatgen.io.vasp import Vasprun

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vr = Vasprun(str(path), parse_dos=False, parse_eigen=False, parse_potcar_file=False)
    steps = vr.ionic_steps
    return {"energy": float(vr.final_energy), "forces": np.array(steps[-1]["forces"]),
            "structure": vr.final_structure, "ionic_steps": len(steps),
            "scf_cycles": sum(len(s["electronic_steps"]) for s in steps),
            "converged": bool(vr.converged), "version": vr.vasp_version,
            "converged_electronic": bool(vr.converged_electronic)}


class VaspEngine(SerialEngine):
    """The VASP engine. Settings: ``VaspSettings`` over ``presets/vasp.yaml``."""

    name = "vasp"

    def available(self) -> tuple[bool, str]:
        exe = _executable(_command(resolve_settings(self.name, "bulk")))
        if shutil.which(exe) is None:
            return False, (f"VASP binary {exe!r} not found: VASP is licensed and not "
                           "installed by facetflow; set engine.settings.command (or "
                           "command: null and $VASP_COMMAND), and PMG_VASP_PSP_DIR for "
                           "POTCARs")
        return True, f"{shutil.which(exe)}"

    def run(self, atoms: Atoms, task: str, settings: Mapping[str, Any]) -> CalcResult:
        s = run_settings(self.name, atoms, settings)
        purpose = _input_purpose(atoms, s)
        command = _command(s)
        if shutil.which(_executable(command)) is None:
            raise EngineUnavailable(self.name, self.available()[1])
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="facetflow-vasp-") as tmp:
            work = Path(s.workdir) if s.workdir else Path(tmp)
            blocks, order = write_inputs(atoms, s, purpose, work, task)
            if not (work / "POTCAR").exists() and not s.allow_potcar_spec:
                raise EngineUnavailable(self.name, "no POTCAR: set PMG_VASP_PSP_DIR to your "
                                        "VASP pseudopotential folder (POTCAR.spec written)")
            run_log = _custodian(command, s, work)
            if not (work / "vasprun.xml").is_file():
                raise CalcError("VASP finished without vasprun.xml")
            parsed = parse_vasprun(work / "vasprun.xml")
            if s.electronic:
                parsed["electronic"] = vasp_electronic(work, atoms, order)
        return self._result(atoms, task, parsed, order, run_log, time.perf_counter() - t0,
                            {"command": command, "potcar_symbols": blocks,
                             "settings": s.model_dump(exclude_none=True)})

    def _result(self, atoms: Atoms, task: str, parsed: dict, order: list[int],
                run_log: list, wall: float, provenance: dict) -> CalcResult:
        """The result record: forces and positions back in the input's atom order."""
        forces = np.zeros((len(atoms), 3))
        positions = atoms.positions.copy()
        final_cart = parsed["structure"].cart_coords
        for k, i in enumerate(order):
            forces[i] = parsed["forces"][k]
            positions[i] = final_cart[k]
        final = atoms.copy()
        final.positions = positions
        final.cell = parsed["structure"].lattice.matrix
        fixes = [{"errors": sorted(c.get("errors", [])),
                  "actions": [a.get("action") for a in c.get("actions") or []]}
                 for job in run_log for c in job.get("corrections", [])]
        notes = [f"custodian fixed {', '.join(f['errors'])}" for f in fixes]
        return CalcResult(
            engine=self.name, task=task, converged=parsed["converged"],
            energy=parsed["energy"], forces=forces.tolist(), structure=atoms_to_dict(final),
            steps=parsed["ionic_steps"], scf_cycles=parsed["scf_cycles"], wall_time=wall,
            fmax=max_force(forces, atoms), warnings=notes,
            electronic=parsed.get("electronic"),
            provenance={"engine": self.name, "code": "VASP", "version": parsed["version"],
                        "command": provenance["command"], "corrections": fixes,
                        "potcar_symbols": provenance["potcar_symbols"],
                        "settings": provenance["settings"]})


def _input_purpose(atoms: Atoms, s: VaspSettings) -> str:
    """Which inputs to write: ``slab`` (MVLSlabSet) for facetflow slabs (they carry a
    ``region`` array), else ``molecule`` (Gamma point) when the settings say
    ``gamma_only`` (the molecule preset does), else ``bulk``. Taken from the settings, not
    guessed from the structure: a metal whose atoms are more than 3 Å apart (In) is a
    bulk reference, not a molecule."""
    if "region" in atoms.arrays:
        return "slab"
    return "molecule" if s.gamma_only else "bulk"


def _command(s: VaspSettings) -> str:
    """The VASP command: the setting, else ``$VASP_COMMAND``, else ``vasp_std``."""
    return str(s.command or os.environ.get("VASP_COMMAND") or "vasp_std")


def _executable(command: str) -> str:
    """The VASP binary of a command line (its last word: ``srun vasp_std``)."""
    return shlex.split(command)[-1]


def _custodian(command: str, s: VaspSettings, work: Path) -> list:
    """Run VASP in ``work`` under custodian's error handlers; its run log (corrections)."""
    # custodian imports its handlers' dependencies (seconds): only when VASP runs
    from custodian import Custodian
    from custodian.custodian import CustodianError
    from custodian.vasp.handlers import (
        NonConvergingErrorHandler,
        PositiveEnergyErrorHandler,
        PotimErrorHandler,
        UnconvergedErrorHandler,
        VaspErrorHandler,
        WalltimeHandler,
    )
    from custodian.vasp.jobs import VaspJob

    handlers = [VaspErrorHandler(), UnconvergedErrorHandler(), NonConvergingErrorHandler(),
                PotimErrorHandler(), PositiveEnergyErrorHandler()]
    if s.walltime:
        handlers.append(WalltimeHandler(wall_time=int(s.walltime)))
    job = VaspJob(shlex.split(command), auto_npar=False, auto_gamma=False)
    cust = Custodian(handlers, [job], max_errors=int(s.max_errors), directory=str(work),
                     polling_time_step=1, monitor_freq=5,
                     terminate_on_nonzero_returncode=False)
    try:
        return cust.run()
    except CustodianError as exc:  # out of corrections, non-recoverable, validation
        raise CalcError(f"VASP failed under custodian: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - custodian's handlers parse VASP's output with
        # pymatgen, whose parsers raise any type on a half-written file: this calculation
        # fails, the others of the run go on
        raise CalcError(f"VASP failed under custodian: {type(exc).__name__}: {exc}") from exc


ENGINE = VaspEngine()
