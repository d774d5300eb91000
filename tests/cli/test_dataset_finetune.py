"""DFT data sets and fine-tuning, as a user runs them: a real GPAW study (LCAO single
points at ML pre-relaxed geometries, two DFT candidates per structure) into a store,
``facetflow dataset export`` and ``facetflow finetune`` from the work directory, and
the fine-tuned model in a study's plan."""

import json
import shutil

import numpy as np
import pytest
from conftest import ROOT, run_cli, said, variant_study

GPAW_TINY = ROOT / "tests" / "data" / "gpaw_tiny.yaml"


@pytest.fixture(scope="module")
def gpaw_run(tmp_path_factory):
    """gpaw_tiny run to the end from a directory of its own, default work root."""
    cwd = tmp_path_factory.mktemp("gpaw-cwd")
    proc = run_cli("run", str(GPAW_TINY), "--no-pictures", "--no-progress", cwd=cwd,
                   timeout=900)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return cwd


def test_dft_candidates_run_end_to_end_and_the_lowest_counts(gpaw_run):
    summary = json.loads((gpaw_run / "work/gpaw_tiny/report/summary.json").read_text())
    cand = summary["starts"]["candidates"]
    row = cand["by_structure"]["110_F_t1.000_c0"]
    assert row["candidates"] == row["done"] == 2 and row["gain_eV"] >= 0.0
    plan = json.loads((gpaw_run / "work/gpaw_tiny/plan.json").read_text())
    rec = plan["records"]["110_F_t1.000_c0"]
    assert len(rec["starts"]) == 2 and len(rec["prerelax_starts"]) == 2
    ranks = sorted(n["start_rank"] for n in plan["nodes"] if n["hash"] in rec["starts"])
    assert ranks == [0, 1]


def test_dft_frames_stop_the_ml_relaxation_and_compute_there(gpaw_run):
    from facetflow.store import ResultStore

    plan = json.loads((gpaw_run / "work/gpaw_tiny/plan.json").read_text())
    nodes = {n["hash"]: n for n in plan["nodes"]}
    point = nodes[plan["records"]["110_F_t1.000_c0"]["frames"]["1"]]
    store = ResultStore(gpaw_run / "work/gpaw_tiny/results.db")
    ml = store.get(point["start_from"]).result
    assert (ml.steps, ml.converged) == (1, False)  # stopped after one step
    got = store.get(point["hash"]).result
    assert got.engine == "gpaw" and got.task == "single"
    assert np.allclose(got.atoms().positions, ml.atoms().positions)


def test_dataset_export_frames_and_reactions(gpaw_run):
    from ase.io import read

    proc = run_cli("dataset", "export", "work/gpaw_tiny", "--out", "ds", cwd=gpaw_run)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    frames = read(gpaw_run / "ds" / "frames.extxyz", ":")
    assert said(f"{len(frames)} frames", proc.stdout)
    assert all(a.info["engine"] == "gpaw" for a in frames)  # no ML pre-relaxation
    slabs = [a for a in frames if a.info["structure_id"].startswith("110_")]
    assert {a.info["family"] for a in slabs} == {"gpaw_tiny:110"}
    assert all("pseudo_h_charge" in a.arrays and a.get_forces().shape == (len(a), 3)
               for a in slabs)
    doc = json.loads((gpaw_run / "ds" / "reactions.json").read_text())
    (rxn,) = [r for r in doc["reactions"] if r["id"] == "gpaw_tiny/110/binding/F/θ1"]
    energy = {a.info["calc_hash"]: a.get_potential_energy() for a in frames}
    assert sum(c * energy[h] for h, c in rxn["coefficients"].items()) == pytest.approx(
        rxn["energy_eV"], abs=1e-6)  # the coefficients rebuild the summary's E_b
    (framed,) = [a for a in frames if a.info["stage"] == "frame"
                 and a.info["structure_id"] == "110_F_t1.000_c0"]
    final = next(a for a in frames if a.info["key"] == "110_F_t1.000_c0")
    assert framed.info["key"].endswith("@frame1")
    assert np.abs(framed.positions - final.positions).max() > 1e-3  # not the minimum
    # the DFT candidates carry their ML rank and the ML energy at their geometry
    cands = sorted((a for a in frames if a.info["structure_id"] == "110_F_t1.000_c0"
                    and a.info["stage"] == "final"), key=lambda a: a.info["candidate"])
    assert [a.info["candidate"] for a in cands] == [0, 1]
    ml = [a.info["ml_energy"] for a in cands]
    assert ml[0] <= ml[1] and framed.info["ml_energy"] != ml[0]
    from facetflow.store import ResultStore

    store = ResultStore(gpaw_run / "work/gpaw_tiny/results.db")
    assert framed.info["ml_energy"] == pytest.approx(
        store.get(plan_node_start(gpaw_run, framed.info["calc_hash"])).result.energy)
    bad = run_cli("dataset", "export", "nowhere", "--out", "x", cwd=gpaw_run)
    assert bad.returncode == 2 and said("not a facetflow work directory", bad.stderr)
    twice = run_cli("dataset", "export", "work/gpaw_tiny", "work/gpaw_tiny", "--out", "y",
                    cwd=gpaw_run)  # every id twice: refused, nothing written
    assert twice.returncode == 2 and said("occur more than once", twice.stderr)
    assert not (gpaw_run / "y").exists()


