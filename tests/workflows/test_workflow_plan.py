"""The plan: nodes, inputs, content hashes, deduplication, warm starts."""

import numpy as np
import pytest
from conftest import STUDIES

from facetflow.errors import SpecError


@pytest.fixture(scope="module")
def quick():
    from facetflow.study import load_study

    return load_study(STUDIES / "quick.yaml")


@pytest.fixture(scope="module")
def quick_plan(quick, quick_records):
    from facetflow.workflows.plan import build_plan

    return build_plan(quick, quick_records)


def test_quick_plan_nodes_and_inputs(quick_plan, quick_records):
    plan = quick_plan
    by_key = {n.key: n for n in plan.nodes.values()}
    assert len(plan.nodes) == len(quick_records) == 33
    assert len(set(plan.nodes)) == len(plan.nodes)  # no duplicate hashes
    labels = [lab for n in plan.nodes.values() for lab in n.labels]
    assert sorted(labels) == sorted(r.id for r in quick_records)
    bulk = by_key["ref_bulk_InAs"]
    assert bulk.purpose == "bulk" and bulk.settings["relax_cell"] and not bulk.inputs
    assert by_key["ref_bulk_In"].purpose == "bulk"  # In metal: bulk, not a "molecule"
    assert by_key["ref_mol_HF"].purpose == "molecule"
    assert by_key["pass_100_In"].purpose == "slab"  # passivated-face references
    for n in plan.nodes.values():
        if not n.key.startswith("ref_"):
            assert n.lattice_from == bulk.hash, n.key  # the relaxed lattice feeds every slab
    lig = by_key["100_acetate_t0.500_c0"]
    # ligand arrangements start from the guess (the bare surface's relaxation can trap
    # them); variants and binding structures from their arrangement's relaxed geometry
    assert lig.start_from is None and by_key["100_shell"].start_from is None
    assert by_key["100_acetate_t0.500_c0_F0"].start_from == lig.hash
    assert by_key["100_acetate_t0.500_c0_vac0"].start_from == lig.hash
    # topological order: every input comes first, and one level deeper
    seen = set()
    for h, n in plan.nodes.items():
        assert all(i in seen for i in n.inputs), n.key
        assert all(plan.nodes[i].depth < n.depth for i in n.inputs)
        seen.add(h)
    assert sum(len(level) for level in plan.levels()) == 33


def test_identical_calculations_are_merged(quick, quick_records):
    from facetflow.structures.built import BuiltStructure
    from facetflow.workflows.plan import build_plan

    h2 = next(r for r in quick_records if r.id == "ref_mol_H2")
    twin = BuiltStructure(h2.record.model_copy(update={"id": "ref_mol_H2_again"}),
                          h2.atoms.copy())
    plan = build_plan(quick, [*quick_records, twin])
    assert plan.raw_count == 34 and len(plan.nodes) == 33
    node = plan.nodes[plan.records["ref_mol_H2_again"].calc]
    assert node.labels == ["ref_mol_H2", "ref_mol_H2_again"]


def test_hashes_follow_physical_settings_only(quick, quick_records, quick_plan):
    from facetflow.workflows.plan import build_plan

    threads = build_plan(quick, quick_records, settings={"threads": 1, "device": "cpu"})
    assert set(threads.nodes) == set(quick_plan.nodes)
    loose = build_plan(quick, quick_records, settings={"fmax": 0.08})
    assert not set(loose.nodes) & set(quick_plan.nodes)
    # a molecule-only change: molecules change, nothing downstream of them does
    mol = build_plan(quick, quick_records, settings={"molecule": {"fmax": 0.01}})
    changed = {n.key for h, n in mol.nodes.items() if h not in quick_plan.nodes}
    assert changed == {"ref_mol_CH3COOH", "ref_mol_H2", "ref_mol_HF"}


