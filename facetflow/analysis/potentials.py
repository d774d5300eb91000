"""Reference energies, chemical potentials and pseudo-H energies of a work directory
(steps 1-2 of ``analysis.summary``; conventions in ``analysis.energetics``).

Energies in eV: bulk compounds per formula unit, elemental bulk per atom, molecules per
molecule; chemical potentials per atom or per ligand unit; eps_host per pseudo-H.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

import facetflow.analysis.energetics as en
from facetflow.analysis.defects import element_energies, limits
from facetflow.analysis.inputs import SummaryInputs
from facetflow.records.context import AnalysisContext, CompoundInfo
from facetflow.records.structure import Role
from facetflow.structures.materials import pseudo_h_charge


def references(inp: SummaryInputs) -> dict[str, dict]:
    """Reference key -> {energy, per, structure}: bulk compounds of the study per formula
    unit, other bulk crystals per atom, molecules per molecule."""
    out = {}
    for sid in inp.of_role(Role.REFERENCE):
        rec = inp.records[sid]
        key = rec.reference
        if not key:
            continue
        e = inp.energy(sid)
        if key.startswith("bulk:"):
            comp = inp.ctx.compound(key[5:])
            if comp is not None:
                n_fu = min(rec.counts.get(el, 0) / n for el, n in comp.formula_unit.items())
                per, value = "formula unit", None if e is None else e / n_fu
            else:
                per, value = "atom", None if e is None else e / sum(rec.counts.values())
        else:
            per, value = "molecule", e
        out[key] = {"energy": value, "per": per, "structure": sid}
    return out


def chemical_potentials(inp: SummaryInputs, refs: dict) -> dict[str, dict]:
    """mu (eV) of every species that has one, and how it was chosen: the core's and
    shell's elements in the study's limit, ligands and additives from their reactions."""
    limit = inp.study.conditions.limit
    mu: dict[str, dict] = {}
    for comp in inp.ctx.compounds:
        if len(comp.cations) > 1 and limit == "cation-rich":
            mu.update(_multi_cation_mu(inp, comp, refs))
        elif len(comp.cations) == 1:
            mu.update(_binary_mu(inp, comp, refs, limit))
    energies = {k: v["energy"] for k, v in refs.items() if v["energy"] is not None}
    energies.update({f"mu:{el}": m["value"] for el, m in mu.items()})
    for name, lig in inp.ctx.ligands.items():
        try:
            value = en.reaction_mu(lig.reference, energies)
        except KeyError:
            continue
        how = " + ".join(f"{c:g} mu_{k[3:]} [{mu[k[3:]]['how']}]" if k.startswith("mu:")
                         else f"{c:g} E({k})" for k, c in lig.reference.items())
        mu[adsorbate_key(name, mu, lig.reference)] = {"value": value,
                                                      "how": f"mu_{name} = {how}"}
    return mu


ADSORBATE_SUFFIX = " (adsorbate)"


def adsorbate_key(name: str, mu: dict, reference: dict) -> str:
    """The key of an adsorbate's mu: its name, or ``"<name> (adsorbate)"`` when an
    element of the core or shell has that name and the adsorbate is priced by another
    reaction than that element's limit (Se bound from a precursor while the shell's Se
    stays in the study's limit)."""
    if name in mu and dict(reference) != {f"mu:{name}": 1.0}:
        return name + ADSORBATE_SUFFIX
    return name


def species_mu(mu: dict, species: str) -> dict | None:
    """mu entry of a bound species (its adsorbate entry first, else its name's)."""
    return mu.get(species + ADSORBATE_SUFFIX) or mu.get(species)


def _binary_mu(inp: SummaryInputs, comp: CompoundInfo, refs: dict, limit: str
               ) -> dict[str, dict]:
    """mu of the cation and anion of a binary compound in ``limit`` (empty when a needed
    reference energy is missing)."""
    cat, an = comp.cations[0], comp.anion
    e_c = refs.get(f"bulk:{comp.name}", {}).get("energy")
    e_cat = refs.get(f"bulk:{cat}", {}).get("energy")
    e_an = refs.get(f"bulk:{an}", {}).get("energy")
    if e_an is None:  # a molecular elemental reference (S8), per atom
        e_an = element_energies(refs, inp.records, [an]).get(an)
    if e_c is None or (limit == "cation-rich" and e_cat is None) or \
            (limit == "anion-rich" and e_an is None):
        return {}
    lim = en.compound_limits(e_c, e_cat if e_cat is not None else np.nan,
                             e_an if e_an is not None else np.nan, cat, an, limit)
    return {el: {"value": lim[el], "how": lim.choices[el]} for el in (cat, an)}


def _multi_cation_mu(inp: SummaryInputs, comp: CompoundInfo, refs: dict) -> dict[str, dict]:
    """Cation-rich corner of a compound with several cations (perovskite ABX3):
    every cation at its elemental reference, mu_X = [E(ABX3) - sum_c n_c mu_c] / n_X."""
    got = limits(comp, refs, inp.records, ["cation-rich"])["cation-rich"]
    if got["mu"] is None:
        return {}
    return {el: {"value": v, "how": f"cation-rich: {got['how']}"}
            for el, v in got["mu"].items()}


def passivation_energies(inp: SummaryInputs, mu: dict) -> dict[str, float]:
    """eps_host (eV per pseudo-H) from the passivation reference slabs."""
    eps: dict[str, float] = {}
    for sid in inp.of_role(Role.PASSIVATION):
        e = inp.energy(sid)
        if e is None:
            continue
        hosts = pseudo_h_hosts(inp.structure(sid), inp.ctx)
        if len(hosts) != 1:
            continue
        (host, n_h), = hosts.items()
        rest = {el: n for el, n in inp.records[sid].counts.items() if el != "H"}
        if any(el not in mu for el in rest):
            continue
        eps[host] = en.passivation_energy(e, rest, {k: v["value"] for k, v in mu.items()},
                                          n_h)
    return eps


def pseudo_h_hosts(structure: dict, ctx: AnalysisContext) -> dict[str, int]:
    """Number of pseudo-H per host element, from their charges (q = (8 - v)/4)."""
    charges = structure["arrays"].get("pseudo_h_charge") or []
    species = {el for c in ctx.compounds for el in c.species}
    by_q = {round(pseudo_h_charge(el), 4): el for el in species}
    out: Counter = Counter()
    for q in charges:
        if q > 0:
            out[by_q.get(round(float(q), 4), f"q={q:g}")] += 1
    return dict(out)


def shifted(ctx: AnalysisContext, mu: dict, species: str, delta: float) -> dict:
    """mu with ``species`` moved by ``delta`` (eV); for a cation of the core or shell
    the anion moves by -delta (mu_cation + mu_anion = E(bulk) is kept), and a
    single-atom adsorbate named like a moved element moves with it."""
    out = {k: dict(v) for k, v in mu.items()}
    moves = {species: delta, species + ADSORBATE_SUFFIX: delta}
    for comp in ctx.compounds:
        if species in comp.cations and len(comp.cations) == 1:
            moves[comp.anion] = -delta
    for name, d in moves.items():
        if name in out:  # a new value: samples (arrays) of the unshifted mu stay as they are
            out[name]["value"] = out[name]["value"] + d
    return out
