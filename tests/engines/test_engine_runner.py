"""The runner the file-based engines share: scratch folders, launch through an ASE
profile, SCF retries, result assembly, dipole-correction rule."""

import os
import re
import time

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.genericfileio import BaseProfile
from ase.constraints import FixAtoms

from facetflow.engines.base import CalcError
from facetflow.engines.runner import (
    Outcome,
    Program,
    ScfNotConverged,
    assemble,
    launch,
    retry_scf,
    run_program,
    scratch,
    wants_dipole_correction,
)


class ShellProfile(BaseProfile):
    """``sh <input>``: the input file is the script."""

    def get_calculator_command(self, inputfile):
        return [inputfile]

    def version(self):
        return None


def test_scratch_is_temporary_unless_kept(tmp_path):
    with scratch("qe", None) as folder:
        assert folder.is_dir() and folder.name.startswith("facetflow-qe-")
    assert not folder.exists()
    kept = tmp_path / "keep" / "here"
    with scratch("qe", str(kept)) as folder:
        (folder / "pw.out").write_text("x")
    assert (kept / "pw.out").read_text() == "x"


def test_launch_captures_output_errors_exit_and_env_defaults(tmp_path, monkeypatch):
    (tmp_path / "job.sh").write_text('echo "out $FF_A $FF_B"; echo oops >&2; exit 3\n')
    monkeypatch.setenv("FF_A", "mine")
    done = launch(ShellProfile("sh"), tmp_path, "job.sh", "job.out",
                  env_defaults={"FF_A": "default", "FF_B": "default"})
    assert done.returncode == 3 and done.errors == "oops\n"
    assert done.output == "out mine default\n"  # the caller's environment wins
    assert (tmp_path / "job.out").read_text() == done.output
    assert "FF_B" not in os.environ


@pytest.mark.parametrize(("script", "outcome"), [
    ("echo all fine; echo DONE", "all fine\nDONE\n"),
    ("echo SCF FAILED; exit 1", ScfNotConverged),
    ("echo half; echo 'bad input' >&2; exit 2", "sh failed (exit 2): [bad input]"),
    ("echo no marker", "sh failed (exit 0): [no marker]"),
])
def test_run_program_reads_how_the_run_ended(tmp_path, script, outcome):
    (tmp_path / "job.sh").write_text(script + "\n")
    program = Program("sh", ShellProfile("sh"), "job.sh", "job.out", scf_failed="SCF FAILED",
                      finished="DONE", error_text=lambda text: f"[{text.split(chr(10))[-2]}]")
    if outcome is ScfNotConverged:
        with pytest.raises(ScfNotConverged):
            run_program(program, tmp_path)
    elif "failed" in outcome:
        with pytest.raises(CalcError, match=re.escape(outcome)):
            run_program(program, tmp_path)
    else:
        assert run_program(program, tmp_path) == outcome


class FlakyJob:
    """Its SCF converges from attempt ``good`` on."""

    def __init__(self, good: int) -> None:
        self.good, self.tried = good, []

    def attempt(self, k):
        self.tried.append(k)
        if k < self.good:
            raise ScfNotConverged
        return f"done at {k}"

    def retrying(self, k):
        return f"retry {k}"

    def give_up(self, k):
        return f"gave up after attempt {k}"


def test_retry_scf_softens_then_gives_up():
    job = FlakyJob(good=2)
    value, warnings = retry_scf(job, 3)
    assert value == "done at 2" and job.tried == [0, 1, 2]
    assert warnings == ["retry 0", "retry 1"]
    with pytest.raises(CalcError, match="gave up after attempt 1"):
        retry_scf(FlakyJob(good=2), 2)


def test_assemble_keeps_arrays_and_constraints_and_skips_fixed_forces():
    atoms = Atoms("H2", positions=[[0, 0, 0], [0, 0, 1]], cell=[5, 5, 5], pbc=True)
    atoms.new_array("region", np.array([0, 1]))
    atoms.set_constraint(FixAtoms([0]))
    outcome = Outcome(energy=-1.5, forces=np.array([[0, 0, 9.0], [0, 0.3, 0.4]]),
                      positions=np.array([[0, 0, 0], [0, 0, 0.8]]), cell=np.eye(3) * 6,
                      steps=4, scf_cycles=20, trajectory_energies=[-1.0, -1.5],
                      provenance={"code": "test"})
    r = assemble("qe", "relax", atoms, outcome, time.perf_counter(), ["w"])
    final = r.atoms()
    assert r.fmax == pytest.approx(0.5) and r.energy == -1.5 and r.steps == 4
    assert np.allclose(final.cell[:], np.eye(3) * 6)
    assert np.allclose(final.positions[1], [0, 0, 0.8])  # not scaled with the cell
    assert list(final.arrays["region"]) == [0, 1] and r.structure["fixed"] == [0]
    assert r.warnings == ["w"] and r.provenance == {"code": "test"} and r.wall_time >= 0


def test_dipole_correction_rule():
    slab = Atoms("H2", positions=[[0, 0, 0], [0, 0, 1]], cell=[5, 5, 20])
    assert not wants_dipole_correction(slab, "auto")  # not a facetflow slab
    assert wants_dipole_correction(slab, True)
    slab.new_array("region", np.zeros(2, dtype=int))
    assert not wants_dipole_correction(slab, "auto")  # symmetric unless it says otherwise
    slab.info["symmetric"] = False
    assert wants_dipole_correction(slab, "auto") and not wants_dipole_correction(slab, False)