def test_changed_coverage_changes_only_its_structures(quick, quick_records, quick_plan):
    from facetflow.structures.catalog import build_catalog
    from facetflow.study import parse_study
    from facetflow.workflows.plan import build_plan

    data = quick.model_dump(mode="json")
    data["ligands"][0]["coverages"] = [0.5, 0.75]
    spec = parse_study(data)
    records = build_catalog(spec, STUDIES)
    plan = build_plan(spec, records)
    new = {n.key for h, n in plan.nodes.items() if h not in quick_plan.nodes}
    assert new and all("_t0.750" in k for k in new)
    kept = {n.key for h, n in plan.nodes.items() if h in quick_plan.nodes}
    assert "100_acetate_t0.500_c0_F0" in kept and "ref_bulk_InAs" in kept


def test_dft_plan_prerelaxes_with_mlip(quick, quick_records):
    from facetflow.study import parse_study
    from facetflow.workflows.plan import build_plan

    data = quick.model_dump(mode="json")
    data["engine"].update(name="qe", prerelax="mlip")
    spec = parse_study(data)
    plan = build_plan(spec, quick_records)
    by_key = {n.key: n for n in plan.nodes.values()}
    pre, final = by_key["110_shell@prerelax"], by_key["110_shell"]
    assert pre.engine == "mlip" and final.engine == "qe"
    assert final.start_from == pre.hash and final.start_map is None
    assert by_key["ref_bulk_InAs"].engine == "qe" and "ref_bulk_InAs@prerelax" not in by_key
    # a variant's pre-relaxation starts from its arrangement's pre-relaxation
    assert (by_key["110_acetate_t0.500_c0_F0@prerelax"].start_from
            == by_key["110_acetate_t0.500_c0@prerelax"].hash)
    assert by_key["110_acetate_t0.500_c0@prerelax"].start_from is None
    assert plan.raw_count == len(quick_records) * 2 - 7  # references are not pre-relaxed

    # final_task: single -> DFT single points at the ML geometries, for slabs only
    data["engine"]["final_task"] = "single"
    single = build_plan(parse_study(data), quick_records)
    s_key = {n.key: n for n in single.nodes.values()}
    assert s_key["110_shell"].task == "single" and s_key["110_shell@prerelax"].task == "relax"
    assert s_key["ref_bulk_InAs"].task == "relax" and s_key["ref_mol_HF"].task == "relax"
    assert s_key["110_shell"].hash != final.hash  # the task is part of the hash
    assert s_key["110_shell@prerelax"].hash == pre.hash  # the ML part is shared
    data["engine"]["prerelax"] = None
    with pytest.raises(SpecError, match="final_task"):
        parse_study(data)


def _with_starts(quick, k: int, **engine):
    from facetflow.study import parse_study

    data = quick.model_dump(mode="json")
    data["workflow"]["starts"] = k
    data["engine"].update(engine)
    return parse_study(data)