def plan_node_start(run_dir, calc_hash: str) -> str:
    """The hash a calculation of gpaw_tiny's plan starts from."""
    plan = json.loads((run_dir / "work/gpaw_tiny/plan.json").read_text())
    return next(n["start_from"] for n in plan["nodes"] if n["hash"] == calc_hash)


def test_finetune_fits_its_training_frames_and_enters_the_hash(gpaw_run, tmp_path):
    proc = run_cli("finetune", "work/gpaw_tiny", "--out", "ft", "--epochs", "4",
                   "--val-fraction", "0", "--learning-rate", "1e-3", cwd=gpaw_run)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    card = json.loads((gpaw_run / "ft" / "model_card.json").read_text())
    stock, tuned = card["errors"]["stock_train"], card["errors"]["finetuned_train"]
    assert tuned["energy_mae_eV"] < stock["energy_mae_eV"]
    assert tuned["force_mae_eV_A"] < stock["force_mae_eV_A"]
    assert card["data"]["frames"]["train"] >= 4
    got = _run_in_a_study(gpaw_run / "ft", "ft/model.pth.tar", card, tmp_path)
    assert card["sha256"] in got.provenance["model_description"]


def _run_in_a_study(model_dir, model: str, card: dict, tmp_path):
    """A study next to the model uses it by a relative path: its sha256 is in the plan's
    hash and the engine runs it (a single point of bulk ZnS)."""
    from ase.build import bulk

    from facetflow.engines import get_engine
    from facetflow.structures.catalog import build_catalog
    from facetflow.study import load_study
    from facetflow.workflows.plan import build_plan

    shutil.copytree(model_dir, tmp_path / model_dir.name)
    study = variant_study(tmp_path, ROOT / "studies" / "tiny.yaml", lambda d: d["engine"]
                          .setdefault("settings", {}).update(model=model))
    st = load_study(study)
    node = next(iter(build_plan(st, build_catalog(st)).nodes.values()))
    assert card["sha256"] in node.identity
    assert node.settings["model"] == str(tmp_path / model)
    got = get_engine("mlip").run(bulk("ZnS", "zincblende", a=5.41), "single",
                                 {**node.settings, "workers": 1})
    assert np.isfinite(got.energy)
    return got


def test_finetune_of_the_readout_changes_only_the_readout(gpaw_run):
    """--layers readout, from an exported data set (as data/reference_set): the
    representation keeps CHGNet's weights, the readout MLP fits the frames (and the
    composition energies take the DFT scale)."""
    import torch
    from ase.io import read
    from chgnet.model import CHGNet

    assert run_cli("dataset", "export", "work/gpaw_tiny", "--out", "set",
                   cwd=gpaw_run).returncode == 0
    proc = run_cli("finetune", "set", "--out", "ro", "--epochs", "3",
                   "--val-fraction", "0", "--learning-rate", "1e-3", "--layers", "readout",
                   "--energy-weight", "10", cwd=gpaw_run)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    card = json.loads((gpaw_run / "ro" / "model_card.json").read_text())
    assert card["hyperparameters"]["layers"] == "readout"
    assert card["data"]["datasets"] == [str(gpaw_run / "set")]
    assert card["data"]["frames"]["train"] == len(read(gpaw_run / "set/frames.extxyz", ":"))
    before, after = card["errors"]["shifted_train"], card["errors"]["finetuned_train"]
    assert after["relative_energy_mae_eV_atom"] < before["relative_energy_mae_eV_atom"]
    assert after["energy_mae_eV_atom"] < 0.02  # still on the DFT scale
    stock = CHGNet.load(verbose=False).state_dict()
    tuned = CHGNet.from_file(str(gpaw_run / "ro" / "model.pth.tar")).state_dict()
    changed = {k.split(".")[0] for k, v in stock.items() if not torch.equal(v, tuned[k])}
    assert changed == {"mlp", "composition_model"}
    bad = run_cli("finetune", "work/gpaw_tiny", "--out", "x", "--layers", "head",
                  cwd=gpaw_run)
    assert bad.returncode == 2 and said("--layers head: allowed: all, readout", bad.stderr)
    assert not (gpaw_run / "x").exists()


