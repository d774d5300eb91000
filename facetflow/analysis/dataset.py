"""A reference data set from work directories: the calculations of a DFT engine as
extxyz frames, and the study's reaction and surface energies as linear combinations of
them.

Frames: every finished calculation of the chosen engines in the plans of the work
directories (every DFT candidate, every reference and every frame along an ML
relaxation, ``engine.dft_frames``, not only the lowest), with the
total energy (eV) and forces (eV/Å) of the final structure as an ASE single-point
calculator, the per-atom arrays facetflow builds (``pseudo_h_charge`` in e, ``region``,
``ligand_id``, the fixed atoms as ``fixed``), and in ``info``: ``calc_hash``, ``key``,
``structure_id``, ``study``, ``family`` (study and facet: what a split by structure
family keeps together), ``role``, ``engine``, ``stage`` (``final`` or ``frame``),
``task``, ``identity`` (code version), ``settings`` (JSON), ``candidate`` (the rank of
the ML minimum a DFT candidate sits at, 0: the lowest; ``engine.dft_candidates``),
``pruned`` (True for a candidate at an ML start stopped early, ``workflow.prune_starts``:
no minimum, so not a candidate to rank) and,
for a single point at an ML geometry, ``ml_energy`` (eV: the pre-relaxing model's energy
at that geometry, so the ML and DFT rankings of a structure's candidates compare from the
data set alone). A geometry with two atoms closer than half the sum of their covalent
radii (``analysis.data.overlapping``) is left out, with a warning.

Reactions (``reactions.json: reactions``, eV): E_rxn = sum_f c_f E_f over frames f, the
coefficients those of the summary's formulas (``analysis.summary``), by ``kind``:

* ``binding``: E_b(A) = [E(A in the freed site) - E(vacancy) - n mu_A] / n with mu_A =
  sum_k c_k E_k of its stated reaction (bulk references per formula unit or per atom);
* ``exchange``: E_b(A) - E_b(ligand) of each additive or growth species against the
  ligand it displaces, and E_b(L) - E_b(L0) of ligands of one kind bound in the same
  freed site (the vacancy slab cancels: ``_ligand_swaps``);
* ``defect``: E_f = [E(defective) - E(reference) - sum_i dn_i mu_i] / n of each entry of
  the summary's ``defects``, one reaction per chemical-potential limit (``limit``), mu_i
  of ``analysis.defects.limits`` (bulk compound and elemental references);
* ``defect_passivation``: for a defect with a ligand next to it, dE_f = [E(def + L) -
  E(pristine + L) - E(def) + E(pristine)] / n, free of mu.

Bare surface energies (``reactions.json: surfaces``, meV/Å²): gamma = [E_slab - N_fu
E(bulk per formula unit)] / 2A of each facet whose bare slab is symmetric and
stoichiometric in a compound of the study (the nonpolar {110} slabs): independent of the
chemical-potential limit, so a model's gamma from the same coefficients compares with
DFT's. Asymmetric slabs (pseudo-H passivated bottom: gamma needs the pseudo-H reference
energies eps_host) and non-stoichiometric ones (gamma depends on mu) are left out, with
the reason logged.

A model evaluated at the same frames gives its own reaction and surface energies with the
same coefficients. Every entry is checked to rebuild the summary's value from the frame
energies (to 1e-6) before it is written.
"""

from __future__ import annotations

import json
import logging
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from pydantic import BaseModel, Field

import facetflow.analysis.energetics as en
from facetflow.analysis.data import OVERLAP, WorkData, load, same_geometry
from facetflow.analysis.defects import limits
from facetflow.analysis.inputs import SummaryInputs
from facetflow.analysis.potentials import references
from facetflow.analysis.summary import summarise
from facetflow.records.context import CompoundInfo, read_context

log = logging.getLogger(__name__)

DFT_ENGINES = ("gpaw", "qe", "cp2k", "vasp")
DATASET_SCHEMA = "facetflow.dataset/2"
TOLERANCE = 1e-6  # eV or meV/Å²: how closely the coefficients rebuild the summary's value


