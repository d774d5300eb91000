"""What the file-based DFT engines share: a scratch folder, the launch of the code through
an ASE profile, SCF retries, and the assembly of the ``CalcResult``.

An engine writes its input; ``run_program`` launches the code (a ``Program``: an ASE
profile's command line, standard output to the code's output file, standard error to
``<stem>.err``) and reads from the output whether the SCF failed (``ScfNotConverged``)
or the run did (``CalcError``). ``retry_scf`` repeats a job's attempt whose SCF did not
converge (the engine softens its mixing by attempt number) and turns the last failure
into a ``CalcError``. ``assemble`` builds the result from the
final geometry, energy (eV) and forces (eV/Å). Nothing here knows a particular code, so
an in-process engine (GPAW) can use ``scratch``, ``retry_scf`` and ``assemble`` too.
``SerialEngine`` is the rest of the ``Engine`` protocol for a DFT engine: its identity is
its name, and ``run_many`` runs one structure after another.
"""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np
from ase import Atoms
from ase.calculators.genericfileio import BaseProfile

from facetflow.engines.base import CalcError, OnResult, max_force, plain_identity, run_each
from facetflow.records.calc import CalcResult, EngineIdentity, atoms_to_dict

log = logging.getLogger(__name__)
T_co = TypeVar("T_co", covariant=True)


class SerialEngine:
    """Base of the DFT engines: the identity and ``run_many`` of the ``Engine`` protocol
    (a subclass has ``name``, ``available`` and ``run``)."""

    name: str

    def identity(self, settings: Mapping[str, Any]) -> EngineIdentity:
        """The engine name alone: the code's version goes to provenance, not to hashes."""
        return plain_identity(self.name)

    def run_many(self, structures: Sequence[Atoms], task: str, settings: Mapping[str, Any],
                 on_result: OnResult | None = None) -> list[CalcResult]:
        """One structure after another (``run_each``)."""
        return run_each(self, structures, task, settings, on_result)


class ScfNotConverged(Exception):
    """This attempt's SCF did not converge: ``retry_scf`` tries again, softer."""


@contextmanager
def scratch(engine: str, keep: str | None) -> Iterator[Path]:
    """The folder a calculation runs in: ``keep`` (created if needed, left in place) when
    given, else a temporary folder removed afterwards."""
    if keep:
        folder = Path(keep)
        folder.mkdir(parents=True, exist_ok=True)
        yield folder
        return
    with tempfile.TemporaryDirectory(prefix=f"facetflow-{engine}-") as tmp:
        yield Path(tmp)


@dataclass(frozen=True)
class Launched:
    """A finished run of a code: exit status, its output file's text and standard error."""

    returncode: int
    output: str
    errors: str


def launch(profile: BaseProfile, folder: Path, inputname: str, outputname: str,
           env_defaults: Mapping[str, str] | None = None) -> Launched:
    """Run ``profile``'s command line for ``inputname`` in ``folder`` (stdout to
    ``outputname``, stderr to ``<stem>.err``), with ``env_defaults`` for the environment
    variables this process does not set. A non-zero exit is returned, not raised: the
    output says why."""
    argv = profile.get_command(inputname)
    errorname = Path(outputname).with_suffix(".err").name
    log.debug("running %s in %s", " ".join(argv), folder)
    with open(folder / outputname, "wb") as out, open(folder / errorname, "wb") as err:
        proc = subprocess.run(argv, cwd=folder, stdout=out, stderr=err,
                              env={**(env_defaults or {}), **os.environ}, check=False)
    return Launched(proc.returncode,
                    (folder / outputname).read_text(errors="replace"),
                    (folder / errorname).read_text(errors="replace"))


@dataclass(frozen=True)
class Program:
    """A file-based code: how to launch it and how its output tells how it ended."""

    name: str  # in messages, e.g. "pw.x"
    profile: BaseProfile
    inputname: str
    outputname: str
    scf_failed: str  # text in the output when an SCF did not converge
    finished: str  # text in the output of a run that ended normally
    error_text: Callable[[str], str]  # the code's own error message, from output + stderr
    env_defaults: Mapping[str, str] = field(default_factory=dict)


