"""CP2K engine: pseudo-H through CORE_CORRECTION + CHARGE, inputs, a real PBE run."""

import numpy as np
import pytest
from ase import Atoms
from conftest import pseudo_h_pair

from facetflow.engines import get_engine
from facetflow.engines.base import CalcError, EngineUnavailable, settings_for
from facetflow.engines.cp2k import total_charge, write_input

CP2K = get_engine("cp2k")


def pseudo_molecule():
    return pseudo_h_pair(7.0, 0.78)


def test_pseudo_h_molecule_two_electrons_real_pbe():
    s = settings_for("cp2k", "molecule", {"cutoff": 200, "periodic": "XYZ"})
    r = CP2K.run(pseudo_molecule(), "single", s)
    assert r.provenance["n_electrons"] == 2 and r.provenance["charge"] == 0
    assert -40 < r.energy < -30
    f = np.array(r.forces)
    # along the bond, opposite signs; their sum is only the grid's egg-box error at 200 Ry
    assert f[0, 2] * f[1, 2] < 0 and abs(f[0, 2]) > 0.5
    assert np.abs(f.sum(axis=0)).max() < 0.15


def test_charge_from_pseudo_h():
    slab = Atoms("H4", positions=np.eye(4, 3) * 3, cell=[9, 9, 9])
    slab.new_array("pseudo_h_charge", np.full(4, 0.75))
    assert total_charge(slab) == 1  # 4 x (1 - 0.75) electrons fewer
    slab.arrays["pseudo_h_charge"][:2] = 0.5
    with pytest.raises(CalcError, match="not a whole number"):
        total_charge(slab)


def test_input_for_passivated_slab(quick_records):
    slab = next(r for r in quick_records if r.id == "111_shell").atoms
    text = write_input(slab, settings_for("cp2k", "slab"), "GEO_OPT", 0.2)
    assert "CHARGE 1" in text  # 4 H(0.75) on the 2x2 bottom
    assert "CORE_CORRECTION -0.250000" in text and "ELEMENT H" in text
    assert "SURFACE_DIPOLE_CORRECTION" in text
    assert "POTENTIAL GTH-PBE-q13" in text  # In with its 4d shell
    n_fixed = len(slab.constraints[0].index)
    listed = sum(len(line.split()) - 1 for line in text.splitlines()
                 if line.strip().startswith("LIST"))
    assert listed == n_fixed


def test_missing_binary():
    with pytest.raises(EngineUnavailable, match="not found"):
        CP2K.run(pseudo_molecule(), "single", settings_for("cp2k", "molecule",
                                                           {"command": "no-cp2k-here"}))