class Reaction(BaseModel):
    """One reaction energy of the data set as a linear combination of frame energies."""

    id: str = Field(description="unique in the data set: study/facet/binding/A/θ<θ> "
                    "(a ligand), study/facet/binding/A@L/θ<θ> (A in a site freed from "
                    "ligand L), study/facet/exchange/A-L/θ<θ>, study/facet/defect/"
                    "<defect>@<site>[+<ligand>]/<limit>")
    kind: str = Field(description="binding (E_b of a species), exchange (E_b(A) - "
                      "E_b(ligand) of an additive or growth species against the ligand "
                      "it displaces, or E_b(L) - E_b(L0) of two ligands in one freed "
                      "site), defect (E_f in one limit) or defect_passivation (dE_f of a "
                      "ligand next to a defect)")
    study: str = Field(description="the study it comes from")
    facet: str = Field(description="facet label")
    species: str = Field(description="the species bound (exchange: the incoming one; "
                         "defect kinds: the defect, V_X or X_int)")
    limit: str | None = Field(None, description="defect: the chemical-potential limit")
    role: str | None = Field(None, description="binding: the species' family (ligand, "
                             "additive, growth), as in summary.json")
    coefficients: dict[str, float] = Field(description="frame calc_hash -> c_f (E_rxn = "
                                           "sum c_f E_f)")
    energy_eV: float = Field(description="the reaction energy with the data set's engine, eV")


class Surface(BaseModel):
    """The bare surface energy of a symmetric, stoichiometric slab as a linear
    combination of frame energies (module docstring)."""

    id: str = Field(description="study/facet/surface, unique in the data set")
    study: str = Field(description="the study it comes from")
    facet: str = Field(description="facet label")
    structure: str = Field(description="the bare slab (the summary's gamma_bare structure)")
    compound: str = Field(description="the bulk compound the slab is stoichiometric in")
    formula_units: float = Field(description="formula units of the compound in the slab")
    area_A2: float = Field(description="area of one face of the cell (Å²)")
    method: str = Field(description="how gamma is formed")
    coefficients: dict[str, float] = Field(description="frame calc_hash -> c_f in meV/Å² "
                                           "per eV (gamma = sum c_f E_f)")
    gamma_meV_A2: float = Field(description="gamma_bare with the data set's engine, meV/Å²")


def dataset_frames(wd: WorkData, study: str, engines: tuple[str, ...] = DFT_ENGINES
                   ) -> list[Atoms]:
    """Every finished calculation of ``engines`` in ``wd``'s plan, as an extxyz-ready
    frame (module docstring)."""
    family_of = {sid: f"{study}:{rec.facet.label if rec.facet else 'references'}"
                 for sid, rec in wd.records.items()}
    frames = []
    for h, node in wd.plan.nodes.items():
        row = wd.results.get(h)
        if node.engine not in engines or row is None or row.status != "done":
            continue
        if wd.overlaps(h):
            log.warning("%s (%s) left out of the data set: atoms closer than %.1f times "
                        "the sum of their covalent radii", node.key, h[:12], OVERLAP)
            continue
        res = row.result
        atoms = res.atoms()
        fixed = np.zeros(len(atoms), dtype=bool)
        for c in atoms.constraints:
            fixed[c.get_indices()] = True
        atoms.set_constraint()
        atoms.new_array("fixed", fixed)
        atoms.calc = SinglePointCalculator(atoms, energy=res.energy,
                                           forces=np.asarray(res.forces, dtype=float))
        sid = node.labels[0]
        atoms.info.update(
            calc_hash=h, key=node.key, structure_id=sid, study=study,
            family=family_of.get(sid, f"{study}:references"),
            role=str(wd.records[sid].role) if sid in wd.records else "",
            engine=node.engine, stage=node.stage, task=res.task, identity=node.identity,
            settings=json.dumps(node.hashed_settings, sort_keys=True),
            candidate=node.start_rank,
            pruned=sid in wd.records and h in wd.off_minimum(sid))
        ml = _ml_energy(wd, node, res) if res.task == "single" else None
        if ml is not None:
            atoms.info["ml_energy"] = ml
        frames.append(atoms)
    return frames


def _ml_energy(wd: WorkData, node, result) -> float | None:
    """The energy (eV) of the ML calculation among ``node``'s starts (its start and the
    alternatives it was ranked among) whose final geometry is ``result``'s (None: none)."""
    for h in [node.start_from, *node.start_alternatives]:
        row = wd.results.get(h) if h else None
        if (row is None or row.status != "done" or h not in wd.plan.nodes
                or wd.plan.nodes[h].engine != "mlip"):
            continue
        if same_geometry(row.result, result):
            return float(row.result.energy)
    return None