def run_program(program: Program, folder: Path) -> str:
    """Run ``program`` on its input in ``folder``; the output text. Raises
    ``ScfNotConverged`` when an SCF did not converge, ``CalcError`` when the run failed."""
    done = launch(program.profile, folder, program.inputname, program.outputname,
                  program.env_defaults)
    if program.scf_failed in done.output:
        raise ScfNotConverged
    if done.returncode != 0 or program.finished not in done.output:
        raise CalcError(f"{program.name} failed (exit {done.returncode}): "
                        f"{program.error_text(done.output + done.errors)}")
    return done.output


class ScfJob(Protocol[T_co]):
    """A calculation that can be attempted again with softer SCF settings."""

    def attempt(self, k: int) -> T_co:
        """Run attempt ``k`` (0, 1 ...); raise ``ScfNotConverged`` if its SCF failed."""

    def retrying(self, k: int) -> str:
        """The warning after attempt ``k`` failed."""

    def give_up(self, k: int) -> str:
        """The error message when attempt ``k``, the last, failed too."""


def retry_scf(job: ScfJob[T_co], attempts: int) -> tuple[T_co, list[str]]:
    """``job.attempt(k)`` for k = 0, 1 ... until one does not raise ``ScfNotConverged``;
    its value and a warning per failed attempt. After ``attempts`` failures, a
    ``CalcError``."""
    warnings: list[str] = []
    for k in range(attempts):
        try:
            return job.attempt(k), warnings
        except ScfNotConverged:
            warnings.append(job.retrying(k))
            log.warning("%s", warnings[-1])
    raise CalcError(job.give_up(attempts - 1))


@dataclass
class Outcome:
    """What a code's output says about the final structure. Energy in eV, forces in
    eV/Å (one row per atom, in the input's frame), positions and cell in Å."""

    energy: float
    forces: np.ndarray
    positions: np.ndarray | None = None  # None: the input's (single point)
    cell: np.ndarray | None = None  # None: the input's (cell not relaxed)
    converged: bool = True
    steps: int = 0
    scf_cycles: int = 0
    trajectory_energies: Sequence[float] = ()
    provenance: dict[str, Any] = field(default_factory=dict)


def assemble(engine: str, task: str, atoms: Atoms, outcome: Outcome, started: float,
             warnings: list[str]) -> CalcResult:
    """The ``CalcResult`` of a calculation on ``atoms`` that began at ``started``
    (``time.perf_counter()``): the final structure keeps ``atoms``' per-atom arrays and
    constraints; ``fmax`` is over the atoms free to move."""
    final = atoms.copy()
    if outcome.cell is not None:
        final.set_cell(outcome.cell, scale_atoms=False)
    if outcome.positions is not None:
        final.positions = outcome.positions
    forces = np.asarray(outcome.forces, dtype=float)
    return CalcResult(
        engine=engine, task=task, converged=outcome.converged, energy=float(outcome.energy),
        forces=forces.tolist(), structure=atoms_to_dict(final), steps=outcome.steps,
        scf_cycles=outcome.scf_cycles, wall_time=time.perf_counter() - started,
        fmax=max_force(forces, atoms), warnings=list(warnings),
        trajectory_energies=[float(e) for e in outcome.trajectory_energies],
        provenance=outcome.provenance)


def wants_dipole_correction(atoms: Atoms, setting: bool | str | None) -> bool:
    """Whether a calculation gets a dipole correction along z: ``True`` always, ``"auto"``
    for an asymmetric facetflow slab (a ``region`` array and ``info['symmetric']`` False),
    else not."""
    if setting is True:
        return True
    asymmetric = "region" in atoms.arrays and not atoms.info.get("symmetric", True)
    return setting == "auto" and asymmetric
