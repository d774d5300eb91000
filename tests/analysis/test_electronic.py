"""Electronic analysis without a DFT run: reduction levels and the active/inert verdict
on known band edges, the vacuum level of a potential profile, trap states of a made-up
spectrum, the study check for the ML engine and the plan hashes."""

import numpy as np
import pytest
import yaml
from ase import Atoms
from conftest import ROOT

from facetflow.analysis import electronic as el
from facetflow.errors import SpecError
from facetflow.records.electronic import ElectronicResult, PotentialProfile
from facetflow.structures.catalog import build_catalog
from facetflow.study import load_study, parse_study
from facetflow.workflows.plan import build_plan

TINY = ROOT / "tests" / "data" / "zns_defects_tiny.yaml"


def test_reduction_levels_on_the_vacuum_scale():
    couples = el.reduction_couples()
    for metal, e0 in {"Cd": -0.40, "Zn": -0.76, "Mg": -2.37, "Pb": -0.13, "In": -0.34}.items():
        assert couples[metal]["E0"] == pytest.approx(e0, abs=0.005)
        assert couples[metal]["source"]
        # E = -4.44 eV - e E0
        assert el.vacuum_level_of(couples[metal]["E0"]) == pytest.approx(-4.44 - e0,
                                                                          abs=0.005)


def test_active_and_inert_ligands_on_known_band_edges():
    # bulk CdS-like edges on the vacuum scale: the Cd2+/Cd level (-4.04 eV) just below
    # the CBM, Zn2+/Zn (-3.68 eV) 0.32 eV above it, Mg2+/Mg (-2.07 eV) far above
    vbm, cbm, margin = -6.4, -4.0, 0.5
    verdict = {name: el.reduction_level(name, symbols, vbm, cbm, margin)
               for name, symbols in [("cd_acetate", ["O", "Cd", "C"]),
                                     ("zn_acetate", ["O", "Zn", "C"]),
                                     ("mg_acetate", ["O", "Mg", "C"]),
                                     ("methylamine", ["N", "C", "H"])]}
    assert verdict["cd_acetate"].active and verdict["cd_acetate"].above_cbm < 0
    assert verdict["zn_acetate"].active and 0 < verdict["zn_acetate"].above_cbm < margin
    assert not verdict["mg_acetate"].active and verdict["mg_acetate"].above_cbm > 1.5
    assert not verdict["methylamine"].active and verdict["methylamine"].couple is None
    # a narrower margin drops Zn; a level below the VBM is not in the window either
    assert not el.reduction_level("zn_acetate", ["Zn"], vbm, cbm, 0.2).active
    assert not el.reduction_level("pb", ["Pb"], -4.1, -2.0, 0.5).active  # -4.31 < VBM


def _slab_with_vacuum() -> Atoms:
    return Atoms("Zn2", positions=[[0, 0, 5.0], [0, 0, 8.0]], cell=[4, 4, 20], pbc=True)


def test_vacuum_level_and_flatness_from_the_profile():
    z = np.arange(0.1, 20, 0.2)
    v = np.where((z > 4) & (z < 9), -10.0, 3.0) + np.where(z > 15, 0.02 * (z - 15), 0.0)
    e = _spectrum([-1.0, 1.0], [1.0, 0.0], profile=PotentialProfile(
        z=z.tolist(), potential=v.tolist()))
    level, flat = el.vacuum_level(e, _slab_with_vacuum())
    # central half of the 17 Å gap above z = 8: 12.25 .. 20.75 (wrapped)
    sel = (z > 12.25) | (z < 0.75)
    assert level == pytest.approx(v[sel].mean())
    assert flat == pytest.approx(v[sel].max() - v[sel].min())
    edges = el.band_edges("s", e, _slab_with_vacuum(), gap_exp=3.0)
    assert edges.absolute and edges.vbm == pytest.approx(-1.0 - level)
    assert edges.ionisation_potential == pytest.approx(1.0 + level)
    assert edges.cbm_scissor == pytest.approx(edges.vbm + 3.0)


def _spectrum(energies, occupations, ipr=None, profile=None, weights=None):
    n = len(energies)
    return ElectronicResult(
        code="test", fermi_level=0.0, energies=energies, occupations=occupations,
        kweights=[1.0] * n, kpoints=[0] * n, spins=[0] * n, regions={"core": [1.0] * n},
        ipr=ipr or [0.5] * n, window=10.0, window_states=list(range(n)) if weights else [],
        atom_weights=weights or [], potential=profile)