def dataset_entries(wd: WorkData, workdir: Path) -> tuple[list[Reaction], list[Surface]]:
    """The reactions and bare surface energies of a work directory whose terms are all
    computed (module docstring), from the summary's own selection of structures."""
    ctx = read_context(workdir / "study.json")
    summary = summarise(wd, ctx, uncertainty=False)  # the nominal numbers only
    inp = SummaryInputs(wd, ctx)
    refs = references(inp)
    study = summary["study"]
    reactions: list[Reaction] = []
    surfaces: list[Surface] = []
    for label, facet in (summary.get("facets") or {}).items():
        reactions += _bindings(inp, ctx, refs, study, label, facet)
        got = _surface(inp, refs, study, label, facet.get("gamma_bare") or {})
        if isinstance(got, str):
            log.info("%s/%s: no bare surface energy in the data set: %s", study, label, got)
        else:
            surfaces.append(got)
    reactions += _defects(inp, refs, study, summary.get("defects"))
    return ([r for r in reactions if _rebuilds(wd, r.coefficients, r.energy_eV, r.id)],
            [s for s in surfaces if _rebuilds(wd, s.coefficients, s.gamma_meV_A2, s.id)])


def _frame(wd: WorkData, sid: str | None) -> str | None:
    """Hash of the calculation that gives structure ``sid``'s energy (None: not done)."""
    row = wd.stored(sid) if sid else None
    return row.calc_hash if row is not None and row.status == "done" else None


def _reference_frame(wd: WorkData, refs: dict, key: str) -> tuple[str, float] | None:
    """(hash, f): reference ``key``'s energy per its unit (``potentials.references``: per
    formula unit, atom or molecule) is f times its frame's energy; None if not computed."""
    ref = refs.get(key)
    row = wd.stored(ref["structure"]) if ref else None
    if row is None or row.status != "done" or ref["energy"] in (None, 0.0):
        return None
    return row.calc_hash, ref["energy"] / row.result.energy


def _rebuilds(wd: WorkData, coefficients: dict[str, float], value: float, what: str
              ) -> bool:
    """Whether sum c_f E_f over ``wd``'s frames gives ``value`` (else logged)."""
    got = sum(c * wd.results[h].result.energy for h, c in coefficients.items())
    if abs(got - value) <= TOLERANCE:
        return True
    log.warning("%s left out of the data set: its coefficients give %.6f, the summary "
                "%.6f", what, got, value)
    return False


def _clean(terms: dict[str, float]) -> dict[str, float]:
    return {h: float(c) for h, c in terms.items() if abs(c) > 1e-12}


def _site(entry: dict) -> str:
    """Where a binding entry's species sits: ``A/θ0.5`` for a ligand at coverage θ,
    ``A@L/θ0.5`` for a species in a site freed from ligand L (the same species binds in
    the sites of several ligands and at several coverages)."""
    sp, lig = entry["species"], entry.get("ligand")
    where = sp if entry.get("role") == "ligand" or not lig else f"{sp}@{lig}"
    return f"{where}/θ{entry.get('theta', 0.0):g}"


def _bindings(inp: SummaryInputs, ctx, refs: dict, study: str, label: str, facet: dict
              ) -> list[Reaction]:
    """The binding reaction of each species of a facet and the exchange reactions."""
    out, done = [], []
    for entry in facet.get("binding") or []:
        coeffs = _binding_coefficients(inp, ctx, refs, entry)
        if coeffs is None or entry.get("value") is None:
            continue
        done.append(({**entry, "vacancy_frame": _frame(inp.wd, entry["reference"])},
                     coeffs))
        out.append(Reaction(id=f"{study}/{label}/binding/{_site(entry)}",
                            kind="binding", study=study, facet=label,
                            species=entry["species"], role=entry.get("role"),
                            coefficients=coeffs,
                            energy_eV=entry["value"]))
    return out + _exchanges(ctx, study, label, done)


def _binding_coefficients(inp: SummaryInputs, ctx, refs: dict, entry: dict
                          ) -> dict[str, float] | None:
    """frame hash -> coefficient of E_b = [E(with) - E(vac) - n mu_A] / n (None when a
    term is missing)."""
    n = entry["n_sites"]
    lig = ctx.ligands.get(entry["species"])
    if lig is None:
        return None
    terms: dict[str, float] = defaultdict(float)
    for sid, c in ((entry["structure"], 1.0 / n), (entry["reference"], -1.0 / n)):
        h = _frame(inp.wd, sid)
        if h is None:
            return None
        terms[h] += c
    for key, c in lig.reference.items():
        got = _reference_frame(inp.wd, refs, key)
        if got is None:
            return None
        terms[got[0]] -= c * got[1]
    return _clean(terms)


