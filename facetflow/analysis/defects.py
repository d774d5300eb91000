"""Defect formation energies at a surface, with and without a ligand next to the defect
(``summary.json: defects``; the structures come from ``facetflow.structures.defects``).

Conventions (eV):

* Chemical-potential limits of the slab's outer material (a binary AB): cation-rich
  mu_A = E(A, elemental reference per atom), mu_B = E(AB) - mu_A; anion-rich
  mu_B = E(B, elemental reference per atom, e.g. E(S8)/8), mu_A = E(AB) - mu_B. So
  mu_A + mu_B = E(AB) in both, and mu_B(cation-rich) - mu_B(anion-rich) = dH_f(AB) =
  E(AB) - E(A) - E(B) (< 0 for a stable compound). A compound with several cations has
  only the cation-rich corner here (every cation at its metal, the anion from the rest).
* Formation energy of a neutral defect, per defect (a symmetric slab carries the defect
  on both faces, n = 2): E_f = [E(defective) - E(pristine) - sum_i dn_i mu_i] / n, dn_i
  the atoms of element i added (a vacancy of X: dn_X = -n, so E_f = [dE + n mu_X]/n; an
  interstitial X: [dE - n mu_X]/n).
* With a ligand L bound next to the defect: E_f(L) uses the pristine slab with L at the
  same site as the reference, and dE_f = E_f(L) - E_f: the passivation effect (> 0: the
  ligand makes the defect costlier, as CNT2T does in Wang et al. 2023, Fig. 1f). mu
  cancels, so dE_f is the same in every limit, and dE_f = E_b(L at the defect) -
  E_b(L at the pristine site) with E_b = [E(slab + L) - E(slab) - n mu_L] / n.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping

from facetflow.records.context import CompoundInfo
from facetflow.records.structure import Role, StructureRecord
from facetflow.structures.materials import element_reference_key

CONVENTION = ("E_f = [E(defective slab) - E(pristine slab) - sum_i dn_i mu_i] / n_defects "
              "(eV per defect; dn_i atoms added, n_defects = 2: one per face); with a "
              "ligand the pristine slab carries the same ligand at the same site; dE_f = "
              "E_f(with ligand) - E_f(without) (> 0: the ligand suppresses the defect)")


Records = Mapping[str, StructureRecord]


def element_energies(refs: dict, records: Records, elements: list[str]) -> dict[str, float]:
    """Energy per atom of each element's elemental reference (``bulk:<El>`` crystal or a
    molecule such as S8), from the summary's references and the plan records."""
    out = {}
    for el in elements:
        key = element_reference_key(el)
        ref = refs.get(key or "")
        if not ref or ref.get("energy") is None:
            continue
        if ref["per"] == "atom":
            out[el] = ref["energy"]
        else:
            rec = records.get(ref["structure"])
            n = rec.counts.get(el) if rec is not None else None
            if n:
                out[el] = ref["energy"] / n
    return out


def limits(material: CompoundInfo, refs: dict, records: Records, wanted: list[str]) -> dict:
    """mu of each species of ``material`` (a compound of the study context) in each
    limit of ``wanted``; a limit that cannot be formed is given with ``mu: null`` and why."""
    cations, anion = list(material.cations), material.anion
    fu = material.formula_unit
    e_comp = refs.get(f"bulk:{material.name}", {}).get("energy")
    el = element_energies(refs, records, [*cations, anion])
    out: dict[str, dict] = {}
    for lim in wanted:
        name = (f"{cations[0]}-rich" if len(cations) == 1 else "cation-rich") \
            if lim == "cation-rich" else f"{anion}-rich"
        mu = None
        how = ""
        if e_comp is None:
            how = f"E({material.name}) not computed"
        elif lim == "cation-rich" and all(c in el for c in cations):
            mu = {c: el[c] for c in cations}
            mu[anion] = (e_comp - sum(fu[c] * el[c] for c in cations)) / fu[anion]
            rest = " - ".join(f"{fu[c]:g} mu_{c}" for c in cations)
            how = (", ".join(f"mu_{c} = E({c} reference)" for c in cations) +
                   f"; mu_{anion} = [E({material.name}) - {rest}] / {fu[anion]:g}")
        elif lim == "anion-rich" and len(cations) == 1 and anion in el:
            c = cations[0]
            mu = {anion: el[anion], c: (e_comp - fu[anion] * el[anion]) / fu[c]}
            how = (f"mu_{anion} = E({anion} reference) per atom; mu_{c} = "
                   f"E({material.name}) - mu_{anion}")
        else:
            how = ("elemental reference not computed" if len(cations) == 1 else
                   "the anion-rich limit of a compound with several cations needs more "
                   "constraints (not supported)")
        out[lim] = {"name": name, "mu": mu, "how": how}
    return out


def formation_enthalpy(material: CompoundInfo, refs: dict, records: Records) -> float | None:
    """dH_f = E(compound) - sum_i n_i E(element i) per formula unit (eV)."""
    fu = material.formula_unit
    e_comp = refs.get(f"bulk:{material.name}", {}).get("energy")
    el = element_energies(refs, records, list(fu))
    if e_comp is None or any(x not in el for x in fu):
        return None
    return e_comp - sum(n * el[x] for x, n in fu.items())


Energy = Callable[[str | None], float | None]


