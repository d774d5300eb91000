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