def _exchanges(ctx, study: str, label: str, done: list[tuple[dict, dict]]
               ) -> list[Reaction]:
    """E_b(A) - E_b(L) for each additive or growth species A computed in a site freed
    from ligand L, and L's own binding at the same coverage; then the ligand swaps
    (``_ligand_swaps``)."""
    ligands = {(e["species"], e.get("theta")): (e, c) for e, c in done
               if e.get("role") == "ligand"}
    out = []
    for e, coeffs in done:
        lig = ligands.get((e.get("ligand"), e.get("theta")))
        if e.get("role") != "ligand" and lig is not None:
            out.append(_difference(study, label, (e, coeffs), lig))
    return out + _ligand_swaps(ctx, study, label, [d for d in done
                                                   if d[0].get("role") == "ligand"])


def _ligand_swaps(ctx, study: str, label: str, ligands: list[tuple[dict, dict]]
                  ) -> list[Reaction]:
    """E_b(L) - E_b(L0) of ligands of one kind (X, L, Z) bound in the same freed site
    (one vacancy calculation, ``vacancy_frame``, at one coverage): the swap
    L + L0@surface -> L@surface + L0, in which the vacancy slab cancels. Where that slab
    is not charge balanced (a CsPbI3 CsI face with an iodide taken from each side keeps
    two surplus electrons), E_b is partly a redox energy and the swap is the comparable
    number. L0 is the group's single-atom ligand (the native ion, e.g. iodide replacing
    I) if there is exactly one, else its first ligand in the study's order."""
    groups: dict[tuple, list[tuple[dict, dict]]] = defaultdict(list)
    for e, c in ligands:
        info = ctx.ligands.get(e["species"])
        if info is not None:
            groups[(e["vacancy_frame"], e.get("theta"), info.kind)].append((e, c))
    out = []
    for group in groups.values():
        native = [d for d in group if len(ctx.ligands[d[0]["species"]].symbols) == 1]
        anchor = native[0] if len(native) == 1 else group[0]
        out += [_difference(study, label, d, anchor) for d in group if d is not anchor]
    return out


def _difference(study: str, label: str, a: tuple[dict, dict], b: tuple[dict, dict]
                ) -> Reaction:
    """The exchange reaction E_b(a) - E_b(b) of two binding entries (entry, coefficients)."""
    terms: dict[str, float] = defaultdict(float)
    for h, c in a[1].items():
        terms[h] += c
    for h, c in b[1].items():
        terms[h] -= c
    e = a[0]
    return Reaction(
        id=f"{study}/{label}/exchange/{e['species']}-{b[0]['species']}/"
           f"θ{e.get('theta', 0.0):g}",
        kind="exchange", study=study, facet=label, species=e["species"],
        coefficients=_clean(terms), energy_eV=e["value"] - b[0]["value"])


def stoichiometric(counts: dict[str, int], compounds: list[CompoundInfo]
                   ) -> tuple[CompoundInfo, float] | None:
    """The compound a cell is stoichiometric in (every element of the cell in it, in the
    ratio of its formula unit) and the formula units in the cell; None if there is none."""
    for comp in compounds:
        fu = comp.formula_unit
        if set(counts) != set(fu):
            continue
        n = [counts[el] / k for el, k in fu.items()]
        if max(n) - min(n) < 1e-9:
            return comp, n[0]
    return None


def _surface(inp: SummaryInputs, refs: dict, study: str, label: str, gb: dict
             ) -> Surface | str:
    """The summary's gamma_bare of a facet as a linear combination of its bare slab's and
    the bulk's frames (module docstring), or why it is left out."""
    sid = gb.get("structure")
    if sid is None or gb.get("value") is None:
        return "gamma_bare not computed"
    rec = inp.records[sid]
    if not rec.symmetric:
        return "asymmetric slab: its gamma needs the pseudo-H reference energies"
    found = stoichiometric(rec.counts, inp.ctx.compounds)
    if found is None:
        return "non-stoichiometric slab: its gamma depends on the chemical potentials"
    comp, n_fu = found
    slab, bulk = _frame(inp.wd, sid), _reference_frame(inp.wd, refs, f"bulk:{comp.name}")
    if slab is None or bulk is None:
        return "slab or bulk frame not computed"
    coarse = _coarser_kpoints(inp.wd, slab, bulk[0])
    if coarse:
        return coarse
    k = en.to_mev_per_a2(1.0) / (2.0 * rec.area_A2)
    terms: dict[str, float] = defaultdict(float)
    terms[slab] += k
    terms[bulk[0]] -= k * n_fu * bulk[1]
    return Surface(id=f"{study}/{label}/surface", study=study, facet=label, structure=sid,
                   compound=comp.name, formula_units=n_fu, area_A2=rec.area_A2,
                   method=f"symmetric stoichiometric slab: (E - {n_fu:g} E({comp.name} "
                   "per formula unit)) / 2A", coefficients=_clean(terms),
                   gamma_meV_A2=gb["value"])