def summarise_defects(records: Records, energy: Energy, refs: dict, mu_ligands: dict,
                      material: CompoundInfo, wanted: list[str]) -> dict:
    """The ``defects`` section of summary.json (see the module docstring).

    ``records``: the plan's structure records; ``energy(id)``: final energy or None;
    ``mu_ligands``: ligand name -> mu (eV) where known; ``material``: the defective
    material (the slab's outer material)."""
    lims = limits(material, refs, records, wanted)
    entries = [_plain_entry(records, energy, lims, sid)
               for sid, r in records.items() if r.role == Role.DEFECT]
    entries += [_ligand_entry(records, energy, lims, mu_ligands, sid)
                for sid, r in records.items() if r.role == Role.DEFECT_LIGAND]
    _mark_lowest(entries, wanted[0] if wanted else None)
    entries.sort(key=lambda x: (x["facet"], x["defect"], x["site"], x["ligand"] or ""))
    return {"material": material.name, "elements": sorted(material.species),
            "limits": lims,
            "formation_enthalpy": {"value": formation_enthalpy(material, refs, records),
                                   "per": "formula unit",
                                   "how": "E(compound) - sum_i n_i E(elemental reference i)"},
            "convention": CONVENTION, "entries": entries}


def _dn(records: Records, sid: str, ref: str) -> dict[str, int]:
    """Atoms of each element added to ``ref`` to make ``sid`` (negative: removed)."""
    c = Counter(records[sid].counts)
    c.subtract(records[ref].counts)
    return {k: int(v) for k, v in sorted(c.items()) if v}


def _formation(records: Records, energy: Energy, lims: dict, sid: str, ref: str, n: int
               ) -> dict[str, float | None]:
    """E_f per defect of ``sid`` against ``ref`` in each limit (None where unknown)."""
    e1, e0 = energy(sid), energy(ref)
    d = _dn(records, sid, ref)
    out = {}
    for lim, info in lims.items():
        mu = info["mu"]
        if e1 is None or e0 is None or mu is None or any(k not in mu for k in d):
            out[lim] = None
        else:
            out[lim] = (e1 - e0 - sum(v * mu[k] for k, v in d.items())) / n
    return out


def _entry(records: Records, energy: Energy, lims: dict, sid: str, ref: str) -> dict:
    """What every entry says: where the defect is, against what, and E_f."""
    rec = records[sid]
    site = rec.defect_site
    n = int((site.n_defects if site else None) or rec.n_faces or 1)
    return {"facet": rec.facet.label, "defect": rec.defect, "site": rec.site,
            "layer": site and site.layer, "multiplicity": site and site.multiplicity,
            "ligand": None, "structure": sid, "reference": ref, "n_defects": n,
            "dn": _dn(records, sid, ref), "E_f": _formation(records, energy, lims, sid, ref, n)}


def _plain_entry(records: Records, energy: Energy, lims: dict, sid: str) -> dict:
    """A defect without ligand, against the pristine slab."""
    return {**_entry(records, energy, lims, sid, records[sid].parent), "dE_f": None,
            "E_b_ligand_at_defect": None, "E_b_ligand_pristine": None}


def _ligand_entry(records: Records, energy: Energy, lims: dict, mu_ligands: dict,
                  sid: str) -> dict:
    """A defect with a ligand next to it, against the pristine slab with that ligand;
    dE_f and the ligand's E_b at the defect and on the pristine slab
    (``_ligand_terms``)."""
    rec = records[sid]
    entry = _entry(records, energy, lims, sid, rec.parent)
    entry["ligand"] = rec.ligand
    entry.update(_ligand_terms(records, energy, mu_ligands, sid, entry["n_defects"]))
    return entry


def _ligand_terms(records: Records, energy: Energy, mu_ligands: dict, sid: str, n: int
                  ) -> dict:
    """dE_f = [E(def + L) - E(pristine + L) - E(def) + E(pristine)] / n (mu cancels) and
    the ligand's E_b = [E(slab + L) - E(slab) - n mu_L] / n at the defect and on the
    pristine slab (eV; None where an energy or mu_L is unknown). Energies may be arrays
    of samples."""
    rec = records[sid]
    ref, base = rec.parent, rec.defect_structure
    pristine = records[ref].parent if ref in records else None
    e = {k: energy(k) for k in (sid, ref, base, pristine) if k}
    have = all(e.get(k) is not None for k in (sid, ref, base, pristine))
    mu_l = mu_ligands.get(rec.ligand)
    ok = have and mu_l is not None
    return {"dE_f": (e[sid] - e[ref] - e[base] + e[pristine]) / n if have else None,
            "E_b_ligand_at_defect": (e[sid] - e[base] - n * mu_l) / n if ok else None,
            "E_b_ligand_pristine": (e[ref] - e[pristine] - n * mu_l) / n if ok else None}


def entry_numbers(records: Records, energy: Energy, lims: dict, mu_ligands: dict,
                  entry: dict) -> dict:
    """The numbers of one entry of the ``defects`` section recomputed with ``energy``
    (eV; floats, or arrays of samples for ``analysis.uncertainty``) and the limits
    ``lims`` (``limits``): ``E_f`` per limit, and with a ligand ``dE_f``,
    ``E_b_ligand_at_defect`` and ``E_b_ligand_pristine`` (``_ligand_terms``)."""
    sid, n = entry["structure"], entry["n_defects"]
    out: dict = {"E_f": _formation(records, energy, lims, sid, entry["reference"], n)}
    if entry.get("ligand") is not None:
        out.update(_ligand_terms(records, energy, mu_ligands, sid, n))
    return out


def _mark_lowest(entries: list[dict], first: str | None) -> None:
    """``lowest``: the entry of lowest E_f (in limit ``first``) per facet, defect and
    ligand."""
    best: dict[tuple, dict] = {}
    for entry in entries:
        entry["lowest"] = False
        v = entry["E_f"].get(first) if first else None
        key = (entry["facet"], entry["defect"], entry["ligand"])
        if v is not None and (key not in best or v < best[key]["E_f"][first]):
            best[key] = entry
    for entry in best.values():
        entry["lowest"] = True