def test_several_starts_per_structure_with_adsorbates(quick, quick_records, quick_plan):
    from facetflow.workflows.plan import build_plan

    plan = build_plan(_with_starts(quick, 3), quick_records)
    by_key = {n.key: n for n in plan.nodes.values()}
    with_ads = [r for r in quick_records if r.record.role != "reference"
                and (r.atoms.arrays["ligand_id"] >= 0).any()]
    assert 10 <= len(with_ads) < len(quick_records)
    assert len(plan.nodes) == plan.raw_count == len(quick_records) + 2 * len(with_ads)
    one = {n.key: n for n in quick_plan.nodes.values()}
    for r in quick_records:
        rec = plan.records[r.id]
        if r in with_ads:
            starts = [plan.nodes[h] for h in rec.starts]
            assert [n.key for n in starts] == [r.id, f"{r.id}#1", f"{r.id}#2"]
            assert len({n.structure_hash for n in starts}) == 1  # one structure, 3 starts
            assert starts[0].perturb is None
            if starts[0].start_from is not None:  # warm-started: checked below
                continue
            seeds = {n.perturb["seed"] for n in starts[1:]}
            assert len(seeds) == 2 and all(n.start_from is None for n in starts[1:])
            assert all(n.perturb["rotation"] == 30.0 for n in starts[1:])
        else:  # references, bare and capped slabs: one start, the same calculation
            assert not rec.starts and f"{r.id}#1" not in by_key
            assert rec.calc == quick_plan.records[r.id].calc
    # arrangements' first start is the calculation of a one-start plan
    arr = "100_acetate_t0.500_c0"
    assert by_key[arr].hash == one[arr].hash
    # a variant starts from the lowest of its arrangement's starts: it depends on all
    var = by_key[f"{arr}_F0"]
    assert var.start_from == by_key[arr].hash
    assert var.start_alternatives == [by_key[f"{arr}#1"].hash, by_key[f"{arr}#2"].hash]
    assert var.hash != one[f"{arr}_F0"].hash
    assert all(plan.nodes[i].depth < var.depth for i in var.inputs)
    assert var.hash in plan.downstream([by_key[f"{arr}#2"].hash])  # a changed start reruns it
    # its other starts begin from the arrangement's 2nd and 3rd lowest minima, unperturbed
    for j in (1, 2):
        other_start = by_key[f"{arr}_F0#{j}"]
        assert other_start.start_rank == j and other_start.perturb is None
        assert [other_start.start_from, *other_start.start_alternatives] == [
            var.start_from, *var.start_alternatives]
        assert other_start.start_map == var.start_map
    assert len({var.hash, by_key[f"{arr}_F0#1"].hash, by_key[f"{arr}_F0#2"].hash}) == 3
    # raising the number of starts keeps the starts already computed
    two = {n.key: n.hash for n in build_plan(_with_starts(quick, 2), quick_records)
           .nodes.values()}
    assert two[f"{arr}#1"] == by_key[f"{arr}#1"].hash and f"{arr}#2" not in two
    # the perturbation's size is part of the start's hash
    data = quick.model_dump(mode="json")
    data["workflow"].update(starts=2, start_rotation=10.0)
    from facetflow.study import parse_study

    other = {n.key: n.hash for n in build_plan(parse_study(data), quick_records)
             .nodes.values()}
    assert other[f"{arr}#1"] != two[f"{arr}#1"] and other[arr] == two[arr]


def test_several_starts_with_dft_are_ml_prerelaxations(quick, quick_records):
    from facetflow.workflows.plan import build_plan

    plan = build_plan(_with_starts(quick, 2, name="qe", prerelax="mlip"), quick_records)
    by_key = {n.key: n for n in plan.nodes.values()}
    arr = "110_acetate_t0.500_c0"
    final, pre0, pre1 = by_key[arr], by_key[f"{arr}@prerelax"], by_key[f"{arr}@prerelax#1"]
    assert final.engine == "qe" and pre0.engine == pre1.engine == "mlip"
    assert f"{arr}#1" not in by_key  # one DFT relaxation per structure
    assert final.start_from == pre0.hash and final.start_alternatives == [pre1.hash]
    assert pre1.perturb and pre1.start_from is None
    assert not plan.records[arr].starts and plan.records[arr].calc == final.hash
    assert plan.records[arr].prerelax_starts == [pre0.hash, pre1.hash]
    var_pre = by_key[f"{arr}_F0@prerelax"]
    # the variant's pre-relaxation starts from the lowest of the arrangement's
    assert var_pre.start_from == pre0.hash and var_pre.start_alternatives == [pre1.hash]
    assert by_key[f"{arr}_F0"].start_alternatives == [by_key[f"{arr}_F0@prerelax#1"].hash]
    var_pre1 = by_key[f"{arr}_F0@prerelax#1"]  # from the arrangement's other minimum
    assert var_pre1.start_from == pre0.hash and var_pre1.start_rank == 1
    assert not var_pre1.perturb