def test_trap_states_lie_inside_the_reference_gap():
    atoms = Atoms("Zn4", positions=[[0, 0, z] for z in (5, 6, 7, 8)], cell=[4, 4, 20],
                  pbc=True)
    even, local, spread = [0.25] * 4, [0.85, 0.05, 0.05, 0.05], [0.4, 0.2, 0.2, 0.2]
    ref = _spectrum([-2.0, -1.0, 1.0, 2.0], [1, 1, 0, 0])
    w = [even, even, local, spread, even, even]
    defect = _spectrum([-2.0, -1.05, -0.5, 0.3, 0.95, 2.0], [1, 1, 1, 0, 0, 0],
                       ipr=[float(np.sum(np.square(x))) for x in w], weights=w)
    r_edges = el.band_edges("ref", ref, atoms)
    d_edges = el.band_edges("def", defect, atoms)
    traps = el.trap_states("def", defect, atoms, d_edges, "ref", r_edges, "V_X", near=[0])
    assert [t.energy for t in traps] == [-0.5, 0.3]  # -1.05 and 0.95: within tolerance
    assert traps[0].above_vbm == pytest.approx(0.5) and traps[0].occupation == 1
    assert traps[0].defect_weight == pytest.approx(0.85)
    assert traps[0].localised and not traps[1].localised  # IPR x N: 2.92 and 1.12
    assert traps[0].on_defect and not traps[1].on_defect  # weight near: 0.85 and 0.4
    assert el.trap_states("ref", ref, atoms, r_edges, "ref", r_edges) == []


def test_electronic_analysis_on_the_ml_engine_is_refused():
    data = yaml.safe_load(TINY.read_text())
    data["analysis"] = {"electronic": True}
    with pytest.raises(SpecError) as err:
        parse_study(data, base_dir=TINY.parent)
    text = str(err.value)
    assert "analysis.electronic" in text and "gpaw" in text and "mlip" in text


def test_electronic_output_enters_only_the_hashes_of_the_calculations_it_changes():
    study = load_study(TINY)
    records = build_catalog(study, TINY.parent)
    data = yaml.safe_load(TINY.read_text())
    data["engine"] = {"name": "gpaw"}
    plain = build_plan(parse_study(data, base_dir=TINY.parent), records)
    data["analysis"] = {"electronic": {"roles": ["bare", "defect"]}}
    with_el = build_plan(parse_study(data, base_dir=TINY.parent), records)
    for sid, rec in plain.records.items():
        node = with_el.nodes[with_el.records[sid].calc]
        changed = rec.role in ("bare", "defect")
        assert (with_el.records[sid].calc != rec.calc) == changed, sid
        assert node.settings.get("electronic") is (True if changed else None)
    # an ML plan of a study without the analysis keeps its hashes (no key added)
    assert "electronic" not in next(iter(build_plan(study, records).nodes.values())).settings


def test_ligand_tables_carry_the_metal_carboxylates():
    from facetflow.structures.ligands import get_ligand
    from facetflow.structures.materials import get_element

    for name, metal in [("cd_acetate", "Cd"), ("zn_acetate", "Zn"), ("mg_acetate", "Mg")]:
        assert metal in get_ligand(name).symbols
        assert get_element(metal).structure == "hcp"
    assert el.experimental_gap("ZnS")[0] == pytest.approx(3.68)


def _fake_inputs():
    """A stand-in for a work directory's SummaryInputs: a bare slab, a defect, a defect
    with a ligand and its reference, and a Cd-carboxylate-covered slab, each with a made-up
    spectrum (vacuum level 2 eV above the engine zero)."""
    from types import SimpleNamespace as NS

    from facetflow.records.calc import CalcResult, atoms_to_dict
    from facetflow.records.context import LigandInfo
    from facetflow.records.electronic import ElectronicSpec
    from facetflow.records.structure import Role

    z = np.arange(0.1, 20, 0.2)
    prof = PotentialProfile(z=z.tolist(), potential=np.where((z > 4) & (z < 9), -8, 2.0)
                            .tolist())
    slab = Atoms("Zn2S2", positions=[[0, 0, 5], [2, 0, 6], [0, 2, 7], [2, 2, 8]],
                 cell=[4, 4, 20], pbc=True)
    vac = slab[[0, 1, 3]]
    spectra = {  # energies (engine zero), occupations, atoms
        "bare": ([-4.0, -3.0, 0.0, 1.0], [1, 1, 0, 0], slab),
        "vs": ([-4.0, -3.0, -2.0, 1.0], [1, 1, 1, 0], vac),
        "vs_lig_ref": ([-4.0, -3.2, 0.2, 1.0], [1, 1, 0, 0], slab),
        "vs_lig": ([-4.0, -3.2, 0.2, 1.0], [1, 1, 0, 0], vac),
        "cd": ([-4.0, -3.0, -0.4, 1.0], [1, 1, 0, 0], slab),
    }
    results, structures = {}, {}
    for sid, (eps, occ, atoms) in spectra.items():
        n = len(eps)
        e = ElectronicResult(
            code="test", fermi_level=-1.0, energies=eps, occupations=occ, kweights=[1.0] * n,
            kpoints=[0] * n, spins=[0] * n, regions={"core": [1.0] * n}, ipr=[0.6] * n,
            window=10.0, window_states=list(range(n)),
            atom_weights=[[1 / len(atoms)] * len(atoms)] * n, potential=prof)
        results[sid] = CalcResult(engine="gpaw", task="single", converged=True, energy=0.0,
                                  forces=[[0, 0, 0]] * len(atoms),
                                  structure=atoms_to_dict(atoms), electronic=e)
        structures[sid] = atoms_to_dict(atoms)
    facet = NS(label="110")

    def rec(role, parent=None, defect=None, ligand=None, theta=None):
        return NS(role=role, parent=parent, defect=defect, ligand=ligand, theta=theta,
                  facet_label="110")
    records = {"bare": rec(Role.BARE), "vs": rec(Role.DEFECT, "bare", "V_S"),
               "vs_lig_ref": rec(Role.DEFECT_REFERENCE, "bare", None, "cd_acetate"),
               "vs_lig": rec(Role.DEFECT_LIGAND, "vs_lig_ref", "V_S", "cd_acetate"),
               "cd": rec(Role.LIGANDS, "bare", None, "cd_acetate", 0.5)}
    lig = LigandInfo(symbols=["O", "Cd"], kind="Z", footprint=2,
                     reference={}, charge=0)
    study = NS(analysis=NS(electronic_spec=ElectronicSpec()), facets=[facet],
               ligands=[NS(name="cd_acetate")], defects=NS(ligands=["cd_acetate"]))
    return NS(study=study, records=records, wd=NS(result=results.get),
              structure=structures.get,
              of_role=lambda role, label=None: [s for s, r in records.items()
                                                if r.role == role],
              slab=lambda label, role: "bare" if role == Role.BARE else None,
              ctx=NS(shell=None, core=NS(name="ZnS"), ligands={"cd_acetate": lig}))


