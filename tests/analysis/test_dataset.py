"""The DFT data set's reactions and bare surface energies (``analysis.dataset``) from real
small work directories: CHGNet runs of tests' studies, exported with their own engine
(``engines=("mlip",)``). Every entry's coefficients, applied to the exported frame
energies, give the value of the run's summary.json; the models benchmark scores them."""

import importlib.util
import json
import logging
from collections import Counter

import pytest
from conftest import ROOT

TOL = 1e-6


def _export(workdir, out):
    """reactions.json as a dict, frame hash -> (energy, frame), and the counts."""
    from ase.io import read

    from facetflow.analysis.dataset import export_dataset

    counts = export_dataset([workdir], out, engines=("mlip",))
    frames = read(out / "frames.extxyz", ":")
    doc = json.loads((out / "reactions.json").read_text())
    return doc, {a.info["calc_hash"]: a for a in frames}, counts


def _rebuilt(entry: dict, frames: dict) -> float:
    return sum(c * frames[h].get_potential_energy() for h, c in entry["coefficients"].items())


@pytest.fixture(scope="module")
def tiny_set(tiny_run, tmp_path_factory):
    wd = tiny_run / "tiny"
    summary = json.loads((wd / "report" / "summary.json").read_text())
    return (*_export(wd, tmp_path_factory.mktemp("tiny-set")), summary)


@pytest.fixture(scope="module")
def defects_set(zns_defects_run, tmp_path_factory):
    wd, summary = zns_defects_run
    return (*_export(wd, tmp_path_factory.mktemp("zns-set")), summary)


def test_bare_surface_of_the_nonpolar_slab_rebuilds_gamma_bare(tiny_set):
    doc, frames, counts, summary = tiny_set
    assert doc["schema"] == "facetflow.dataset/2" and counts["surfaces"] == 1
    (surf,) = doc["surfaces"]  # {111} is asymmetric (pseudo-H bottom): left out
    gb = summary["facets"]["110"]["gamma_bare"]
    assert surf["id"] == "tiny/110/surface" and surf["structure"] == gb["structure"]
    assert surf["gamma_meV_A2"] == pytest.approx(gb["value"], abs=TOL)
    assert _rebuilt(surf, frames) == pytest.approx(gb["value"], abs=TOL)
    # the formula itself: 1000/2A on the slab, -N_fu(slab)/N_fu(bulk cell) of that on the
    # bulk InAs frame; nothing else (so no chemical potential enters)
    by_sid = {frames[h].info["structure_id"]: (c, frames[h]) for h, c in
              surf["coefficients"].items()}
    assert set(by_sid) == {gb["structure"], "ref_bulk_InAs"}
    k = 1000.0 / (2 * summary["facets"]["110"]["area"])
    c_slab, slab = by_sid[gb["structure"]]
    c_bulk, bulk = by_sid["ref_bulk_InAs"]
    n_slab, n_bulk = Counter(slab.get_chemical_symbols()), Counter(bulk.get_chemical_symbols())
    assert set(n_slab) == {"In", "As"} and n_slab["In"] == n_slab["As"]
    assert c_slab == pytest.approx(k, rel=1e-12)
    assert c_bulk == pytest.approx(-k * n_slab["In"] / n_bulk["In"], rel=1e-9)
    assert surf["compound"] == "InAs" and surf["formula_units"] == n_slab["In"]


def test_binding_and_exchange_reactions_rebuild_the_summary(tiny_set):
    doc, frames, _counts, summary = tiny_set
    kinds = Counter(r["kind"] for r in doc["reactions"])
    assert kinds["binding"] >= 2 and kinds["exchange"] >= 1
    assert len({r["id"] for r in doc["reactions"]}) == len(doc["reactions"])
    eb = {(label, b["species"]): b["value"] for label, f in summary["facets"].items()
          for b in f["binding"]}
    for r in doc["reactions"]:
        assert _rebuilt(r, frames) == pytest.approx(r["energy_eV"], abs=TOL), r["id"]
        if r["kind"] == "binding":
            assert r["energy_eV"] == pytest.approx(eb[r["facet"], r["species"]], abs=TOL)


def test_left_out_surfaces_say_why(tiny_run, caplog):
    from facetflow.analysis.data import load
    from facetflow.analysis.dataset import dataset_entries

    wd = tiny_run / "tiny"
    with caplog.at_level(logging.INFO, logger="facetflow.analysis.dataset"):
        _reactions, surfaces = dataset_entries(load(wd), wd)
    assert [s.facet for s in surfaces] == ["110"]
    assert "tiny/111: no bare surface energy in the data set: asymmetric slab" in caplog.text