def test_warm_start_moves_matched_and_new_atoms(quick_records):
    from facetflow.workflows.geometry import match_atoms, warm_start

    by_id = {r.id: r for r in quick_records}
    parent, child = by_id["100_shell"].atoms, by_id["100_acetate_t0.500_c0"].atoms
    mapping = match_atoms(child, parent)
    assert mapping is not None
    assert sum(m >= 0 for m in mapping) == len(parent)  # the whole capped slab matches
    final = parent.copy()
    shift = np.zeros((len(parent), 3))
    top = parent.positions[:, 2] > parent.positions[:, 2].max() - 0.5
    shift[top, 2] = 0.1  # the outermost plane relaxed outwards by 0.1 Å
    final.positions += shift
    moved = warm_start(child, parent, final, mapping)
    d = moved.positions - child.positions
    m = np.array(mapping)
    assert np.allclose(d[m >= 0], shift[m[m >= 0]])
    new = np.flatnonzero(m < 0)
    above = child.positions[new, 2] > child.positions[:, 2].mean()
    assert above.any() and (~above).any()  # symmetric slab: acetates on both faces
    assert np.allclose(d[new[above]], [0, 0, 0.1])  # the top ones ride on the top plane
    assert np.allclose(d[new[~above]], 0.0)  # the bottom face did not move


def test_warm_start_new_atom_follows_the_atom_it_replaced(quick_records):
    """F built where an acetate was: it takes the relaxation displacement of the removed
    acetate atom nearest to it, not that of some kept neighbour."""
    from ase import Atom

    from facetflow.workflows.geometry import match_atoms, warm_start

    by_id = {r.id: r for r in quick_records}
    parent = by_id["100_acetate_t0.500_c0"].atoms
    lig = np.flatnonzero(np.array(parent.get_chemical_symbols()) == "O")
    top = lig[np.argmax(parent.positions[lig, 2])]  # an anchor O of a top-face acetate
    child = parent.copy()
    child.positions += [0.3, -0.2, 1.5]  # re-centred: one uniform shift
    del child[[int(top)]]
    child.append(Atom("F", parent.positions[top] + [0.3, -0.2, 1.5 + 0.05]))
    mapping = match_atoms(child, parent)
    assert mapping is not None and mapping[-1] == -1
    final = parent.copy()
    final.positions[top] += [0.4, 0.0, -0.3]  # the O moved in the parent's relaxation
    moved = warm_start(child, parent, final, mapping)
    assert np.allclose(moved.positions[-1] - child.positions[-1], [0.4, 0.0, -0.3])
    assert np.allclose(moved.positions[:-1], child.positions[:-1])  # nothing else moved


def test_plan_file_round_trip_and_corruption(tmp_path, quick_plan):
    import json

    from facetflow.records.plan import PLAN_SCHEMA, read_plan, write_plan
    from facetflow.workflows.geometry import initial_atoms

    path = tmp_path / "plan.json"
    write_plan(quick_plan, path)
    back = read_plan(path)
    assert back == quick_plan
    node = next(iter(back.nodes.values()))
    assert len(initial_atoms(node)) == len(node.structure["symbols"])
    data = json.loads(path.read_text())
    assert data["schema"] == PLAN_SCHEMA
    data["nodes"][0]["structure"]["positions"][0][0] += 0.3
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="does not match its hash"):
        initial_atoms(next(iter(read_plan(path).nodes.values())))


def test_a_plan_of_another_schema_is_refused_by_name(tmp_path, quick_plan):
    """An old work directory's plan (``version: 1``, no schema name) is refused with what
    to do, not misread."""
    import json

    from facetflow.records.plan import PlanVersionError, plan_document, read_plan

    old = {k: v for k, v in plan_document(quick_plan).items() if k != "schema"}
    path = tmp_path / "plan.json"
    path.write_text(json.dumps({**old, "version": 1}))
    with pytest.raises(PlanVersionError, match="facetflow.plan/1.*run the study again"):
        read_plan(path)
    path.write_text(json.dumps({"schema": "facetflow.plan/2", "nodes": [{"hash": "x"}]}))
    with pytest.raises(ValueError, match="not a valid facetflow.plan/2"):
        read_plan(path)