def _coarser_kpoints(wd: WorkData, slab: str, bulk: str) -> str | None:
    """Why gamma is left out if the slab's k-point density (k-points per Å^-1) is below
    the bulk reference's: E_slab - N E_bulk then carries the slab's sampling error in
    full (for a 1x1 cell of a few Å, of order 0.1 eV per atom), not only the surface."""
    ks = wd.plan.nodes[slab].hashed_settings.get("kpt_density")
    kb = wd.plan.nodes[bulk].hashed_settings.get("kpt_density")
    if ks is None or kb is None or float(ks) >= float(kb):
        return None
    return (f"slab k-point density {float(ks):g} below the bulk's {float(kb):g} per Å^-1: "
            "its gamma would carry the slab's k-point sampling error")


MuTerms = dict[str, dict[str, dict[str, float]]]  # limit -> element -> frame hash -> c


def _mu_terms(inp: SummaryInputs, refs: dict, material: CompoundInfo, wanted: list[str]
              ) -> MuTerms:
    """The chemical potentials of ``analysis.defects.limits`` in each limit it can form,
    as linear combinations of reference frames. ``limits`` is linear in the reference
    energies, so evaluated with one reference at 1 eV (per its unit) and the others at 0
    it gives that reference's weight in every mu."""
    frames = {k: got for k in refs if (got := _reference_frame(inp.wd, refs, k))}
    zero = {k: {**r, "energy": 0.0 if k in frames else None} for k, r in refs.items()}
    formed = [lim for lim, v in limits(material, zero, inp.records, wanted).items()
              if v["mu"] is not None]
    out: MuTerms = {lim: {el: defaultdict(float) for el in material.species}
                    for lim in formed}
    for key, (h, f) in frames.items():
        probe = limits(material, {**zero, key: {**refs[key], "energy": 1.0}},
                       inp.records, formed)
        for lim in formed:
            for el, w in probe[lim]["mu"].items():
                out[lim][el][h] += w * f
    return {lim: {el: _clean(t) for el, t in mu.items()} for lim, mu in out.items()}


def _defects(inp: SummaryInputs, refs: dict, study: str, section: dict | None
             ) -> list[Reaction]:
    """E_f in each limit of every defect entry of the summary, and dE_f of those with a
    ligand."""
    if not section:
        return []
    material = inp.ctx.compound(section["material"])
    if material is None:
        return []
    mu = _mu_terms(inp, refs, material, list(section["limits"]))
    out = []
    for entry in section["entries"]:
        out += _formation(inp, study, entry, mu)
        if entry["ligand"] is not None:
            out += _passivation(inp, study, entry)
    return out


def _defect_reaction(study: str, entry: dict, kind: str, terms: dict, value: float,
                     limit: str | None = None) -> Reaction:
    name = f"{entry['defect']}@{entry['site']}" + (
        f"+{entry['ligand']}" if entry["ligand"] else "")
    return Reaction(id=f"{study}/{entry['facet']}/{kind}/{name}" +
                    (f"/{limit}" if limit else ""), kind=kind, study=study,
                    facet=entry["facet"], species=entry["defect"], limit=limit,
                    coefficients=_clean(terms), energy_eV=value)


def _formation(inp: SummaryInputs, study: str, entry: dict, mu: MuTerms) -> list[Reaction]:
    """E_f = [E(defective) - E(reference) - sum_i dn_i mu_i] / n in each limit whose mu
    is a combination of frames."""
    s, r = _frame(inp.wd, entry["structure"]), _frame(inp.wd, entry["reference"])
    if s is None or r is None:
        return []
    n = entry["n_defects"]
    out = []
    for lim, value in entry["E_f"].items():
        if value is None or lim not in mu or any(el not in mu[lim] for el in entry["dn"]):
            continue
        terms: dict[str, float] = defaultdict(float)
        terms[s] += 1.0 / n
        terms[r] -= 1.0 / n
        for el, dn in entry["dn"].items():
            for h, c in mu[lim][el].items():
                terms[h] -= dn * c / n
        out.append(_defect_reaction(study, entry, "defect", terms, value, lim))
    return out


