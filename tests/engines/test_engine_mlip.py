"""The embedded ML-potential engine: offline, deterministic, constraints, batching."""

import json
import socket

import numpy as np
import pytest
from typer.testing import CliRunner

from facetflow.engines import engine_table, get_engine
from facetflow.engines.presets import settings_for
from facetflow.errors import SpecError
from facetflow.records.calc import CalcResult


@pytest.fixture()
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network access attempted during an offline test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture(scope="module")
def slab_acetate(quick_records):
    return next(r for r in quick_records if r.id == "111_acetate_t0.500_c0").atoms


def test_relax_slab_with_acetate_offline_and_deterministic(slab_acetate, no_network):
    eng = get_engine("mlip")
    s = settings_for("mlip", "slab", {"max_steps": 25})
    r1 = eng.run(slab_acetate, "relax", s)
    r2 = eng.run(slab_acetate, "relax", s)
    assert r1.steps == r2.steps == 25 or r1.converged
    assert abs(r1.energy - r2.energy) < 1e-6
    assert r1.trajectory_energies[-1] < r1.trajectory_energies[0]  # it went downhill
    # fixed atoms did not move; free ones did
    fixed = slab_acetate.constraints[0].index
    final = r1.atoms().positions
    assert np.allclose(final[fixed], slab_acetate.positions[fixed], atol=1e-10)
    assert np.abs(final - slab_acetate.positions).max() > 0.01
    # the record is plain JSON and round-trips
    back = CalcResult.from_dict(json.loads(r1.to_json()))
    assert back.energy == pytest.approx(r1.energy)
    assert back.provenance["weights_sha256"] and len(back.provenance["weights_sha256"]) == 64
    assert any("pseudo-hydrogen" in w for w in r1.warnings)
    assert back.atoms().arrays["pseudo_h_charge"].max() == pytest.approx(0.75)


def test_first_derivative_forces_equal_chgnets_own(quick_records):
    """The relaxation path's energies and forces (first derivative only) are CHGNet's own
    prediction for a batch of two slabs, rattled so the forces are large."""
    from pymatgen.io.ase import AseAtomsAdaptor

    from facetflow.engines.mlip_models import chgnet_energy_forces, load_calculator, plain_atoms

    net = load_calculator("chgnet")[0].model
    structs = []
    for i, sid in enumerate(["111_acetate_t0.500_c0", "100_shell"]):
        a = plain_atoms(next(r for r in quick_records if r.id == sid).atoms)
        a.rattle(0.05, seed=i)
        structs.append(a)
    graphs = [net.graph_converter(AseAtomsAdaptor.get_structure(a)) for a in structs]
    energies, forces = chgnet_energy_forces(net, graphs)
    ref = net.predict_graph(graphs, task="ef", batch_size=2)
    for a, e, f, r in zip(structs, energies, forces, ref, strict=True):
        assert f.shape == (len(a), 3)
        assert np.abs(f).max() > 0.5  # a real force field, not zeros
        assert e == pytest.approx(float(r["e"]) * len(a), abs=1e-4)
        assert np.allclose(f, np.asarray(r["f"]), atol=1e-4)


