"""CP2K engine: pseudo-H through CORE_CORRECTION + CHARGE, inputs, real PBE runs, and the
relaxed cell of a cell optimisation (it used to be dropped)."""

import gzip
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.cp2k import parse_input
from ase.io import read
from conftest import pseudo_h_pair
from scipy.spatial.transform import Rotation

from facetflow.engines import get_engine
from facetflow.engines.base import CalcError, EngineUnavailable
from facetflow.engines.cp2k import (
    final_frame,
    read_outcome,
    total_charge,
    unturned_cell,
    write_input,
)
from facetflow.engines.presets import settings_for
from facetflow.engines.settings import resolve_settings

CP2K = get_engine("cp2k")
CELL_OPT = Path(__file__).resolve().parents[1] / "data" / "cp2k_cell_opt"


def pseudo_molecule():
    return pseudo_h_pair(7.0, 0.78)


def strained_silicon() -> Atoms:
    """Si in the diamond structure at a = 6.0 Å (PBE: 5.47 Å). At the Gamma point alone
    a two-atom cell has its minimum elsewhere again; what matters is that a cell
    optimisation changes the cell (it expands, by ~8 % in volume in two steps)."""
    return bulk("Si", "diamond", a=6.0)


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
    text = write_input(slab, resolve_settings("cp2k", "slab"), "GEO_OPT", 0.2)
    assert "CHARGE 1" in text  # 4 H(0.75) on the 2x2 bottom
    assert "CORE_CORRECTION -0.250000" in text and "ELEMENT H" in text
    assert "SURFACE_DIPOLE_CORRECTION" in text
    assert "POTENTIAL GTH-PBE-q13" in text  # In with its 4d shell
    n_fixed = len(slab.constraints[0].index)
    listed = sum(len(line.split()) - 1 for line in text.splitlines()
                 if line.strip().startswith("LIST"))
    assert listed == n_fixed
    tree = parse_input(text)  # ASE reads it back: one KIND per element and pseudo-H charge
    kinds = [s.params for s in tree.get_subsection("FORCE_EVAL/SUBSYS").subsections
             if s.name == "KIND"]
    assert kinds == ["As", "In", "Se", "Zn", "HP1"]
    coord = tree.get_subsection("FORCE_EVAL/SUBSYS/COORD").keywords
    assert [line.split()[0] for line in coord].count("HP1") == 4


def test_bulk_input_relaxes_the_cell_with_the_stress_tensor():
    text = write_input(strained_silicon(), resolve_settings("cp2k", "bulk"), "CELL_OPT", 0.2)
    tree = parse_input(text)
    assert "STRESS_TENSOR ANALYTICAL" in tree.get_subsection("FORCE_EVAL").keywords
    assert "OPTIMIZER BFGS" in tree.get_subsection("MOTION/CELL_OPT").keywords
    assert "RUN_TYPE CELL_OPT" in tree.get_subsection("GLOBAL").keywords


def test_unturned_cell_removes_cp2ks_rotation():
    cell = strained_silicon().cell[:]
    stretch = np.array([[1.05, 0.01, 0.0], [0.01, 1.04, 0.02], [0.0, 0.02, 1.03]])
    turn = Rotation.from_euler("xyz", [10, -25, 40], degrees=True).as_matrix()
    relaxed, to_input = unturned_cell(cell, cell @ stretch @ turn)
    assert np.allclose(relaxed, cell @ stretch, atol=1e-12)
    assert np.allclose(cell @ stretch @ turn @ to_input, relaxed, atol=1e-12)
    assert np.allclose(to_input @ to_input.T, np.eye(3), atol=1e-12)


def test_final_cell_read_from_a_real_cell_optimisation():
    """tests/data/cp2k_cell_opt: CP2K 2023.1 CELL_OPT of ``strained_silicon()`` (cutoff
    150 Ry, rel_cutoff 30, two BFGS steps), made with this engine and ``workdir``."""
    atoms = strained_silicon()
    output = gzip.decompress((CELL_OPT / "cp2k.out.gz").read_bytes()).decode()
    outcome = read_outcome(CELL_OPT, output, atoms, "relax", "CELL_OPT")
    cp2k = read(CELL_OPT / "cp2k-1.restart", format="cp2k-restart")
    assert outcome.cell is not None
    assert abs(np.linalg.det(outcome.cell) - atoms.get_volume()) > 1.0  # Å^3: it changed
    # the same lattice as CP2K's final cell (lengths and angles), in the input's frame
    relaxed = Atoms(cell=outcome.cell)
    assert np.allclose(relaxed.cell.cellpar(), cp2k.cell.cellpar(), atol=1e-8)
    assert np.allclose(np.linalg.solve(atoms.cell[:].T, outcome.cell.T).T,
                       np.eye(3) * (relaxed.get_volume() / atoms.get_volume()) ** (1 / 3),
                       atol=0.02)  # a near-uniform stretch, not a turned cell
    scaled = np.linalg.solve(outcome.cell.T, outcome.positions.T).T
    assert np.allclose(scaled, cp2k.get_scaled_positions(wrap=False), atol=1e-10)
    # forces: CP2K's, turned with the cell: along the Si-Si bond (111) of the input frame
    norms = np.linalg.norm(outcome.forces, axis=1)
    assert np.allclose(norms, 0.0976, atol=1e-3)
    assert np.allclose(outcome.forces[1] / norms[1], np.ones(3) / np.sqrt(3), atol=0.01)
    assert outcome.steps == 2 and not outcome.converged
    positions, cell, _ = final_frame(CELL_OPT / "cp2k-1.restart", atoms, cell_relaxed=False)
    assert cell is None and np.allclose(positions, cp2k.positions)


def test_cell_optimisation_returns_the_relaxed_cell(tmp_path):
    """The bulk reference of CP2K: its relaxed cell must reach the result (the slabs are
    scaled to its volume); it used to come back unrelaxed, with turned positions."""
    atoms = strained_silicon()
    s = settings_for("cp2k", "bulk", {"cutoff": 150, "rel_cutoff": 30, "max_steps": 2,
                                      "fmax": 0.05, "workdir": str(tmp_path)})
    r = CP2K.run(atoms, "relax", s)
    final = r.atoms()
    cp2k = read(tmp_path / "cp2k-1.restart", format="cp2k-restart")
    assert final.get_volume() == pytest.approx(cp2k.get_volume(), rel=1e-10)
    assert abs(final.get_volume() - atoms.get_volume()) > 1.0  # Å^3
    assert np.allclose(final.get_scaled_positions(wrap=False),
                       cp2k.get_scaled_positions(wrap=False), atol=1e-10)
    assert np.allclose(final.cell.cellpar(), cp2k.cell.cellpar(), atol=1e-8)


def test_missing_binary():
    with pytest.raises(EngineUnavailable, match="not found"):
        CP2K.run(pseudo_molecule(), "single", settings_for("cp2k", "molecule",
                                                           {"command": "no-cp2k-here"}))


def test_scf_that_never_converges_is_a_clear_error(tmp_path):
    s = settings_for("cp2k", "molecule", {"cutoff": 150, "periodic": "XYZ", "max_scf": 1,
                                          "scf_retries": 1, "workdir": str(tmp_path)})
    with pytest.raises(CalcError, match=r"after 2 attempts \(last mixing alpha 0.1\)"):
        CP2K.run(pseudo_molecule(), "single", s)
    assert "ALPHA 0.1" in (tmp_path / "cp2k.inp").read_text()  # the retry was softer
