"""Whole-study runs on the embedded engine: reruns, changed studies, kill and resume,
the work-directory lock, failed calculations. Real CHGNet calculations on studies/tiny.yaml."""

import json
import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import STUDIES, copy_workdir, facetflow_cmd, run_cli, said, variant_study

TINY = STUDIES / "tiny.yaml"


def run_json(work: Path) -> dict:
    return json.loads((work / "tiny" / "run.json").read_text())


def done_events(workdir: Path) -> Counter:
    from facetflow.workflows.events import read_events

    return Counter(e["hash"] for e in read_events(workdir / "events.jsonl")
                   if e["event"] == "done")


def test_first_run_computes_everything_and_reports(tiny_run):
    info = run_json(tiny_run)
    assert info["total"] == 21 and info["run"] == 21 and info["failed"] == 0
    assert info["versions"]["fireworks"] and info["versions"]["ase"]
    wd = tiny_run / "tiny"
    summary = json.loads((wd / "report" / "summary.json").read_text())
    assert summary["schema"] == "facetflow.summary/1" and not summary["missing"]
    assert set(summary["facets"]) == {"110", "111"}
    # the store is an ase.db the ase command line can browse
    out = subprocess.run(["ase", "db", str(wd / "results.db"), "-c", "calc_hash,status",
                          "--limit", "0"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.count("done") == 21
    # the FireWorks side really ran: one COMPLETED Firework per batch plus the analysis
    from facetflow.workflows.queue import fireworks_states

    states = fireworks_states(wd)
    assert states["COMPLETED"] >= 2 and set(states) == {"COMPLETED"}
    # the core bulk relaxed its cell, and the slabs were scaled to that lattice
    from facetflow.analysis.data import load

    data = load(wd)
    built = next(iter(data.plan.nodes.values()))
    assert built.key == "ref_bulk_InAs"
    relaxed = data.result("ref_bulk_InAs").atoms().get_volume()
    from facetflow.workflows.geometry import initial_atoms

    assert abs(relaxed / initial_atoms(built).get_volume() - 1) > 0.005
    bare = data.result("110_bare").atoms()
    bare0 = initial_atoms(next(n for n in data.plan.nodes.values() if n.key == "110_bare"))
    scale = (relaxed / initial_atoms(built).get_volume()) ** (1 / 3)
    assert bare.cell[0, 0] == pytest.approx(bare0.cell[0, 0] * scale, rel=1e-6)


def test_binding_structures_come_in_a_second_stage_at_theta_star(tiny_run):
    """The run's expand step picked theta* from the first stage's energies and added the
    binding structures of exactly those arrangements, which the summary then uses."""
    from facetflow.analysis.summary import optimal_arrangements
    from facetflow.workflows.events import read_events

    wd = tiny_run / "tiny"
    events = read_events(wd / "events.jsonl")
    expanded = [e for e in events if e["event"] == "expanded"]
    assert len(expanded) == 1
    optimum = expanded[0]["optimum"]
    assert optimum == {"110": {"acetate": "110_acetate_t1.000_c0"},
                       "111": {"acetate": "111_acetate_t1.000_c0"}}
    assert optimal_arrangements(wd) == optimum  # the same choice again from the store
    # the added calculations were all pending then, and all ran after the first stage's
    done_at = {e["hash"]: e["t"] for e in events if e["event"] == "done"}
    added = expanded[0]["pending"]
    assert added and all(done_at[h] > expanded[0]["t"] for h in added)
    first_stage = set(done_at) - set(added)
    assert all(done_at[h] < expanded[0]["t"] for h in first_stage)
    manifest = json.loads((wd / "structures" / "manifest.json").read_text())
    binding = [e for e in manifest["structures"] if e["role"] == "binding"]
    assert {e["parent"] for e in binding} == {"110_acetate_t1.000_c0", "111_acetate_t1.000_c0"}
    summary = json.loads((wd / "report" / "summary.json").read_text())
    for label in ("110", "111"):
        rows = summary["facets"][label]["binding"]
        assert {r["role"] for r in rows} == {"ligand", "additive", "growth"}
        assert all(r["value"] is not None for r in rows)


def test_rerun_runs_nothing_and_reproduces_summary(tmp_path, tiny_run):
    work = copy_workdir(tiny_run, tmp_path)
    before = (work / "tiny" / "report" / "summary.json").read_bytes()
    manifest = work / "tiny" / "structures" / "manifest.json"
    built = json.loads(manifest.read_text())["structures"]
    proc = run_cli("run", str(TINY), "--work", str(work), "--no-pictures", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    info = run_json(work)
    assert info["run"] == 0 and info["reused"] == 21 and info["failed"] == 0
    assert (work / "tiny" / "report" / "summary.json").read_bytes() == before
    # the build is written once, with the second stage's binding structures in it
    rebuilt = json.loads(manifest.read_text())["structures"]
    assert [e["id"] for e in rebuilt] == [e["id"] for e in built]
    assert any(e["role"] == "binding" for e in rebuilt)
    assert all((work / "tiny" / "structures" / e["file"]).is_file() for e in rebuilt)


def test_unchanged_rerun_does_each_step_once(tmp_path, tiny_run, monkeypatch):
    """A rerun of a finished two-stage study loads the study, builds the structures and
    the plan and writes the plan once each: the plan remembers the theta* its binding
    structures were built for, and the stored energies confirm it."""
    from facetflow.analysis.report import write_report
    from facetflow.analysis.summary import optimal_arrangements
    from facetflow.workflows import local, workdir
    from facetflow.workflows.hooks import AnalysisHooks, register_analysis

    work = copy_workdir(tiny_run, tmp_path)
    register_analysis(AnalysisHooks(optimal_arrangements=optimal_arrangements,
                                    write_report=write_report))
    calls: Counter = Counter()

    def counted(module, name):
        func = getattr(module, name)

        def wrapper(*args, **kwargs):
            calls[name] += 1
            return func(*args, **kwargs)
        monkeypatch.setattr(module, name, wrapper)

    counted(local, "load_study")
    for name in ("load_study", "build_catalog", "build_plan", "write_plan", "write_build"):
        counted(workdir, name)
    summary = local.run_study(TINY, work, pictures=False)
    assert summary.run == 0 and summary.reused == 21
    assert calls == {"load_study": 1, "build_catalog": 1, "build_plan": 1, "write_plan": 1,
                     "write_build": 1}


def test_changed_study_recomputes_only_changed_hashes(tmp_path, tiny_run):
    from facetflow.records.plan import read_plan

    work = copy_workdir(tiny_run, tmp_path)
    old = set(read_plan(work / "tiny" / "plan.json").nodes)

    def edit(d):
        d["facets"][0]["coverages"] = {"acetate": [0.5, 1.0]}  # one coverage added on 110
        d["engine"]["settings"]["molecule"] = {"fmax": 0.04}  # one engine setting changed

    study = variant_study(tmp_path, TINY, edit)
    proc = run_cli("run", str(study), "--work", str(work), "--no-pictures", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    new = set(read_plan(work / "tiny" / "plan.json").nodes)
    changed = new - old
    info = run_json(work)
    assert info["run"] == len(changed) and info["reused"] == len(new & old)
    assert 0 < len(changed) < len(new)
    counts = done_events(work / "tiny")
    assert all(n == 1 for n in counts.values())  # nothing computed twice


def test_several_starts_keep_the_lowest_and_reuse_the_first(tmp_path, tiny_run):
    """starts: 2 on a finished one-start run: only the new starts (and what is
    warm-started from them) run; each structure's energy is its lowest start; a variant
    starts from the lowest start of its arrangement."""
    from facetflow.analysis.data import energies, load
    from facetflow.records.plan import read_plan

    work = copy_workdir(tiny_run, tmp_path)
    old = set(read_plan(work / "tiny" / "plan.json").nodes)
    study = variant_study(tmp_path, TINY, lambda d: d["workflow"].update(starts=2))
    proc = run_cli("run", str(study), "--work", str(work), "--no-pictures", "--no-progress")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    plan = read_plan(work / "tiny" / "plan.json")
    info = run_json(work)
    assert info["run"] == len(set(plan.nodes) - old) and info["failed"] == 0
    assert info["reused"] == len(set(plan.nodes) & old) > 10
    assert all(n == 1 for n in done_events(work / "tiny").values())
    data = load(work / "tiny")
    frame = energies(data).set_index("id")
    several = [sid for sid, rec in data.records.items() if rec.starts]
    assert len(several) >= 6
    spreads = []
    for sid in several:
        per_start = data.start_energies(sid)
        assert len(per_start) == 2 and None not in per_start
        assert data.energy(sid) == min(per_start)
        lowest = data.records[sid].starts[per_start.index(min(per_start))]
        assert frame.loc[sid, "calc"] == lowest and frame.loc[sid, "starts_done"] == 2
        spreads.append(frame.loc[sid, "start_spread_eV"])
    assert max(spreads) > 0.01  # the perturbed starts really start elsewhere
    arr, var = "110_acetate_t1.000_c0", "110_acetate_t1.000_c0_F0"
    starts = data.records[arr].starts
    lowest = starts[data.start_energies(arr).index(data.energy(arr))]
    meta = data.results[data.records[var].calc].meta
    assert meta["inputs"]["started_from"] == lowest
    assert meta["inputs"]["start_alternatives"] == starts[1:]
    summary = json.loads((work / "tiny" / "report" / "summary.json").read_text())
    assert not summary["missing"]
    block = summary["starts"]
    assert block["structures"] == len(several) and block["per_structure"] == 2
    assert block["spread_eV"]["max"] == pytest.approx(max(spreads))
    assert block["lowest_not_start_0"] == sum(
        data.start_energies(sid).index(data.energy(sid)) != 0 for sid in several)
    assert "Several starts per structure" in (work / "tiny" / "report" / "report.html"
                                              ).read_text()
    assert said(f"starts: {len(several)} structures from 2 starts each", proc.stdout)


def test_pruned_starts_stop_early_and_never_count_as_lowest(tmp_path, tiny_run):
    """workflow.prune_starts: start 1 of every structure runs after start 0 (which the
    one-start run already computed) and, still above start 0's minimum + 1 meV after two
    steps, is stopped there and stored as pruned; the structure keeps start 0's energy
    and the summary counts the pruned starts without a spread."""
    from facetflow.analysis.data import load

    work = copy_workdir(tiny_run, tmp_path)
    study = variant_study(tmp_path, TINY, lambda d: d["workflow"].update(
        starts=2, prune_starts={"after_steps": 2, "above_eV": 0.001}))
    proc = run_cli("run", str(study), "--work", str(work), "--no-pictures", "--no-progress")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    data = load(work / "tiny")
    several = [sid for sid, rec in data.records.items() if rec.starts]
    assert len(several) >= 6
    for sid in several:
        first, other = (data.results[h] for h in data.records[sid].starts)
        node = data.plan.nodes[data.records[sid].starts[1]]
        assert node.prune_against == data.records[sid].starts[0]
        assert node.depth > data.plan.nodes[node.prune_against].depth
        assert other.result.pruned and other.result.steps == 2
        assert not other.result.converged and other.status == "done"
        assert other.result.energy > first.result.energy + 0.001
        assert any("pruned after 2 steps" in w for w in other.result.warnings)
        assert data.energy(sid) == first.result.energy
    summary = json.loads((work / "tiny" / "report" / "summary.json").read_text())
    block = summary["starts"]
    assert block["pruned"] == len(several) and block["lowest_not_start_0"] == 0
    assert block["spread_eV"]["median"] is None
    assert said(f"{len(several)} starts stopped early", proc.stdout)


def test_kill_and_resume_computes_nothing_twice(tmp_path, tiny_run):
    work = tmp_path / "work"
    proc = subprocess.Popen(facetflow_cmd("run", str(TINY), "--work", str(work),
                                          "--no-pictures", "--no-progress"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    events = work / "tiny" / "events.jsonl"
    deadline = time.time() + 300
    while time.time() < deadline and sum(done_events(work / "tiny").values()) < 8:
        assert proc.poll() is None, "the run ended before it could be killed"
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = sum(done_events(work / "tiny").values())
    assert 8 <= killed_at < 21 and events.is_file()
    proc2 = run_cli("run", str(TINY), "--work", str(work), "--no-pictures", "--no-progress")
    assert proc2.returncode == 0, proc2.stderr
    counts = done_events(work / "tiny")
    assert len(counts) == 21 and max(counts.values()) == 1
    assert run_json(work)["run"] == 21 - killed_at
    a = json.loads((work / "tiny" / "report" / "summary.json").read_text())
    b = json.loads((tiny_run / "tiny" / "report" / "summary.json").read_text())
    for facet in ("110", "111"):  # same physics as the uninterrupted run
        ga = {p["structure"]: p["delta"] for p in a["facets"][facet]["gamma"]}
        gb = {p["structure"]: p["delta"] for p in b["facets"][facet]["gamma"]}
        assert ga.keys() == gb.keys()
        for k in ga:
            assert abs(ga[k] - gb[k]) < 0.05, k  # meV/Å²


def test_second_run_on_the_same_workdir_is_refused(tmp_path, tiny_run):
    from facetflow.store import ResultStore
    from facetflow.workflows.lock import WorkdirLock

    work = copy_workdir(tiny_run, tmp_path)
    rows_before = ResultStore(work / "tiny" / "results.db").hashes()
    with WorkdirLock(work / "tiny"):
        proc = run_cli("run", str(TINY), "--work", str(work), "--no-pictures", "--no-progress")
    assert proc.returncode == 5
    assert said("in use by another facetflow run", proc.stderr)
    assert f"pid {os.getpid()}" in proc.stderr
    store = ResultStore(work / "tiny" / "results.db")
    assert store.hashes() == rows_before and len(store.all()) == 21 and not store.problems


def test_failed_calculations_are_recorded_and_reported(tmp_path):
    def edit(d):  # the molecule references cannot converge in 2 steps, and must
        d["engine"]["settings"]["molecule"] = {"max_steps": 2, "fmax": 0.001,
                                               "require_convergence": True}

    study = variant_study(tmp_path, TINY, edit)
    work = tmp_path / "work"
    proc = run_cli("run", str(study), "--work", str(work), "--no-pictures", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    info = run_json(work)
    # without the ligand's chemical potential there is no gamma, but the one computed
    # coverage is still theta*: the second stage adds its 4 binding structures
    assert info["failed"] == 3 and info["run"] == 18
    assert {f["key"] for f in info["failures"]} == {"ref_mol_CH3COOH", "ref_mol_H2",
                                                    "ref_mol_HF"}
    assert all("did not converge" in f["error"] for f in info["failures"])
    assert said("failed ref_mol_HF", proc.stdout)
    summary = json.loads((work / "tiny" / "report" / "summary.json").read_text())
    missing = {m["structure"]: m["reason"] for m in summary["missing"]}
    assert set(missing) >= {"ref_mol_CH3COOH", "ref_mol_H2", "ref_mol_HF"}
    assert all(r.startswith("failed:") for r in missing.values())
    assert "acetate" not in summary["chemical_potentials"]
    points = summary["facets"]["110"]["gamma"]
    assert points and all(p["value"] is None for p in points)  # gaps, not crashes
    assert summary["facets"]["110"]["gamma_bare"]["value"] is not None
    eb = summary["facets"]["110"]["binding"]
    # no mu(acetate), mu(F) without the molecules: gaps; ZnSe needs only bulk ZnSe
    assert {b["species"]: b["value"] is None for b in eb} == {
        "acetate": True, "F": True, "ZnSe": False}
    html = (work / "tiny" / "report" / "report.html").read_text()
    assert "ref_mol_HF" in html
    # the failure is a store row with its error; a rerun tries it again, once, then
    # runs leave it alone until asked
    from facetflow.store import ResultStore

    failed = ResultStore(work / "tiny" / "results.db").all(status="failed")
    assert len(failed) == 3 and all("did not converge" in f.error for f in failed.values())
    args = ("run", str(study), "--work", str(work), "--no-pictures", "--no-progress")
    assert run_cli(*args).returncode == 0
    assert (run_json(work)["failed"], run_json(work)["run"]) == (3, 0)
    third = run_cli(*args)
    assert third.returncode == 0 and said("3 left alone after failing twice", third.stderr)
    assert (run_json(work)["failed"], run_json(work)["run"]) == (0, 0)
    assert run_cli(*args, "--retry-failed").returncode == 0
    assert run_json(work)["failed"] == 3


def test_corrupted_store_row_is_detected_and_recomputed(tmp_path, tiny_run):
    import sqlite3

    work = copy_workdir(tiny_run, tmp_path)
    db = work / "tiny" / "results.db"
    con = sqlite3.connect(db)
    (rid, data), = con.execute("SELECT id, data FROM systems WHERE key_value_pairs LIKE "
                               "'%\"label\": \"110_bare\"%'")
    i = data.index(b'"energy":') + len(b'"energy":-')
    digit = b"1" if data[i:i + 1] != b"1" else b"2"
    tampered = data[:i] + digit + data[i + 1:]  # another energy, same length, old checksum
    con.execute("UPDATE systems SET data = ? WHERE id = ?", (tampered, rid))
    con.commit()
    con.close()
    proc = run_cli("run", str(TINY), "--work", str(work), "--no-pictures", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    info = run_json(work)
    assert info["run"] == 1 and info["reused"] == 20
    assert [p["reason"].startswith("checksum mismatch") for p in info["store_problems"]] == [True]
    before = json.loads((tiny_run / "tiny" / "report" / "summary.json").read_text())
    after = json.loads((work / "tiny" / "report" / "summary.json").read_text())
    # recomputed alone instead of in a batch: CHGNet's numbers agree to ~1e-6 eV
    assert after["facets"]["110"]["gamma_bare"]["value"] == pytest.approx(
        before["facets"]["110"]["gamma_bare"]["value"], abs=1e-3)


def test_one_model_relaxes_and_another_gives_the_energies(tmp_path):
    """The main job's protocol on tiny.yaml: CHGNet relaxes every slab (prerelax), and
    SevenNet-0's single point at exactly that geometry is the structure's energy; the
    report names SevenNet-0 as the engine and CHGNet's energies there are the committee."""
    def edit(d):
        d["engine"] = {"name": "mlip", "settings": {**d["engine"]["settings"],
                                                    "model": "sevennet-0"},
                       "prerelax": "mlip", "final_task": "single",
                       "prerelax_settings": {"model": "chgnet", "fmax": 0.1,
                                             "max_steps": 80}}
        d["workflow"]["committee"] = ["chgnet"]

    study = variant_study(tmp_path, TINY, edit)
    work = tmp_path / "work"
    proc = run_cli("run", str(study), "--work", str(work), "--no-pictures", "--no-progress")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert run_json(work)["failed"] == 0
    from facetflow.records.plan import read_plan
    from facetflow.store import ResultStore

    plan = read_plan(work / "tiny" / "plan.json")
    store = ResultStore(work / "tiny" / "results.db")
    slab = next(r for r in plan.records.values() if r.role != "reference")
    final = plan.nodes[slab.calc]
    got, pre = store.get(final.hash).result, store.get(final.start_from).result
    assert final.task == "single" and pre.steps > 0
    assert "sevennet" in got.provenance["model_description"].lower()
    assert "chgnet" in pre.provenance["model_description"].lower()
    assert (got.atoms().positions == pre.atoms().positions).all()
    assert got.energy != pre.energy  # another model's energy at the same geometry
    committee = store.get(slab.committee["chgnet"]).result
    assert committee.energy == pytest.approx(pre.energy, abs=1e-4)  # CHGNet there again
    summary = json.loads((work / "tiny" / "report" / "summary.json").read_text())
    assert summary["engine"]["identity"].endswith("sevennet-0")
