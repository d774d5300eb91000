"""GPAW engine: in-memory pseudo-H setups, a real PBE relaxation, SCF failure, parallel run."""

import shutil

import numpy as np
import pytest
from conftest import pseudo_h_pair

from facetflow.engines import get_engine
from facetflow.engines.base import CalcError
from facetflow.engines.gpaw import pseudo_h_setup
from facetflow.engines.presets import settings_for

GPAW = get_engine("gpaw")


def pseudo_molecule():
    return pseudo_h_pair(6.0, 0.9)


def test_pseudo_h_setups_carry_fractional_valence():
    for q in (0.5, 0.75, 1.25, 1.5):
        s = pseudo_h_setup(q)
        assert s.Nv == pytest.approx(q)
        assert abs(s.Z - q) < 1e-12


def test_pseudo_molecule_relaxes_with_two_electrons():
    s = settings_for("gpaw", "molecule", {"ecut": 300, "fmax": 0.05})
    r = GPAW.run(pseudo_molecule(), "relax", s)
    assert r.provenance["n_electrons"] == pytest.approx(2.0)
    assert r.converged and r.steps >= 1 and r.scf_cycles > r.steps
    d = np.linalg.norm(np.diff(r.atoms().positions, axis=0))
    assert 0.6 < d < 0.85  # moved from 0.9 Å to the bonded minimum
    assert r.fmax < 0.05


def test_scf_failure_is_reported():
    s = settings_for("gpaw", "molecule", {"ecut": 250, "maxiter": 2, "scf_retries": 1})
    with pytest.raises(CalcError, match="SCF did not converge after 2 attempts"):
        GPAW.run(pseudo_molecule(), "single", s)


def test_parallel_subprocess_matches_serial():
    # scripts/install.sh installs OpenMPI and builds GPAW with MPI and ScaLAPACK
    assert shutil.which("mpiexec") and shutil.which("gpaw")
    s = settings_for("gpaw", "molecule", {"ecut": 300})
    serial = GPAW.run(pseudo_molecule(), "single", s)
    par = GPAW.run(pseudo_molecule(), "single",
                   {**s, "command": "mpiexec --allow-run-as-root --oversubscribe -n 2 "
                                    "gpaw python"})
    assert par.energy == pytest.approx(serial.energy, abs=1e-4)