def test_electronic_section_tables_figures_and_html(tmp_path):
    from facetflow.analysis import electronic_tables as et
    from facetflow.analysis.electronic_plots import electronic_figures
    from facetflow.analysis.electronic_summary import electronic_section
    from facetflow.analysis.html_electronic import electronic_html
    from facetflow.records.electronic import ElectronicSummary

    sec = ElectronicSummary.model_validate(electronic_section(_fake_inputs()))
    summary = {"electronic": sec.model_dump()}
    edges = et.band_edges_frame(summary).set_index("structure")
    assert edges.loc["bare", "vbm"] == pytest.approx(-5.0)  # -3 eV - vacuum level 2 eV
    assert edges.loc["bare", "gap"] == pytest.approx(3.0)
    counts = et.trap_counts_frame(summary).set_index("structure")
    assert counts.loc["vs", "n_trap"] == 1 and counts.loc["vs", "levels_above_vbm"] == "1.00"
    assert counts.loc["vs_lig", "n_trap"] == 0  # the ligand removes the vacancy level
    window = et.window_frame(summary).iloc[0]
    # Cd2+/Cd at -4.04 eV vs the bare slab's edges (-5, -2 eV): in the gap, active
    assert window["structure"] == "bare" and window["active"]
    assert window["cbm_scissor"] == pytest.approx(-5.0 + 3.68)
    shifts = et.ligand_shift_frame(summary).set_index("structure")
    assert shifts.loc["cd", "d_cbm"] == pytest.approx(-0.4)
    dos = sec.dos["vs"]
    assert set(dos.regions) == {"core", "defect"} and "defect" not in sec.dos["bare"].regions
    # the total DOS integrates to 2 electrons per state (4 states, spin-paired)
    assert sum(dos.total) * dos.step == pytest.approx(8.0, rel=0.05)
    assert len(et.write_electronic_tables(summary, tmp_path)) == 5
    figs = electronic_figures(summary, tmp_path)
    assert {p.name for p in figs} >= {"dos_vs.png", "alignment_110.svg"}
    html = "\n".join(electronic_html(summary))
    assert 'id="electronic"' in html and "Cd2+/Cd" in html


def test_an_empty_ligand_level_below_the_slab_cbm_is_found():
    e = _spectrum([-2.0, -1.0, 0.6, 1.0, 2.5], [1, 1, 0, 0, 0])
    # the empty state at 0.6 eV lies on the ligand, the slab's CBM is at 1.0 eV
    active = e.model_copy(update={"regions": {"core": [1, 1, 0.1, 0.9, 0.2],
                                              "ligand": [0, 0, 0.9, 0.1, 0.8]}})
    assert el.ligand_state_above_cbm(active) == pytest.approx(-0.4)
    # the ligand's lowest empty level 1.5 eV above the slab's CBM
    inert = e.model_copy(update={"regions": {"core": [1, 1, 0.9, 0.9, 0.2],
                                             "ligand": [0, 0, 0.1, 0.1, 0.8]}})
    assert el.ligand_state_above_cbm(inert) == pytest.approx(1.9)
    assert el.ligand_state_above_cbm(e) is None  # no ligand projections


def test_a_gpaw_study_asks_its_final_slab_calculations_only():
    path = ROOT / "tests" / "data" / "zns_electronic_tiny.yaml"
    study = load_study(path)
    plan = build_plan(study, build_catalog(study, path.parent))
    flagged = {n.key for n in plan.nodes.values() if n.settings.get("electronic")}
    assert flagged == {"110_bare", "110_V_S_0"}  # not the ML pre-relaxations, not S8
    assert all(plan.nodes[h].engine == "gpaw" for h in
               (plan.records["110_bare"].calc, plan.records["110_V_S_0"].calc))