def test_surface_with_coarser_slab_kpoints_than_the_bulk_is_left_out(tiny_run, caplog):
    """gamma = [E_slab - N E_bulk]/2A keeps the slab's k-point error in full, so a slab
    sampled more coarsely than its bulk reference gives no surface energy (the settings are
    edited in memory, on a copy of the plan, which is cached and shared: the tiny run's
    engine has no k-points)."""
    import dataclasses

    from facetflow.analysis.data import load
    from facetflow.analysis.dataset import dataset_entries

    wd = tiny_run / "tiny"
    data = load(wd)
    data = dataclasses.replace(data, plan=data.plan.model_copy(deep=True))
    _r, (surf,) = dataset_entries(data, wd)
    slab, bulk = sorted(surf.coefficients, key=lambda h: surf.coefficients[h] < 0)
    data.plan.nodes[bulk].settings["kpt_density"] = 3.5
    data.plan.nodes[slab].settings["kpt_density"] = 3.5
    assert [s.facet for s in dataset_entries(data, wd)[1]] == ["110"]  # equal: kept
    data.plan.nodes[slab].settings["kpt_density"] = 1.0
    with caplog.at_level(logging.INFO, logger="facetflow.analysis.dataset"):
        assert dataset_entries(data, wd)[1] == []
    assert "slab k-point density 1 below the bulk's 3.5" in caplog.text


def test_stoichiometric_finds_the_compound_or_none():
    from facetflow.analysis.dataset import stoichiometric
    from facetflow.records.context import CompoundInfo

    zns = CompoundInfo(name="ZnS", structure="zincblende", cations=["Zn"], anion="S",
                       a=5.41, formula_unit={"Zn": 1, "S": 1})
    wz = CompoundInfo(name="CdSe", structure="wurtzite", cations=["Cd"], anion="Se",
                      a=4.3, formula_unit={"Cd": 2, "Se": 2})
    assert stoichiometric({"Zn": 12, "S": 12}, [wz, zns]) == (zns, 12)
    assert stoichiometric({"Cd": 8, "Se": 8}, [zns, wz]) == (wz, 4)
    assert stoichiometric({"Zn": 12, "S": 10}, [zns]) is None  # polar, cation-rich
    assert stoichiometric({"Zn": 12, "S": 12, "H": 4}, [zns]) is None  # pseudo-H
    assert stoichiometric({"Zn": 12}, [zns]) is None


def test_defect_formation_energies_rebuild_the_summary_in_every_limit(defects_set):
    doc, frames, _counts, summary = defects_set
    d = summary["defects"]
    rxn = {r["id"]: r for r in doc["reactions"]}
    n = 0
    for e in d["entries"]:
        name = f"{e['defect']}@{e['site']}" + (f"+{e['ligand']}" if e["ligand"] else "")
        got = {}
        for lim in ("cation-rich", "anion-rich"):
            r = rxn[f"zns_defects_tiny/{e['facet']}/defect/{name}/{lim}"]
            assert r["kind"] == "defect" and r["limit"] == lim and r["species"] == e["defect"]
            assert r["energy_eV"] == pytest.approx(e["E_f"][lim], abs=TOL)
            assert _rebuilt(r, frames) == pytest.approx(e["E_f"][lim], abs=TOL)
            got[lim] = r["coefficients"]
            n += 1
        # the limits differ only in mu: by reference frames (bulk ZnS, Zn, S8), not slabs
        diff = {h for h in set(got["cation-rich"]) | set(got["anion-rich"])
                if abs(got["cation-rich"].get(h, 0.0) - got["anion-rich"].get(h, 0.0)) > 1e-12}
        assert diff and all(frames[h].info["role"] == "reference" for h in diff)
    assert n == 2 * len(d["entries"]) == sum(r["kind"] == "defect" for r in rxn.values())


def test_passivation_energies_are_mu_free_and_rebuild_the_summary(defects_set):
    doc, frames, _counts, summary = defects_set
    with_lig = [e for e in summary["defects"]["entries"] if e["ligand"]]
    passiv = {r["id"]: r for r in doc["reactions"] if r["kind"] == "defect_passivation"}
    assert len(with_lig) == len(passiv) == 2
    for e in with_lig:
        r = passiv[f"zns_defects_tiny/{e['facet']}/defect_passivation/"
                   f"{e['defect']}@{e['site']}+{e['ligand']}"]
        assert r["energy_eV"] == pytest.approx(e["dE_f"], abs=TOL)
        assert _rebuilt(r, frames) == pytest.approx(e["dE_f"], abs=TOL)
        # four slabs at +-1/n, no reference frame
        assert sorted(r["coefficients"].values()) == pytest.approx(
            [-1 / e["n_defects"]] * 2 + [1 / e["n_defects"]] * 2)
        assert {frames[h].info["role"] for h in r["coefficients"]} <= {
            "defect", "defect_ligand", "defect_reference", "bare"}