def test_the_plan_hashes_are_those_of_the_baseline(quick, quick_records, quick_plan):
    """The content hashes are those facetflow 0.x computed before the typed records (the
    quick study at theta* 0.5 on CHGNet; and on QE with ML pre-relaxations and two starts,
    which hashes warm starts, perturbed starts, start alternatives and the ranked warm
    starts of a variant's other starts)."""
    import hashlib

    from facetflow.workflows.plan import build_plan

    def digest(plan) -> str:
        return hashlib.sha256("".join(sorted(plan.nodes)).encode()).hexdigest()

    assert len(quick_plan.nodes) == 33
    assert digest(quick_plan) == ("336e391bcf5d11a9005f33b60f8024167a1b1005c582d25c089f16"
                                  "136c036bab")
    dft = build_plan(_with_starts(quick, 2, name="qe", prerelax="mlip"), quick_records)
    assert len(dft.nodes) == 77
    assert digest(dft) == ("a851ac2c1641689186153d049f8588fa2da83a82002b7e10ca1f8db0090e0a"
                           "86")


def test_dft_candidates_are_final_calculations_from_the_m_lowest_ml_minima(
        quick, quick_records, tmp_path):
    """engine.dft_candidates m: m final calculations per pre-relaxed structure, candidate r
    starting from the r-th lowest ML start (read from the store when it runs), the
    structure's energy the lowest of the m; candidate 0 keeps the hash it has with one
    candidate, so raising m adds calculations without recomputing any."""
    from facetflow.records.calc import CalcResult
    from facetflow.store import ResultStore
    from facetflow.workflows.geometry import initial_atoms
    from facetflow.workflows.plan import build_plan
    from facetflow.workflows.tasks import MissingInput, starting_structure

    study = _with_starts(quick, 3, name="qe", prerelax="mlip", dft_candidates=2)
    one = build_plan(_with_starts(quick, 3, name="qe", prerelax="mlip"), quick_records)
    plan = build_plan(study, quick_records)
    by_key = {n.key: n for n in plan.nodes.values()}
    arr = "110_acetate_t0.500_c0"
    c0, c1 = by_key[arr], by_key[f"{arr}~1"]
    assert c0.hash == {n.key: n for n in one.nodes.values()}[arr].hash
    assert c1.start_rank == 1 and c1.hash != c0.hash and f"{arr}~2" not in by_key
    assert c0.inputs == c1.inputs  # both may start from any of the three ML minima
    rec = plan.records[arr]
    assert rec.starts == [c0.hash, c1.hash] and rec.calc == c0.hash
    assert len(rec.prerelax_starts) == 3
    assert "ref_mol_HF~1" not in by_key  # references: one calculation, as before

    store = ResultStore(tmp_path / "r.db")
    bulk = plan.nodes[c0.lattice_from]  # the relaxed lattice: as built
    store.put(bulk.hash, CalcResult(engine="qe", task="relax", converged=True, energy=-1.0,
                                    forces=[[0.0] * 3] * len(bulk.structure["symbols"]),
                                    structure=bulk.structure), bulk.key, {})
    pres = [plan.nodes[h] for h in rec.prerelax_starts]
    for node, energy, dz in zip(pres, [-10.0, -12.0, -11.0], [0.1, 0.2, 0.3], strict=True):
        atoms = initial_atoms(node)
        atoms.positions[:, 2] += dz  # a geometry that tells the starts apart
        zero = [[0.0, 0.0, 0.0]] * len(atoms)
        store.put(node.hash, CalcResult(engine="mlip", task="relax", converged=True,
                                        energy=energy, forces=zero,
                                        structure=_as_dict(atoms)), node.key, {})
    got0 = starting_structure(c0, plan, store)
    got1 = starting_structure(c1, plan, store)
    base = initial_atoms(c0).positions[:, 2]
    assert got0.info["start_from"] == pres[1].hash  # lowest ML minimum: start 1
    assert np.allclose(got0.positions[:, 2] - base, 0.2)
    assert got1.info["start_from"] == pres[2].hash  # second lowest: start 2
    assert np.allclose(got1.positions[:, 2] - base, 0.3)
    c2 = c1.model_copy(update={"start_rank": 3})
    with pytest.raises(MissingInput, match="start rank 3 asked for, but only 3 of 3"):
        starting_structure(c2, plan, store)


