"""A reference data set from work directories: the calculations of a DFT engine as
extxyz frames, and the study's reaction energies as linear combinations of them.

Frames: every finished calculation of the chosen engines in the plans of the work
directories (every DFT candidate and every reference, not only the lowest), with the
total energy (eV) and forces (eV/Å) of the final structure as an ASE single-point
calculator, the per-atom arrays facetflow builds (``pseudo_h_charge`` in e, ``region``,
``ligand_id``, the fixed atoms as ``fixed``), and in ``info``: ``calc_hash``, ``key``,
``structure_id``, ``study``, ``family`` (study and facet: what a split by structure
family keeps together), ``role``, ``engine``, ``task``, ``identity`` (code version) and
``settings`` (JSON).

Reactions (``reactions.json``): E_rxn = sum_f c_f E_f over frames f, the coefficients
those of the summary's formulas (``analysis.summary``): the binding energy of each
species, E_b(A) = [E(A in the freed site) - E(vacancy) - n mu_A] / n with mu_A = sum_k
c_k E_k of its stated reaction (bulk references per formula unit or per atom), and the
exchange energy of each additive or growth species against the ligand it displaces,
E_b(A) - E_b(ligand). A model evaluated at the same frames gives its own E_rxn with the
same coefficients.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from pydantic import BaseModel, Field

from facetflow.analysis.data import WorkData, load
from facetflow.analysis.inputs import SummaryInputs
from facetflow.analysis.potentials import references
from facetflow.analysis.summary import summarise
from facetflow.records.context import read_context

log = logging.getLogger(__name__)

DFT_ENGINES = ("gpaw", "qe", "cp2k", "vasp")
DATASET_SCHEMA = "facetflow.dataset/1"


class Reaction(BaseModel):
    """One reaction energy of the data set as a linear combination of frame energies."""

    id: str = Field(description="study/facet/kind/species, unique in the data set")
    kind: str = Field(description="binding (E_b of a species) or exchange (E_b(A) - "
                      "E_b(ligand))")
    study: str = Field(description="the study it comes from")
    facet: str = Field(description="facet label")
    species: str = Field(description="the species bound (exchange: the incoming one)")
    coefficients: dict[str, float] = Field(description="frame calc_hash -> c_f (E_rxn = "
                                           "sum c_f E_f)")
    energy_eV: float = Field(description="the reaction energy with the data set's engine, eV")


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
            engine=node.engine, task=res.task, identity=node.identity,
            settings=json.dumps(node.hashed_settings, sort_keys=True))
        frames.append(atoms)
    return frames


def dataset_reactions(wd: WorkData, workdir: Path) -> list[Reaction]:
    """The binding and exchange reactions of a work directory whose energies are all
    computed (module docstring), from the summary's own selection of structures."""
    ctx = read_context(workdir / "study.json")
    summary = summarise(wd, ctx, uncertainty=False)  # the nominal numbers only
    inp = SummaryInputs(wd, ctx)
    refs = references(inp)
    out: list[Reaction] = []
    for label, facet in (summary.get("facets") or {}).items():
        by_species: dict[str, dict[str, float]] = {}
        for entry in facet.get("binding") or []:
            coeffs = _binding_coefficients(inp, ctx, refs, entry)
            if coeffs is None or entry.get("value") is None:
                continue
            by_species[entry["species"]] = coeffs
            out.append(Reaction(id=f"{summary['study']}/{label}/binding/{entry['species']}",
                                kind="binding", study=summary["study"], facet=label,
                                species=entry["species"], coefficients=coeffs,
                                energy_eV=entry["value"]))
        out += _exchanges(summary["study"], label, facet, by_species)
    return out


def _binding_coefficients(inp: SummaryInputs, ctx, refs: dict, entry: dict
                          ) -> dict[str, float] | None:
    """frame hash -> coefficient of E_b = [E(with) - E(vac) - n mu_A] / n (None when a
    term is missing)."""
    wd, n = inp.wd, entry["n_sites"]
    lig = ctx.ligands.get(entry["species"])
    if lig is None:
        return None
    terms: dict[str, float] = defaultdict(float)
    for sid, c in ((entry["structure"], 1.0 / n), (entry["reference"], -1.0 / n)):
        row = wd.stored(sid)
        if row is None or row.status != "done":
            return None
        terms[row.calc_hash] += c
    for key, c in lig.reference.items():
        ref = refs.get(key)
        row = wd.stored(ref["structure"]) if ref else None
        if row is None or row.status != "done" or ref["energy"] in (None, 0.0):
            return None
        scale = row.result.energy / ref["energy"]  # formula units or atoms in the cell
        terms[row.calc_hash] -= c / scale
    return {h: float(c) for h, c in terms.items() if abs(c) > 1e-12}


def _exchanges(study: str, label: str, facet: dict, by_species: dict) -> list[Reaction]:
    """E_b(A) - E_b(ligand) for each additive or growth species and the ligand whose
    site it takes."""
    out = []
    entries = {e["species"]: e for e in facet.get("binding") or []}
    ligands = [e for e in entries.values() if e.get("role") == "ligand"]
    for e in entries.values():
        if e.get("role") == "ligand" or e["species"] not in by_species:
            continue
        lig = next((g for g in ligands if g.get("ligand") == e.get("ligand")), None)
        if lig is None or lig["species"] not in by_species:
            continue
        terms: dict[str, float] = defaultdict(float)
        for h, c in by_species[e["species"]].items():
            terms[h] += c
        for h, c in by_species[lig["species"]].items():
            terms[h] -= c
        out.append(Reaction(
            id=f"{study}/{label}/exchange/{e['species']}-{lig['species']}",
            kind="exchange", study=study, facet=label, species=e["species"],
            coefficients={h: c for h, c in terms.items() if abs(c) > 1e-12},
            energy_eV=e["value"] - lig["value"]))
    return out


def export_dataset(workdirs: list[Path], out: Path,
                   engines: tuple[str, ...] = DFT_ENGINES) -> dict:
    """Write ``out/frames.extxyz`` and ``out/reactions.json`` from ``workdirs``; returns
    the counts. Files are written to a temporary name and renamed, so a failed export
    leaves the previous data set whole."""
    from ase.io import write

    frames: list[Atoms] = []
    reactions: list[Reaction] = []
    for wdir in workdirs:
        wd = load(wdir)
        study = wd.plan.study
        frames += dataset_frames(wd, study, engines)
        reactions += dataset_reactions(wd, wdir)
    known = {a.info["calc_hash"] for a in frames}
    reactions = [r for r in reactions if set(r.coefficients) <= known]
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "frames.extxyz.part"
    write(tmp, frames, format="extxyz")
    tmp.replace(out / "frames.extxyz")
    doc = {"schema": DATASET_SCHEMA, "engines": list(engines), "frames": len(frames),
           "reactions": [r.model_dump() for r in reactions]}
    part = out / "reactions.json.part"
    part.write_text(json.dumps(doc, indent=1))
    part.replace(out / "reactions.json")
    log.debug("data set: %d frames, %d reactions -> %s", len(frames), len(reactions), out)
    return {"frames": len(frames), "reactions": len(reactions),
            "families": len({a.info["family"] for a in frames})}
