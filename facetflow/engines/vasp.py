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
    ``custodian`` runs ``command`` (``settings.command`` or ``$VASP_COMMAND``) with
    VaspErrorHandler, UnconvergedErrorHandler, NonConvergingErrorHandler,
    PotimErrorHandler, PositiveEnergyErrorHandler and, when ``walltime`` is set,
    WalltimeHandler; corrections are recorded in the result's warnings and provenance.
Outputs
    ``vasprun.xml`` parsed with pymatgen's ``Vasprun`` (final energy, forces, structure,
    ionic and electronic steps).
"""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.constraints import FixAtoms

from facetflow.engines.base import (
    CalcError,
    CalcResult,
    EngineUnavailable,
    atoms_to_dict,
    max_force,
)


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


def input_set(atoms: Atoms, settings: dict, purpose: str):
    """The pymatgen input set for ``atoms`` with facetflow's settings applied."""
    from pymatgen.io.ase import AseAtomsAdaptor
    from pymatgen.io.vasp.sets import MPRelaxSet, MVLSlabSet

    structure = AseAtomsAdaptor.get_structure(_plain(atoms))
    incar = {"ENCUT": settings.get("encut", 450), "EDIFF": settings.get("ediff", 1e-5),
             "EDIFFG": settings.get("ediffg", -0.01), "ISPIN": settings.get("ispin", 1),
             "ISMEAR": settings.get("ismear", 0), "SIGMA": settings.get("sigma", 0.05),
             "NSW": settings.get("nsw", 200), "ISIF": settings.get("isif", 2), "IBRION": 2,
             "LWAVE": False, "LCHARG": False}
    incar.update(settings.get("incar") or {})
    kpoints = {"reciprocal_density": settings.get("reciprocal_density", 64)}
    functional = settings.get("potcar_functional", "PBE_54")
    if purpose == "slab":
        asym = "region" in atoms.arrays and not atoms.info.get("symmetric", True)
        dip = settings.get("dipole_correction", "auto")
        vs = MVLSlabSet(structure, auto_dipole=bool(dip is True or (dip == "auto" and asym)),
                        k_product=int(settings.get("k_product", 50)),
                        user_incar_settings=incar, user_potcar_functional=functional)
    else:
        vs = MPRelaxSet(structure, user_incar_settings=incar, user_kpoints_settings=kpoints,
                        user_potcar_functional=functional)
    return vs


def write_inputs(atoms: Atoms, settings: dict, purpose: str, directory: Path,
                 task: str = "relax") -> tuple[list[str], list[int]]:
    """Write INCAR, KPOINTS, POSCAR and POTCAR.spec (and POTCAR when pymatgen can find
    POTCAR files). Returns the POTCAR symbols and the POSCAR atom order (original
    indices)."""
    import warnings

    from pymatgen.io.vasp.inputs import Incar, Kpoints

    directory.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vs = input_set(atoms, settings, purpose)
        incar = Incar(dict(vs.incar))
        kpts = vs.kpoints
    if task == "single":
        incar.update({"NSW": 0, "IBRION": -1})
        incar.pop("EDIFFG", None)
    if int(settings.get("ispin", 1)) == 1:
        incar.pop("MAGMOM", None)
    if purpose == "molecule" or settings.get("gamma_only"):
        kpts = Kpoints.gamma_automatic((1, 1, 1))
    potcar_map = dict(vs.CONFIG["POTCAR"])
    blocks, order = species_blocks(atoms, potcar_map)
    incar.write_file(directory / "INCAR")
    kpts.write_file(directory / "KPOINTS")
    _write_poscar(atoms, blocks, order, directory / "POSCAR")
    (directory / "POTCAR.spec").write_text("\n".join(blocks) + "\n")
    if os.environ.get("PMG_VASP_PSP_DIR"):
        from pymatgen.io.vasp.inputs import Potcar

        Potcar(blocks, functional=settings.get("potcar_functional", "PBE_54")).write_file(
            directory / "POTCAR")
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
    import warnings

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


class VaspEngine:
    name = "vasp"

    def _command(self, settings: dict) -> str:
        return str(settings.get("command") or os.environ.get("VASP_COMMAND") or "vasp_std")

    def available(self) -> tuple[bool, str]:
        exe = shlex.split(self._command({}))[-1]
        if shutil.which(exe) is None:
            return False, (f"VASP binary {exe!r} not found: VASP is licensed and not "
                           "installed by facetflow; set engine.settings.command or "
                           "$VASP_COMMAND, and PMG_VASP_PSP_DIR for POTCARs")
        return True, f"{shutil.which(exe)}"

    def run(self, atoms: Atoms, task: str, settings: dict) -> CalcResult:
        from custodian import Custodian
        from custodian.vasp.handlers import (
            NonConvergingErrorHandler,
            PositiveEnergyErrorHandler,
            PotimErrorHandler,
            UnconvergedErrorHandler,
            VaspErrorHandler,
            WalltimeHandler,
        )
        from custodian.vasp.jobs import VaspJob

        from facetflow.engines.base import purpose_of

        purpose = settings.get("purpose") or purpose_of(atoms)
        command = self._command(settings)
        if shutil.which(shlex.split(command)[-1]) is None:
            raise EngineUnavailable(self.name, self.available()[1])
        t0 = time.perf_counter()
        keep = settings.get("workdir")
        with tempfile.TemporaryDirectory(prefix="facetflow-vasp-") as tmp:
            work = Path(keep) if keep else Path(tmp)
            blocks, order = write_inputs(atoms, settings, purpose, work, task)
            if not (work / "POTCAR").exists() and not settings.get("allow_potcar_spec"):
                raise EngineUnavailable(self.name, "no POTCAR: set PMG_VASP_PSP_DIR to your "
                                        "VASP pseudopotential folder (POTCAR.spec written)")
            handlers = [VaspErrorHandler(), UnconvergedErrorHandler(),
                        NonConvergingErrorHandler(), PotimErrorHandler(),
                        PositiveEnergyErrorHandler()]
            if settings.get("walltime"):
                handlers.append(WalltimeHandler(wall_time=int(settings["walltime"])))
            job = VaspJob(shlex.split(command), auto_npar=False, auto_gamma=False)
            cust = Custodian(handlers, [job], max_errors=int(settings.get("max_errors", 10)),
                             directory=str(work), polling_time_step=1, monitor_freq=5,
                             terminate_on_nonzero_returncode=False)
            try:
                run_log = cust.run()
            except Exception as exc:  # custodian raises its own error types
                raise CalcError(f"VASP failed under custodian: {exc}") from exc
            if not (work / "vasprun.xml").is_file():
                raise CalcError("VASP finished without vasprun.xml")
            parsed = parse_vasprun(work / "vasprun.xml")
        wall = time.perf_counter() - t0
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
        warnings = [f"custodian fixed {', '.join(f['errors'])}" for f in fixes]
        return CalcResult(
            engine=self.name, task=task, converged=parsed["converged"],
            energy=parsed["energy"], forces=forces.tolist(), structure=atoms_to_dict(final),
            steps=parsed["ionic_steps"], scf_cycles=parsed["scf_cycles"], wall_time=wall,
            fmax=max_force(forces, atoms), warnings=warnings,
            provenance={"engine": self.name, "code": "VASP", "version": parsed["version"],
                        "command": command, "corrections": fixes,
                        "potcar_symbols": blocks,
                        "settings": dict(settings)})


ENGINE = VaspEngine()