def test_finetune_of_sevennet_fits_its_frames_and_runs_in_a_study(gpaw_run, tmp_path):
    """SevenNet-0, readout only: the written checkpoint (model.pth) fits its training
    frames better than the stock model with the refitted composition energies, only the
    readout layers and the per-species shift moved, and a study runs it by path with its
    sha256 in the calculation's identity."""
    import torch

    proc = run_cli("finetune", "work/gpaw_tiny", "--model", "sevennet-0", "--out", "sv",
                   "--epochs", "3", "--val-fraction", "0", "--learning-rate", "1e-2",
                   "--layers", "readout", "--energy-weight", "100", cwd=gpaw_run)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    card = json.loads((gpaw_run / "sv" / "model_card.json").read_text())
    assert card["base_model"] == "sevennet-0" and card["file"] == "model.pth"
    assert "sevenn" in card["versions"]
    before, after = card["errors"]["shifted_train"], card["errors"]["finetuned_train"]
    assert card["best_epoch"] >= 1
    assert after["relative_energy_mae_eV_atom"] < 0.95 * before["relative_energy_mae_eV_atom"]
    from sevenn.util import load_checkpoint, pretrained_name_to_path

    stock = load_checkpoint(pretrained_name_to_path("7net-0")).build_model().state_dict()
    tuned = torch.load(gpaw_run / "sv" / "model.pth", weights_only=False,
                       map_location="cpu")["model_state_dict"]
    changed = {k.split(".")[0] for k, v in stock.items() if not torch.equal(v, tuned[k])}
    assert changed == {"reduce_input_to_hidden", "reduce_hidden_to_energy",
                       "rescale_atomic_energy"}
    # the file as the engine loads it is the model that was trained: the card's errors
    # (forces, and energies up to per-species shifts) come back from it
    from facetflow.analysis.dataset import training_frames
    from facetflow.engines.finetune import _relative_mae
    from facetflow.engines.mlip_models import load_calculator

    frames = training_frames([gpaw_run / "work/gpaw_tiny"])
    calc, _ = load_calculator.__wrapped__(str(gpaw_run / "sv" / "model.pth"), "cpu")
    energies, force_errors = [], []
    for a in frames:
        b = a.copy()
        b.calc = calc
        energies.append(b.get_potential_energy())
        force_errors.append(np.abs(b.get_forces() - a.get_forces()).ravel())
    dft = np.array([a.get_potential_energy() for a in frames])
    assert np.concatenate(force_errors).mean() == pytest.approx(after["force_mae_eV_A"],
                                                                abs=1e-4)
    assert _relative_mae(dft - np.array(energies), frames) == pytest.approx(
        after["relative_energy_mae_eV_atom"], abs=1e-5)
    got = _run_in_a_study(gpaw_run / "sv", "sv/model.pth", card, tmp_path)
    assert "fine-tuned SevenNet" in got.provenance["model_description"]


def test_finetune_refuses_what_it_cannot_do(gpaw_run, tmp_path):
    proc = run_cli("finetune", "work/gpaw_tiny", "--model", "sevennet-mf-0", "--out", "x",
                   "--epochs", "1", cwd=gpaw_run)
    assert proc.returncode == 3 and said("fine-tuning 'sevennet-mf-0' is not supported",
                                         proc.stderr)
    assert not (gpaw_run / "x").exists()
    study = variant_study(tmp_path, ROOT / "studies" / "tiny.yaml", lambda d: d["engine"]
                          .setdefault("settings", {}).update(model="none/model.pth.tar"))
    bad = run_cli("validate", str(study))
    assert bad.returncode == 2 and said("model file", bad.stderr + bad.stdout)