def test_array_graphs_are_chgnets_graphs(quick_records):
    """facetflow's array-built CHGNet graphs equal CHGNet's own converter's, tensor for
    tensor, on slabs with every ligand kind, a small bulk cell (an atom bonded to its own
    images), hcp Zn and molecules (no angles at all in H2)."""
    import torch
    from ase.build import bulk, molecule
    from chgnet.graph.converter import CrystalGraphConverter
    from pymatgen.io.ase import AseAtomsAdaptor

    from facetflow.engines.chgnet_graph import ArrayGraphConverter
    from facetflow.engines.mlip_models import load_calculator, plain_atoms

    net = load_calculator("chgnet")[0].model
    assert isinstance(net.graph_converter, ArrayGraphConverter)  # the engine uses them
    theirs = CrystalGraphConverter(atom_graph_cutoff=6, bond_graph_cutoff=3)
    ours = ArrayGraphConverter(atom_graph_cutoff=6, bond_graph_cutoff=3)
    structs = [plain_atoms(r.atoms) for r in quick_records if "region" in r.atoms.arrays][::3]
    structs += [bulk("InAs", "zincblende", a=6.06), bulk("Zn"), bulk("In", "bct", a=3.25,
                                                                     c=4.95)]
    for name in ("H2", "CH3COOH"):
        m = molecule(name)
        m.center(vacuum=7.0)
        m.pbc = True
        structs.append(m)
    rattled = structs[0].copy()
    rattled.rattle(0.2, seed=3)  # off the builder's grid
    structs.append(rattled)
    fields = ("atomic_number", "atom_frac_coord", "atom_graph", "neighbor_image",
              "directed2undirected", "undirected2directed", "bond_graph", "lattice")
    angles = 0
    for a in structs:
        s = AseAtomsAdaptor.get_structure(a)
        g1, g2 = theirs(s), ours(s)
        for k in fields:
            assert torch.equal(getattr(g1, k), getattr(g2, k)), (a.get_chemical_formula(), k)
        angles += len(g2.bond_graph)
    assert angles > 10000  # the comparison covered real angle lists


@pytest.mark.parametrize("optimizer", ["LBFGS", "FIRE"])
def test_batched_equals_ase_one_by_one(quick_records, optimizer):
    """facetflow's batched optimizers with ASE's settings (fixed H0, maxstep 0.2 Å) follow
    ASE's own optimizers on CHGNet's own calculator, structure by structure."""
    from facetflow.engines.mlip_models import load_calculator
    from facetflow.engines.optimize import relax_with_calculator

    ids = ["111_acetate_t0.500_c0_F0", "110_acetate_t0.500_c0_vac0", "100_shell"]
    structs = [next(r for r in quick_records if r.id == i).atoms for i in ids]
    s = settings_for("mlip", "slab", {"max_steps": 15, "optimizer": optimizer, "h0": "fixed",
                                      "maxstep": 0.2, "workers": 1})
    many = get_engine("mlip").run_many(structs, "relax", s)
    calc = load_calculator("chgnet")[0]
    for b, atoms in zip(many, structs, strict=True):
        a = atoms.copy()
        info = relax_with_calculator(a, calc, s["fmax"], 15, optimizer)
        assert info["steps"] == b.steps
        assert abs(a.get_potential_energy() - b.energy) / len(atoms) < 1e-5
        # same path to float32 round-off (CHGNet's own forces vs the first-derivative ones
        # differ by ~1e-5 eV/Å; 15 steps amplify that to ~1e-4 Å)
        assert np.allclose(a.positions, b.atoms().positions, atol=1e-3)


def test_workers_give_the_results_of_one_by_one(quick_records):
    """Relaxations shared out to two worker processes: each result equals the same
    relaxation run alone in this process, results come back through on_result, and a
    failing structure is named while the others are still delivered."""
    ids = ["111_acetate_t0.500_c0_F0", "110_acetate_t0.500_c0_vac0", "100_shell"]
    structs = [next(r for r in quick_records if r.id == i).atoms for i in ids]
    eng = get_engine("mlip")
    s = settings_for("mlip", "slab", {"max_steps": 12, "workers": 2})
    seen = []
    many = eng.run_many(structs, "relax", s, on_result=lambda i, r: seen.append(i))
    assert sorted(seen) == [0, 1, 2]
    for atoms, b in zip(structs, many, strict=True):
        a = eng.run(atoms, "relax", s)
        assert a.steps == b.steps > 0
        assert abs(a.energy - b.energy) < 1e-6
        assert np.allclose(a.atoms().positions, b.atoms().positions, atol=1e-6)
    from facetflow.engines.base import CalcErrors

    broken = structs[0].copy()
    broken.numbers[0] = 118  # oganesson: beyond CHGNet's 94 elements, the model raises
    seen.clear()
    with pytest.raises(CalcErrors, match="structure 1") as err:
        eng.run_many([structs[1], broken, structs[2]], "relax", s,
                      on_result=lambda i, r: seen.append(i))
    assert sorted(seen) == [0, 2] and list(err.value.failures) == [1]


