"""The ``electronic`` section of ``summary.json``: band edges of every structure with an
electronic result, trap states of the defects (with and without ligands), ligand-
induced band-edge shifts and the electrochemical window of each ligand per facet.

References: a defect is compared with its pristine slab (``parent``); a defect with a
ligand with the pristine slab carrying that ligand at that site (its ``parent``, the
``defect_reference``), so the ligand's own levels do not count as traps. Ligand shifts
and reduction levels refer to the facet's outer slab (shell-capped slab, else the bare
one). Physics and thresholds: ``facetflow.analysis.electronic``.
"""

from __future__ import annotations

import numpy as np

from facetflow.analysis import electronic as el
from facetflow.analysis.inputs import SummaryInputs
from facetflow.records.calc import dict_to_atoms
from facetflow.records.electronic import BandEdges, ElectronicSpec
from facetflow.records.structure import Role

DOS_MARGIN = 3.0  # eV below the VBM and above the CBM
DOS_STEP = 0.05  # eV

APPROXIMATIONS = [
    "Kohn-Sham eigenvalues of a semilocal functional (PBE): band gaps are underestimated "
    "(typically by 30-50 %), mostly by a CBM that lies too low; the scissor-corrected CBM "
    "(VBM + experimental gap) is given beside it.",
    "Band edges on the vacuum scale from the planar-averaged electrostatic potential in the "
    "middle of the vacuum; a slab of a few planes has quantum-confined edges.",
    "Reduction levels are aqueous standard potentials converted with the absolute SHE "
    "potential (E = -4.44 eV - e E0); an ion bound to a surface in a device has other "
    "solvation and coordination, so the verdict is a screening criterion.",
    "Trap states: Kohn-Sham states of the defective slab inside the gap of its pristine "
    "reference (both on the vacuum scale), neutral defects, no spin polarisation unless "
    "the calculation was spin-polarised.",
]


def electronic_section(inp: SummaryInputs) -> dict | None:
    """The ``electronic`` section (module docstring); None when the study asks for none."""
    spec = inp.study.analysis.electronic_spec
    if spec is None:
        return None
    edges = _all_edges(inp)
    return {
        "approximations": APPROXIMATIONS,
        "thresholds": {"trap_tolerance_eV": el.TRAP_TOLERANCE,
                       "defect_radius_A": el.DEFECT_RADIUS,
                       "localised_ipr_ratio": el.LOCALISED_IPR_RATIO,
                       "on_defect_weight": el.ON_DEFECT_WEIGHT,
                       "ligand_state_weight": el.LIGAND_STATE_WEIGHT,
                       "active_margin_eV": spec.margin},
        "band_edges": {sid: e.model_dump() for sid, e in edges.items()},
        "trap_states": _traps(inp, edges),
        "ligand_shifts": _shifts(inp, edges),
        "electrochemical_window": _window(inp, edges, spec),
        "dos": {sid: _dos(inp, sid, e) for sid, e in edges.items()},
    }


def _dos(inp: SummaryInputs, sid: str, edges: BandEdges) -> dict:
    """The DOS of one structure from VBM - DOS_MARGIN to CBM + DOS_MARGIN (eV), on the
    scale of its band edges, rounded to 1e-3 states/eV; of a defect structure also the
    DOS on the atoms around the defect (``defect``, from the states within the stored
    window of the Fermi level)."""
    res = inp.wd.result(sid)
    shift = edges.vacuum_level if edges.absolute else 0.0
    e0 = round(edges.vbm - DOS_MARGIN, 2)
    grid = np.arange(e0, edges.cbm + DOS_MARGIN, DOS_STEP)
    rec = inp.records[sid]
    near = (_near_defect(inp, sid, rec.parent)
            if rec.role in (Role.DEFECT, Role.DEFECT_LIGAND) else [])
    curves = el.projected_dos(res.electronic, shift, grid,
                              {"defect": near} if near else None)
    total = curves.pop("total")
    return {"e0": e0, "step": DOS_STEP, "width": el.DOS_WIDTH,
            "total": np.round(total, 3).tolist(),
            "regions": {k: np.round(v, 3).tolist() for k, v in curves.items()}}


def _near_defect(inp: SummaryInputs, sid: str, ref: str | None) -> list[int]:
    """Indices of the atoms of ``sid`` around its defects (found against ``ref``)."""
    if ref is None or ref not in inp.records:
        return []
    atoms = dict_to_atoms(inp.structure(sid))
    return el.atoms_near(atoms, el.defect_centres(atoms, dict_to_atoms(inp.structure(ref))))


def _outer_material(inp: SummaryInputs) -> str:
    return (inp.ctx.shell or inp.ctx.core).name


def _all_edges(inp: SummaryInputs) -> dict[str, BandEdges]:
    """Band edges of every structure whose result carries an electronic structure."""
    gap = el.experimental_gap(_outer_material(inp))
    out = {}
    for sid, rec in inp.records.items():
        res = inp.wd.result(sid)
        if rec.role == Role.REFERENCE or res is None or res.electronic is None:
            continue
        out[sid] = el.band_edges(sid, res.electronic, res.atoms(),
                                 gap[0] if gap else None)
    return out