def _as_dict(atoms):
    from facetflow.records.calc import atoms_to_dict

    return atoms_to_dict(atoms)


def test_dft_frames_add_stopped_ml_relaxations_and_single_points(quick, quick_records):
    """engine.dft_frames [n...]: per pre-relaxed structure, its first ML relaxation again
    stopped after n steps and the engine's single point there; no other hash changes."""
    from facetflow.workflows.plan import build_plan

    base = build_plan(_with_starts(quick, 2, name="qe", prerelax="mlip"), quick_records)
    plan = build_plan(_with_starts(quick, 2, name="qe", prerelax="mlip",
                                   dft_frames=[3, 10]), quick_records)
    assert set(base.nodes) < set(plan.nodes)
    added = [n for h, n in plan.nodes.items() if h not in base.nodes]
    assert {n.stage for n in added} == {"frame"}
    pre = [r for r in plan.records.values() if r.role != "reference"]  # pre-relaxed
    assert len(added) == 4 * len(pre)
    arr = "110_acetate_t0.500_c0"
    rec, first = plan.records[arr], plan.nodes[plan.records[arr].prerelax_starts[0]]
    assert set(rec.frames) == {"3", "10"} and base.records[arr].frames == {}
    for n, h in rec.frames.items():
        point = plan.nodes[h]
        ml = plan.nodes[point.start_from]
        assert (point.engine, point.task, point.key) == ("qe", "single", f"{arr}@frame{n}")
        assert (ml.engine, ml.task, ml.key) == ("mlip", "relax", f"{arr}@ml{n}")
        assert ml.settings["max_steps"] == int(n) and not ml.settings["require_convergence"]
        assert (ml.start_from, ml.perturb) == (first.start_from, first.perturb)
        assert point.settings == plan.nodes[rec.calc].settings
    assert not set(rec.frames.values()) & set(rec.energy_calcs)
    assert plan.records["ref_mol_HF"].frames == {}


def test_dft_frames_are_checked(quick):
    with pytest.raises(SpecError, match="dft_frames needs prerelax: mlip"):
        _with_starts(quick, 1, name="qe", dft_frames=[5])
    with pytest.raises(SpecError, match=r"dft_frames: \[10, 5\] must be distinct"):
        _with_starts(quick, 1, name="qe", prerelax="mlip", dft_frames=[10, 5])
    with pytest.raises(SpecError, match="dft_frames"):
        _with_starts(quick, 1, name="qe", prerelax="mlip", dft_frames=[0])


def test_dft_candidates_are_checked_against_starts_and_prerelax(quick):
    with pytest.raises(SpecError, match=r"engine.dft_candidates: 3 is more than "
                                        r"workflow.starts \(2\)"):
        _with_starts(quick, 2, name="qe", prerelax="mlip", dft_candidates=3)
    with pytest.raises(SpecError, match="dft_candidates: 2 needs prerelax: mlip"):
        _with_starts(quick, 2, name="qe", dft_candidates=2)