def test_model_benchmark_runs_on_a_subset(gpaw_run, tmp_path):
    import subprocess
    import sys

    ds = gpaw_run / "ds"
    if not ds.is_dir():
        assert run_cli("dataset", "export", "work/gpaw_tiny", "--out", "ds",
                       cwd=gpaw_run).returncode == 0
    out = tmp_path / "models.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "models.py"), str(ds),
                           "--models", "chgnet", "--subset", "1", "--slab-steps", "0",
                           "--json", str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    row = json.loads(out.read_text())["models"]["chgnet"]
    assert row["reactions"] == 1 and row["reaction_mae_eV"] >= 0.0
    assert row["force_mae_eV_A"] > 0.0 and "chgnet" in proc.stdout


def test_basis_error_benchmark_matches_reactions_and_surfaces(gpaw_run, tmp_path):
    """benchmarks/basis_error.py pairs reactions by id without the study and surfaces by
    compound and facet: a copy of the set under another study name, every reaction 0.1 eV
    lower and every surface 2 meV/Å² higher, differs by exactly that."""
    import subprocess
    import sys

    ds = gpaw_run / "ds"
    if not ds.is_dir():
        assert run_cli("dataset", "export", "work/gpaw_tiny", "--out", "ds",
                       cwd=gpaw_run).returncode == 0
    doc = json.loads((ds / "reactions.json").read_text())
    assert doc["reactions"], "the tiny set has reactions"
    doc["surfaces"] = doc.get("surfaces") or [
        {"id": "gpaw_tiny/110/surface", "compound": "InAs", "facet": "110",
         "gamma_meV_A2": 40.0}]
    lcao, pw = tmp_path / "lcao", tmp_path / "pw"
    lcao.mkdir(), pw.mkdir()
    (lcao / "reactions.json").write_text(json.dumps(doc))
    for r in doc["reactions"]:
        r["id"] = "other_study/" + r["id"].split("/", 1)[1]
        r["energy_eV"] -= 0.1
    for s in doc["surfaces"]:
        s["id"], s["gamma_meV_A2"] = "other_study/x", s["gamma_meV_A2"] + 2.0
    (pw / "reactions.json").write_text(json.dumps(doc))
    out = tmp_path / "basis.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "basis_error.py"),
                           str(lcao), str(pw), "--json", str(out)], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(out.read_text())
    assert got["reactions_eV"]["n"] == len(doc["reactions"])
    assert got["reactions_eV"]["mae"] == pytest.approx(0.1)
    kinds = {r["kind"] for r in doc["reactions"]}
    assert set(got["reactions_eV"]["by_kind"]) == kinds
    assert all(k["mae"] == pytest.approx(0.1) for k in got["reactions_eV"]["by_kind"].values())
    assert got["surfaces_meV_A2"]["n"] == len(doc["surfaces"])
    assert got["surfaces_meV_A2"]["max"] == pytest.approx(2.0)
    assert "LCAO-PW" in proc.stdout


def test_ranking_benchmark_reads_the_candidates_from_the_set(gpaw_run, tmp_path):
    """benchmarks/ranking.py: gpaw_tiny's two DFT candidates per structure, compared from
    the exported frames alone (their ML rank and ML energy), agree with the summary's
    own account of which candidate DFT puts lowest."""
    import subprocess
    import sys

    assert run_cli("dataset", "export", "work/gpaw_tiny", "--out", "rank",
                   cwd=gpaw_run).returncode == 0
    out = tmp_path / "ranking.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "ranking.py"),
                           str(gpaw_run / "rank"), "--json", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(out.read_text())["studies"]["gpaw_tiny"]
    summary = json.loads((gpaw_run / "work/gpaw_tiny/report/summary.json").read_text())
    cand = summary["starts"]["candidates"]
    assert got["structures"] == sum(r["done"] > 1 for r in cand["by_structure"].values())
    assert got["dft_lowest_not_ml_lowest"] == sum(
        r["lowest_candidate"] != 0 for r in cand["by_structure"].values() if r["done"] > 1)
    assert got["cost_eV"]["max"] == pytest.approx(cand["gain_eV"]["max"], abs=1e-9)