def _traps(inp: SummaryInputs, edges: dict[str, BandEdges]) -> dict:
    """Trap states of each defect structure, and a count per defect and ligand."""
    states, counts = [], []
    for sid, rec in inp.records.items():
        if rec.role not in (Role.DEFECT, Role.DEFECT_LIGAND) or sid not in edges:
            continue
        ref = rec.parent
        if ref not in edges:
            continue
        atoms = dict_to_atoms(inp.structure(sid))
        near = _near_defect(inp, sid, ref)
        res = inp.wd.result(sid)
        found = el.trap_states(sid, res.electronic, res.atoms(), edges[sid], ref,
                               edges[ref], rec.defect, rec.ligand if rec.role ==
                               Role.DEFECT_LIGAND else None, near)
        states += [t.model_dump() for t in found]
        counts.append({"structure": sid, "defect": rec.defect,
                       "ligand": rec.ligand if rec.role == Role.DEFECT_LIGAND else None,
                       "reference": ref, "n_trap": len(found),
                       "n_localised": sum(t.localised for t in found),
                       "n_on_defect": sum(bool(t.on_defect) for t in found),
                       "levels_above_vbm": sorted({round(t.above_vbm, 2) for t in found}),
                       "near_atoms": len(near), "n_atoms": len(atoms)})
    return {"states": states, "counts": counts}


def _facet_reference(inp: SummaryInputs, label: str) -> str | None:
    return inp.slab(label, Role.SHELL) or inp.slab(label, Role.BARE)


def _shifts(inp: SummaryInputs, edges: dict[str, BandEdges]) -> list[dict]:
    """Band-edge shifts of each ligand-covered slab (a sweep's arrangement, or the
    pristine slab with a defect's ligand) against its facet's outer slab, eV."""
    rows = []
    for f in inp.study.facets:
        ref = _facet_reference(inp, f.label)
        if ref not in edges:
            continue
        r = edges[ref]
        for sid in (inp.of_role(Role.LIGANDS, f.label) + inp.of_role(Role.SHELL, f.label)
                    + inp.of_role(Role.DEFECT_REFERENCE, f.label)):
            if sid not in edges or sid == ref:
                continue
            e = edges[sid]
            rows.append({"facet": f.label, "structure": sid,
                         "ligand": inp.records[sid].ligand,
                         "theta": inp.records[sid].theta, "reference": ref,
                         "d_vbm": e.vbm - r.vbm, "d_cbm": e.cbm - r.cbm,
                         "d_work_function": (e.work_function - r.work_function
                                             if e.absolute and r.absolute else None)})
    return rows


def _window(inp: SummaryInputs, edges: dict[str, BandEdges], spec: ElectronicSpec
            ) -> list[dict]:
    """Per facet and ligand (swept, or bound next to defects): its metal ion's reduction
    level against the band edges of the facet's outer slab without ligands (shell-
    capped, else bare), as experiments compare the levels with the semiconductor's band
    edges; the ligand's own shift of the edges is in ``ligand_shifts``."""
    rows = []
    names = [ls.name for ls in inp.study.ligands]
    if inp.study.defects:
        names += [n for n in inp.study.defects.ligands if n not in names]
    for f in inp.study.facets:
        sid = _facet_reference(inp, f.label)
        if sid not in edges:
            continue
        e = edges[sid]
        for name in names:
            if name not in inp.ctx.ligands:
                continue
            symbols = inp.ctx.ligands[name].symbols
            lvl = el.reduction_level(name, symbols, e.vbm, e.cbm, spec.margin)
            if spec.scissor and e.cbm_scissor is not None:
                sc = el.reduction_level(name, symbols, e.vbm, e.cbm_scissor, spec.margin)
                lvl = lvl.model_copy(update={"cbm_scissor": e.cbm_scissor,
                                             "active_scissor": sc.active})
            rows.append({"facet": f.label, "structure": sid, "absolute": e.absolute,
                         **lvl.model_dump(), **_computed(inp, edges, f.label, name, spec)})
    return rows


def _computed(inp: SummaryInputs, edges: dict[str, BandEdges], label: str, name: str,
              spec: ElectronicSpec) -> dict:
    """The computed verdict on the slab carrying ligand ``name`` (its sweep's arrangement
    of highest coverage, else a pristine slab with it next to a defect site)."""
    covered = sorted((inp.records[s].theta or 0, s) for s in inp.of_role(Role.LIGANDS, label)
                     if inp.records[s].ligand == name and s in edges)
    refs = [s for s in inp.of_role(Role.DEFECT_REFERENCE, label)
            if inp.records[s].ligand == name and s in edges]
    sid = covered[-1][1] if covered else (refs[0] if refs else None)
    if sid is None:
        return {}
    e = inp.wd.result(sid).electronic
    gap = el.ligand_state_above_cbm(e)
    if gap is None:  # with ligand projections: no empty level of its own among the states
        return {"covered": sid, "active_computed": False if e.regions.get("ligand") else None}
    return {"covered": sid, "ligand_state_above_cbm": gap,
            "active_computed": gap < spec.margin}