def test_the_zns_bare_surface_is_in_the_set(defects_set):
    doc, frames, _counts, summary = defects_set
    (surf,) = doc["surfaces"]
    gb = summary["facets"]["110"]["gamma_bare"]
    assert surf["compound"] == "ZnS"
    assert _rebuilt(surf, frames) == pytest.approx(gb["value"], abs=TOL)


def _models_benchmark():
    spec = importlib.util.spec_from_file_location("bench_models",
                                                  ROOT / "benchmarks" / "models.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_models_benchmark_scores_kinds_and_surfaces(tiny_run, zns_defects_run, tmp_path):
    from facetflow.analysis.dataset import export_dataset

    folder = tmp_path / "ds"  # both work directories in one data set: every kind
    counts = export_dataset([tiny_run / "tiny", zns_defects_run[0]], folder,
                            engines=("mlip",))
    assert counts["surfaces"] == 2
    bench = _models_benchmark()
    fr, reactions, surfaces = bench.load_dataset(folder, None)
    # a "model" whose energies are DFT's + 0.1 eV per atom: exact on every kind (each
    # reaction and surface conserves atoms), so any error is a bookkeeping error
    energies = {a.info["calc_hash"]: a.get_potential_energy() + 0.1 * len(a) for a in fr}
    forces = [a.get_forces() + 0.05 for a in fr]
    row = bench.scores(fr, reactions, surfaces, energies, forces)
    assert list(row["by_kind"]) == ["binding", "exchange", "defect", "defect_passivation"]
    assert sum(v["reactions"] for v in row["by_kind"].values()) == row["reactions"]
    assert row["reaction_mae_eV"] == pytest.approx(0.0, abs=1e-6)
    assert all(v["mae_eV"] == pytest.approx(0.0, abs=1e-6) for v in row["by_kind"].values())
    assert row["surface_mae_meV_A2"] == pytest.approx(0.0, abs=1e-6)
    assert row["force_mae_eV_A"] == pytest.approx(0.05)
    # one slab frame 1 eV off: its surface moves by its coefficient, other surfaces not
    surf = surfaces[0]
    h = max(surf["coefficients"], key=surf["coefficients"].get)
    row = bench.scores(fr, reactions, surfaces, {**energies, h: energies[h] + 1.0}, forces)
    got = {k: v["error_meV_A2"] for k, v in row["surfaces"].items()}
    assert got[surf["id"]] == pytest.approx(surf["coefficients"][h], abs=1e-6)
    assert got[surfaces[1]["id"]] == pytest.approx(0.0, abs=1e-6)
    assert row["surface_mae_meV_A2"] == pytest.approx(surf["coefficients"][h] / 2, abs=1e-6)
    sub = bench.load_dataset(folder, 1)  # --subset 1: one reaction, one surface
    assert len(sub[1]) == len(sub[2]) == 1
    assert {a.info["calc_hash"] for a in sub[0]} == (
        set(sub[1][0]["coefficients"]) | set(sub[2][0]["coefficients"]))


def test_models_benchmark_ranks_each_structures_dft_candidates():
    """ranking(): per structure with several DFT frames, whether the model's lowest frame
    is DFT's lowest, and the DFT energy given away by the model's pick."""
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator

    def frame(sid, h, e_dft, **info):
        a = Atoms("H")
        a.calc = SinglePointCalculator(a, energy=e_dft)
        a.info.update(study="s", structure_id=sid, calc_hash=h, **info)
        return a

    frames = [frame("A", "a0", -1.0), frame("A", "a1", -1.3),  # DFT: a1 lowest
              frame("B", "b0", -2.0), frame("B", "b1", -1.5),  # DFT: b0 lowest
              frame("C", "c0", -5.0),                           # one frame: not ranked
              # neither a frame along a relaxation nor a pruned start is a candidate
              frame("B", "b2", -9.0, stage="frame"), frame("B", "b3", -9.0, pruned=True)]
    model = {"a0": -0.9, "a1": -0.8, "b0": -2.2, "b1": -2.1, "c0": 0.0, "b2": -1.0,
             "b3": -1.0}  # misses A only
    got = _models_benchmark().ranking(frames, model)
    assert got == {"structures": 2, "disagree": 1, "mean_cost_eV": pytest.approx(0.15)}


def test_overlapping_atoms_are_found_by_covalent_radii():
    """Two atoms at a quarter of their bond length overlap; at a bond length, or across
    a periodic boundary at a bond length, they do not; across it at 0.24 Å they do."""
    from ase import Atoms

    from facetflow.analysis.data import overlapping

    def pair(d, box=10.0, x0=5.0):
        return Atoms("CO", positions=[[x0, 5, 5], [x0 + d, 5, 5]], cell=[box] * 3, pbc=True)

    assert overlapping(pair(0.24)) and not overlapping(pair(1.2))
    assert not overlapping(pair(1.2, x0=9.5)) and overlapping(pair(0.24, x0=9.9))


def _ligand_info(symbols, kind="X"):
    from facetflow.records.context import LigandInfo
    return LigandInfo(symbols=symbols, kind=kind, footprint=1, reference={}, charge=-1)


def test_one_species_in_the_sites_of_several_ligands_gets_one_reaction_each():
    """F binds in a site freed from acetate and in one freed from formate, at two
    coverages: four binding reactions with distinct ids, and each exchange pairs F with
    the ligand whose site it took, at the same coverage; the two carboxylates, bound on
    the same bare slab, give one swap per coverage."""
    from types import SimpleNamespace

    from facetflow.analysis.dataset import _exchanges, _site

    def entry(sp, role, lig, theta, value):
        return ({"species": sp, "role": role, "ligand": lig, "theta": theta,
                 "value": value, "vacancy_frame": f"bare{theta}"}, {f"{sp}{lig}{theta}": 1.0})

    done = [entry(lig, "ligand", lig, th, e) for lig, e in (("acetate", -1.0),
                                                             ("formate", -0.5))
            for th in (0.5, 1.0)]
    done += [entry("F", "additive", lig, th, -2.0) for lig in ("acetate", "formate")
             for th in (0.5, 1.0)]
    ids = [_site(e) for e, _ in done]
    assert len(set(ids)) == 8 and "F@formate/θ0.5" in ids and "acetate/θ1" in ids
    ctx = SimpleNamespace(ligands={"acetate": _ligand_info(["C", "C", "O", "O", "H"]),
                                   "formate": _ligand_info(["C", "O", "O", "H"]),
                                   "F": _ligand_info(["F"])})
    ex = {r.id: r for r in _exchanges(ctx, "s", "110", done)}
    assert set(ex) == {f"s/110/exchange/F-{lig}/θ{th}" for lig in ("acetate", "formate")
                       for th in ("0.5", "1")} | {"s/110/exchange/formate-acetate/θ0.5",
                                                  "s/110/exchange/formate-acetate/θ1"}
    r = ex["s/110/exchange/F-formate/θ1"]
    assert r.energy_eV == pytest.approx(-1.5)
    assert r.coefficients == {"Fformate1.0": 1.0, "formateformate1.0": -1.0}
    assert ex["s/110/exchange/formate-acetate/θ1"].energy_eV == pytest.approx(0.5)


def test_ligand_swaps_pair_ligands_of_one_kind_in_one_site_against_the_native_ion():
    """On a face where PF6, acetate and iodide each replace a surface iodide (one vacancy
    calculation), and methylammonium replaces Cs (another): the X-type ligands swap against
    iodide, the native single-atom ion, whatever their order; the vacancy slab and its
    chemical potential drop out of the coefficients; methylammonium pairs with nothing."""
    from types import SimpleNamespace

    from facetflow.analysis.dataset import _ligand_swaps

    ctx = SimpleNamespace(ligands={"PF6": _ligand_info(["P", "F", "F", "F", "F", "F", "F"]),
                                   "acetate": _ligand_info(["C", "C", "O", "O", "H"]),
                                   "iodide": _ligand_info(["I"]),
                                   "methylammonium": _ligand_info(["C", "N", "H"], "L")})

    def entry(sp, value, vacancy="vac_I"):
        e = {"species": sp, "role": "ligand", "theta": 1.0, "value": value,
             "vacancy_frame": vacancy}
        return e, {f"with_{sp}": 0.5, vacancy: -0.5, f"mu_{sp}": -1.0}

    got = {r.id: r for r in _ligand_swaps(ctx, "cs", "100_CsI", [
        entry("PF6", -5.7), entry("acetate", -2.85), entry("iodide", -4.19),
        entry("methylammonium", -3.0, "vac_Cs")])}
    assert set(got) == {"cs/100_CsI/exchange/PF6-iodide/θ1",
                        "cs/100_CsI/exchange/acetate-iodide/θ1"}
    r = got["cs/100_CsI/exchange/acetate-iodide/θ1"]
    assert r.energy_eV == pytest.approx(1.34)
    assert r.coefficients == {"with_acetate": 0.5, "mu_acetate": -1.0,
                              "with_iodide": -0.5, "mu_iodide": 1.0}