def test_worker_count_setting():
    from facetflow.engines.workers import usable_cpus, worker_count

    assert worker_count(3, "cpu", 10) == 3
    assert worker_count(3, "cpu", 2) == 2  # never more than structures
    assert worker_count("auto", "cuda", 10) == 1  # GPUs batch
    assert 1 <= worker_count("auto", "cpu", 10) <= usable_cpus()
    for bad in (0, -1, 1.5, "many", True):
        with pytest.raises(ValueError, match="'workers' must be 'auto' or a whole number"):
            worker_count(bad, "cpu", 4)


def test_scaled_lbfgs_beats_fixed_on_soft_modes():
    """On a harmonic energy with soft modes (curvatures 0.5 to 50 eV/Å^2) the scaled initial
    inverse Hessian reaches fmax in fewer steps than ASE's fixed 1/70 Å^2/eV, and both
    end at the minimum."""
    from ase import Atoms

    from facetflow.engines.batch import batched_lbfgs

    rng = np.random.default_rng(3)
    n = 12
    q, _ = np.linalg.qr(rng.normal(size=(3 * n, 3 * n)))
    hess = q @ np.diag(np.geomspace(0.5, 50.0, 3 * n)) @ q.T
    x0 = rng.normal(scale=0.3, size=3 * n)

    def forces_fn(batch):
        out_e, out_f = [], []
        for a in batch:
            x = a.positions.ravel() - x0
            out_e.append(0.5 * x @ hess @ x)
            out_f.append(-(hess @ x).reshape(-1, 3))
        return out_e, out_f

    steps = {}
    for h0 in ("fixed", "scaled"):
        atoms = Atoms(f"H{n}", positions=np.zeros((n, 3)))
        info = batched_lbfgs([atoms], forces_fn, 1e-3, 1000, h0=h0)[0]
        assert info["converged"]
        assert np.allclose(atoms.positions.ravel(), x0, atol=1e-2)
        steps[h0] = info["steps"]
    assert steps["scaled"] < 0.7 * steps["fixed"]


def test_batched_bulk_references_relax_their_cells(quick_records):
    """Bulk references go through run_many together; each must still relax its cell."""
    bulks = [next(r for r in quick_records if r.id == i).atoms
             for i in ("ref_bulk_InAs", "ref_bulk_ZnSe")]
    out = get_engine("mlip").run_many(bulks, "relax", settings_for("mlip", "bulk"))
    for atoms, r in zip(bulks, out, strict=True):
        assert r.converged and abs(r.atoms().get_volume() / atoms.get_volume() - 1) > 0.005


def test_bulk_relaxes_cell(quick_records):
    bulk = next(r for r in quick_records if r.id == "ref_bulk_ZnSe").atoms
    r = get_engine("mlip").run(bulk, "relax", settings_for("mlip", "bulk"))
    v0, v1 = bulk.get_volume(), r.atoms().get_volume()
    assert r.converged and abs(v1 - v0) / v0 > 0.005  # PBE-trained: larger than experiment


def test_unknown_model_is_a_clear_error(slab_acetate):
    with pytest.raises(SpecError, match="settings.model: unknown model 'nonexistent'; "
                                        "allowed: chgnet, sevennet-0"):
        get_engine("mlip").run(slab_acetate, "single", {"model": "nonexistent"})


def test_engine_table_and_cli(tmp_path, quick_records):
    rows = {name: ok for name, ok, _ in engine_table()}
    assert rows["mlip"] is True
    from ase.io import write

    from facetflow.cli import app

    f = tmp_path / "hf.extxyz"
    write(f, next(r for r in quick_records if r.id == "ref_mol_HF").atoms)
    res = CliRunner().invoke(app, ["calc", str(f), "--relax", "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout.strip().splitlines()[-1])
    assert d["converged"] and d["engine"] == "mlip"
    h, fl = np.array(d["structure"]["positions"])
    assert 0.85 < np.linalg.norm(h - fl) < 1.0  # H-F bond near 0.92 Å
    res = CliRunner().invoke(app, ["calc", str(f), "--engine", "nonexistent"])
    assert res.exit_code == 3