def _passivation(inp: SummaryInputs, study: str, entry: dict) -> list[Reaction]:
    """dE_f = [E(def + L) - E(pristine + L) - E(def) + E(pristine)] / n, the structures
    as ``analysis.defects`` finds them."""
    ref = entry["reference"]
    base = inp.records[entry["structure"]].defect_structure
    pristine = inp.records[ref].parent if ref in inp.records else None
    hashes = [_frame(inp.wd, x) for x in (entry["structure"], ref, base, pristine)]
    if entry["dE_f"] is None or None in hashes:
        return []
    terms: dict[str, float] = defaultdict(float)
    for h, sign in zip(hashes, (1.0, -1.0, -1.0, 1.0), strict=True):
        terms[h] += sign / entry["n_defects"]
    return [_defect_reaction(study, entry, "defect_passivation", terms, entry["dE_f"])]


def training_frames(sources: list[Path]) -> list[Atoms]:
    """The DFT frames of ``sources``: work directories (their finished DFT calculations,
    ``dataset_frames``) and exported data sets (folders with ``frames.extxyz``), each
    calculation once (by ``calc_hash``), in the order given."""
    from ase.io import read

    frames: list[Atoms] = []
    seen: set[str] = set()
    for src in map(Path, sources):
        if (src / "frames.extxyz").is_file():
            _add_once(frames, seen, read(src / "frames.extxyz", ":"))
        else:
            wd = load(src)
            _add_once(frames, seen, dataset_frames(wd, wd.plan.study))
    return frames


def _add_once(frames: list[Atoms], seen: set[str], new: list[Atoms]) -> None:
    """Append the frames of ``new`` whose calculation (``calc_hash``) is not in ``seen``
    yet: a reference shared by several studies is one calculation, written once."""
    for a in new:
        key = a.info.get("calc_hash")
        if key is None or key not in seen:
            seen.add(key)
            frames.append(a)


class DatasetError(ValueError):
    """The work directories given cannot form one data set (nothing is written)."""


def _unique_ids(entries: list) -> None:
    """Refuse a data set in which two entries share an id (the same work directory given
    twice, or two studies of one name): scores and comparisons are keyed by id."""
    count = Counter(e.id for e in entries)
    twice = sorted(k for k, n in count.items() if n > 1)
    if twice:
        raise DatasetError(f"{len(twice)} reaction or surface ids occur more than once in the "
                         f"data set (e.g. {twice[0]}): give each work directory once, and "
                         "studies distinct names")


def export_dataset(workdirs: list[Path], out: Path,
                   engines: tuple[str, ...] = DFT_ENGINES) -> dict:
    """Write ``out/frames.extxyz`` and ``out/reactions.json`` from ``workdirs``; returns
    the counts. Files are written to a temporary name and renamed, so a failed export
    leaves the previous data set whole."""
    from ase.io import write

    frames: list[Atoms] = []
    reactions: list[Reaction] = []
    surfaces: list[Surface] = []
    seen: set[str] = set()
    for wdir in workdirs:
        wd = load(wdir)
        study = wd.plan.study
        _add_once(frames, seen, dataset_frames(wd, study, engines))
        got = dataset_entries(wd, wdir)
        reactions += got[0]
        surfaces += got[1]
    _unique_ids([*reactions, *surfaces])
    known = {a.info["calc_hash"] for a in frames}
    reactions = [r for r in reactions if set(r.coefficients) <= known]
    surfaces = [s for s in surfaces if set(s.coefficients) <= known]
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "frames.extxyz.part"
    write(tmp, frames, format="extxyz")
    tmp.replace(out / "frames.extxyz")
    doc = {"schema": DATASET_SCHEMA, "engines": list(engines), "frames": len(frames),
           "reactions": [r.model_dump() for r in reactions],
           "surfaces": [s.model_dump() for s in surfaces]}
    part = out / "reactions.json.part"
    part.write_text(json.dumps(doc, indent=1))
    part.replace(out / "reactions.json")
    log.debug("data set: %d frames, %d reactions, %d surfaces -> %s", len(frames),
              len(reactions), len(surfaces), out)
    return {"frames": len(frames), "reactions": len(reactions), "surfaces": len(surfaces),
            "families": len({a.info["family"] for a in frames})}
