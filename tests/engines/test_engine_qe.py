"""Quantum ESPRESSO engine: real PBE calculations, pseudo-H electron count, inputs, errors."""

import io
import re
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from ase.io.espresso import read_espresso_in
from conftest import pseudo_h_pair

from facetflow.engines import get_engine
from facetflow.engines.base import CalcError, EngineUnavailable
from facetflow.engines.kpoints import kpoint_mesh
from facetflow.engines.presets import settings_for
from facetflow.engines.qe import input_data, input_text, kpts, scf_knobs
from facetflow.engines.settings import resolve_settings

QE = get_engine("qe")


def pseudo_molecule():
    return pseudo_h_pair(8.0, 1.0)


def test_pseudo_h_molecule_has_two_electrons_and_relaxes():
    s = settings_for("qe", "molecule", {"ecutwfc": 30.0, "fmax": 0.05})
    r = QE.run(pseudo_molecule(), "relax", s)
    assert r.provenance["n_electrons"] == pytest.approx(2.0, abs=1e-12)
    assert r.converged and r.steps >= 1 and r.scf_cycles > r.steps
    d = np.linalg.norm(np.diff(r.atoms().positions, axis=0))
    assert 0.6 < d < 1.0 and abs(d - 1.0) > 0.05  # it moved to a bonded minimum
    assert r.fmax < 0.05
    assert set(r.provenance["pseudopotentials"]) == {"H1", "H2"}


def test_inas_bulk_pbe_single_point():
    b = bulk("InAs", "zincblende", a=6.0583)
    r = QE.run(b, "single", settings_for("qe", "bulk", {"ecutwfc": 30.0, "kpt_density": 1.5}))
    assert r.provenance["n_electrons"] == pytest.approx(28.0)  # In 4d10 5s2 5p1 + As 3d10 4s2 4p3
    assert r.energy < -4000
    assert np.abs(np.array(r.forces)).max() < 1e-3  # forces vanish by symmetry
    assert r.provenance["version"].startswith("6.")


def slab_input(slab, tmp_path: Path, pseudos: dict[str, str]) -> str:
    s = resolve_settings("qe", "slab")
    data = input_data(slab, s, "relax", scf_knobs(s, 0), str(tmp_path), tmp_path / "out")
    return input_text(slab, data, kpts(slab, s), pseudos)


def test_input_for_passivated_slab(quick_records, tmp_path):
    slab = next(x for x in quick_records if x.id == "111_shell").atoms
    text = slab_input(slab, tmp_path, {"In": "In.upf", "As": "As.upf", "Zn": "Zn.upf",
                                       "Se": "Se.upf", "H1": "H0.75.upf"})
    assert re.search(r"ntyp\s+= 5\n", text) and "\nH1 1.008 H0.75.upf\n" in text
    assert re.search(r"tefield\s+= .true.", text) and re.search(r"dipfield\s+= .true.", text)
    n_fixed = len(slab.constraints[0].index)
    assert text.count(" 0 0 0\n") >= n_fixed
    mesh = text.split("K_POINTS automatic\n")[1].split()[:3]
    assert mesh[2] == "1" and int(mesh[0]) >= 2
    assert kpoint_mesh(slab, 3.5)[2] == 1
    back = read_espresso_in(io.StringIO(text))  # ASE reads the relabelled input back
    assert back.get_chemical_symbols() == slab.get_chemical_symbols()
    assert np.allclose(back.positions, slab.positions, atol=1e-9)
    assert sorted(back.constraints[0].index) == sorted(slab.constraints[0].index)


def test_each_pseudo_h_charge_is_its_own_species(tmp_path):
    m = pseudo_h_pair(8.0, 1.0)
    m.new_array("region", np.zeros(2, dtype=int))  # a "slab": takes the slab preset
    text = slab_input(m, tmp_path, {"H1": "H0.75.upf", "H2": "H1.25.upf"})
    species = text.split("ATOMIC_SPECIES\n")[1].split("\n\n")[0].splitlines()
    assert species == ["H1 1.008 H0.75.upf", "H2 1.008 H1.25.upf"]
    positions = text.split("ATOMIC_POSITIONS angstrom\n")[1].splitlines()[:2]
    assert [line.split()[0] for line in positions] == ["H1", "H2"]


def test_empty_settings_are_the_preset(tmp_path):
    b = bulk("InAs", "zincblende", a=6.0583)
    preset = resolve_settings("qe", "bulk", settings_for("qe", "bulk"))
    assert resolve_settings("qe", "bulk", {}) == preset
    data = input_data(b, preset, "vc-relax", scf_knobs(preset, 1), "/p", tmp_path)
    assert data["mixing_beta"] == 0.2 and data["degauss"] == 0.02  # retry 1: softer
    assert data["ecutrho"] == 240.0 and data["conv_thr"] == 2e-9  # Ry, 1e-9 per atom


def test_scf_that_never_converges_is_a_clear_error():
    s = settings_for("qe", "molecule", {"ecutwfc": 25.0, "electron_maxstep": 1,
                                        "scf_retries": 1})
    with pytest.raises(CalcError, match="SCF did not converge after 2 attempts"):
        QE.run(pseudo_molecule(), "single", s)


def test_missing_binary_and_pseudopotential(tmp_path):
    s = settings_for("qe", "molecule", {"command": "no-such-pw.x"})
    with pytest.raises(EngineUnavailable, match="no-such-pw.x not found"):
        QE.run(pseudo_molecule(), "single", s)
    s = settings_for("qe", "bulk", {"pseudo_dir": str(tmp_path)})
    with pytest.raises(EngineUnavailable, match="no pseudopotential for In"):
        QE.run(bulk("InAs", "zincblende", a=6.0583), "single", s)
