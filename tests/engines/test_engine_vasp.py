"""VASP engine with a fake `vasp` (VASP is licensed and cannot exist here): inputs from
pymatgen input sets, custodian corrections of real VASP error messages, parsing of a real
vasprun.xml shipped in ASE's wheel."""

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import ase
import numpy as np
import pytest
from ase.io import read
from pymatgen.io.vasp.inputs import Incar, Kpoints, Poscar

from facetflow.engines import get_engine
from facetflow.engines.base import EngineUnavailable
from facetflow.engines.presets import settings_for
from facetflow.engines.settings import resolve_settings
from facetflow.engines.vasp import parse_vasprun, pseudo_h_potcar, write_inputs

FAKES = Path(__file__).resolve().parents[1] / "fakes"
RECORDED = Path(ase.__file__).parent / "test" / "testdata" / "vasp" / "vasprun_pstress.xml"


def test_pseudo_h_potcar_names():
    assert [pseudo_h_potcar(q) for q in (0.5, 0.75, 1.25, 1.5)] == \
        ["H.5", "H.75", "H1.25", "H1.5"]


def test_inputs_for_passivated_slab(quick_records, tmp_path):
    slab = next(r for r in quick_records if r.id == "111_acetate_t0.500_c0").atoms
    blocks, order = write_inputs(slab, resolve_settings("vasp", "slab"), "slab", tmp_path)
    incar = Incar.from_file(tmp_path / "INCAR")
    assert incar["ENCUT"] == 450 and incar["EDIFF"] == 1e-5 and incar["EDIFFG"] == -0.01
    assert incar["LDIPOL"] is True and incar["IDIPOL"] == 3  # asymmetric slab
    assert incar["ISIF"] == 2 and incar["ISPIN"] == 1
    kp = Kpoints.from_file(tmp_path / "KPOINTS")
    assert kp.kpts[0][2] == 1 and kp.kpts[0][0] >= 2
    assert "H.75" in blocks
    assert (tmp_path / "POTCAR.spec").read_text().split() == blocks
    poscar = Poscar.from_file(tmp_path / "POSCAR", check_for_potcar=False)
    assert len(poscar.structure) == len(slab)
    fixed = set(slab.constraints[0].index.tolist())
    sd = poscar.selective_dynamics
    for k, i in enumerate(order):
        assert (not any(sd[k])) == (i in fixed)
    # every atom is in its block: positions map back exactly
    assert np.allclose(poscar.structure.cart_coords, slab.positions[order], atol=1e-6)


def test_symmetric_slab_has_no_dipole_correction(quick_records, tmp_path):
    slab = next(r for r in quick_records if r.id == "100_shell").atoms
    write_inputs(slab, resolve_settings("vasp", "slab"), "slab", tmp_path)
    assert "LDIPOL" not in Incar.from_file(tmp_path / "INCAR")


def test_custodian_corrects_three_real_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", f"{FAKES}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_VASP_ERRORS", "zbrent,subspacematrix,pricel")
    atoms = read(RECORDED, index=0)
    work = tmp_path / "run"
    s = settings_for("vasp", "bulk", {"command": "vasp", "allow_potcar_spec": True,
                                      "workdir": str(work)})
    r = get_engine("vasp").run(atoms, "relax", s)
    fixed = [e for c in r.provenance["corrections"] for e in c["errors"]]
    assert fixed == ["zbrent", "subspacematrix", "pricel"]
    incar = Incar.from_file(work / "INCAR")
    assert incar["EDIFF"] < 1e-5  # ZBRENT: tighter EDIFF
    assert incar["LREAL"] is False  # Sub-Space-Matrix: LREAL off
    assert incar["SYMPREC"] == pytest.approx(1e-8)  # PRICEL
    assert r.converged and r.energy == pytest.approx(_e0_from_xml(RECORDED))


def test_parsed_real_vasprun_energy():
    parsed = parse_vasprun(RECORDED)
    assert parsed["energy"] == pytest.approx(_e0_from_xml(RECORDED), abs=1e-8)
    assert parsed["ionic_steps"] >= 1 and parsed["scf_cycles"] > 1
    assert parsed["forces"].shape == (len(parsed["structure"]), 3)


def _e0_from_xml(path: Path) -> float:
    """The last ionic step's energy(sigma->0), read straight from the XML."""
    root = ET.parse(path).getroot()
    calc = root.findall("calculation")[-1]
    return float(calc.find("energy").find("i[@name='e_0_energy']").text)


def test_missing_binary_and_potcar(tmp_path, monkeypatch, quick_records):
    atoms = next(r for r in quick_records if r.id == "ref_bulk_InAs").atoms
    with pytest.raises(EngineUnavailable, match="licensed"):
        get_engine("vasp").run(atoms, "single", settings_for("vasp", "bulk",
                                                             {"command": "no-vasp-here"}))
    monkeypatch.setenv("PATH", f"{FAKES}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("PMG_VASP_PSP_DIR", raising=False)
    with pytest.raises(EngineUnavailable, match="PMG_VASP_PSP_DIR"):
        get_engine("vasp").run(atoms, "single", settings_for("vasp", "bulk",
                                                             {"command": "vasp"}))