def test_one_ml_model_relaxes_and_another_computes_the_energies(quick, quick_records):
    """engine mlip with prerelax: mlip: the pre-relaxer's model relaxes every slab from
    its starts, the engine's own model computes a single point at the lowest minimum
    (references relax with the engine's model); ``--engine mlip`` over a DFT study with
    a pre-relaxation does not repeat the ML relaxation."""
    from facetflow.workflows.plan import build_plan

    hybrid = _with_starts(quick, 2, name="mlip", settings={"model": "sevennet-0"},
                          prerelax="mlip", prerelax_settings={"model": "chgnet"},
                          final_task="single")
    plan = build_plan(hybrid, quick_records)
    slabs = [r.id for r in quick_records if r.record.role != "reference"]
    for sid in slabs:
        final = plan.nodes[plan.records[sid].calc]
        assert (final.stage, final.task, final.settings["model"]) == (
            "final", "single", "sevennet-0")
        pre = plan.nodes[final.start_from]
        assert (pre.stage, pre.task, pre.settings["model"]) == ("prerelax", "relax", "chgnet")
        assert pre.key == f"{sid}@prerelax"
    refs = [plan.nodes[plan.records[r.id].calc] for r in quick_records
            if r.record.role == "reference"]
    assert all(n.task == "relax" and n.settings["model"] == "sevennet-0" for n in refs)
    dft = _with_starts(quick, 2, name="qe", prerelax="mlip")
    over = build_plan(dft, quick_records, engine="mlip")
    assert {n.stage for n in over.nodes.values()} == {"final"}


@pytest.mark.parametrize("case", ["pruned", "overlapping", "minimum"])
def test_a_candidate_at_a_start_stopped_early_does_not_count(quick, quick_records, tmp_path,
                                                             case):
    """With dft_candidates, candidate 1 sits at the second-lowest ML start; when that
    start was stopped early (workflow.prune_starts), or ended with two atoms on top of
    each other (a hole of the ML potential), its geometry is no minimum, so the
    structure's energy ignores it however low it is; an overlapping ML start gives no
    pre-relaxation energy either."""
    from facetflow.analysis.data import load
    from facetflow.records.calc import CalcResult
    from facetflow.records.plan import write_plan
    from facetflow.store import ResultStore
    from facetflow.workflows.geometry import initial_atoms
    from facetflow.workflows.plan import build_plan

    plan = build_plan(_with_starts(quick, 2, name="qe", prerelax="mlip", dft_candidates=2),
                      quick_records)
    arr = "110_acetate_t0.500_c0"
    rec = plan.records[arr]
    store = ResultStore(tmp_path / "results.db")

    def put(node, energy, dz, pruned=False, overlap=False):
        atoms = initial_atoms(node)
        atoms.positions[:, 2] += dz
        if overlap:
            atoms.positions[1] = atoms.positions[0] + [0.0, 0.0, 0.2]
        store.put(node.hash, CalcResult(
            engine=node.engine, task=node.task, converged=not pruned, pruned=pruned,
            energy=energy, forces=[[0.0] * 3] * len(atoms), structure=_as_dict(atoms)),
            node.key, {})

    first, second = (plan.nodes[h] for h in rec.prerelax_starts)
    put(first, -10.0, 0.1)
    put(second, -7.0, 0.2, pruned=case == "pruned", overlap=case == "overlapping")
    c0, c1 = (plan.nodes[h] for h in rec.starts)
    put(c0, -5.0, 0.1)  # the DFT single points at the two ML geometries
    put(c1, -9.0, 0.2, overlap=case == "overlapping")
    write_plan(plan, tmp_path / "plan.json")
    wd = load(tmp_path, str(tmp_path / "results.db"))
    if case == "minimum":
        assert wd.energy(arr) == -9.0 and wd.start_energies(arr) == [-5.0, -9.0]
    else:
        assert wd.energy(arr) == -5.0 and wd.start_energies(arr) == [-5.0, None]
    assert wd.start_energies(arr, prerelax=True) == (
        [-10.0, None] if case == "overlapping" else [-10.0, -7.0])
