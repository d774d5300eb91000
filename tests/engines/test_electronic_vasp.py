"""VASP's electronic output through pymatgen, on the fake ``vasp`` replaying a real
vasprun.xml (ASE's test data: eigenvalues and occupations, no projections, no LOCPOT):
the inputs ask for projections and the potential, the result carries what the run wrote
and says what it did not."""

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import ase
import numpy as np
import pytest
from ase.io import read
from pymatgen.io.vasp.inputs import Incar

from facetflow.engines import get_engine
from facetflow.engines.presets import settings_for

FAKES = Path(__file__).resolve().parents[1] / "fakes"
RECORDED = Path(ase.__file__).parent / "test" / "testdata" / "vasp" / "vasprun_pstress.xml"


def test_vasp_electronic_output_from_a_replayed_run(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", f"{FAKES}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("FAKE_VASP_ERRORS", raising=False)
    work = tmp_path / "run"
    s = settings_for("vasp", "bulk", {"command": "vasp", "allow_potcar_spec": True,
                                      "workdir": str(work), "electronic": True})
    r = get_engine("vasp").run(read(RECORDED, index=0), "single", s)
    incar = Incar.from_file(work / "INCAR")
    assert incar["LORBIT"] == 11 and incar["LVHAR"] is True
    e = r.electronic
    root = ET.parse(RECORDED).getroot()
    efermi = float(root.find(".//dos/i[@name='efermi']").text)
    assert e.code == "VASP" and e.fermi_level == pytest.approx(efermi)
    nk = len(root.find(".//kpoints/varray[@name='kpointlist']"))
    assert len(e.energies) == nk * 8  # 8 bands at each k-point of the recorded run
    occ = np.asarray(e.occupations)
    assert occ.min() >= 0 and occ.max() <= 1 and occ.max() > 0.99
    assert sum(e.kweights[i] for i, b in enumerate(e.kpoints) if i % 8 == 0) == \
        pytest.approx(1.0)
    assert e.potential is None and e.ipr == []
    assert any("LOCPOT" in n for n in e.notes) and any("LORBIT" in n for n in e.notes)
