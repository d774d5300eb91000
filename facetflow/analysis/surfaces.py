"""Surface and interfacial energies, theta* and binding energies of one facet (steps 3-6
of ``analysis.summary``; conventions in ``analysis.energetics``).

gamma in meV/Å² (J/m² alongside); E_b in eV, E_b(A) = [E(A in the freed site) -
E(vacancy) - n mu_A] / n with n the sites changed (2 on symmetric slabs), negative =
bound. The structures used are found through their records' relationships (role, facet,
parent, vacancy), never through their ids.
"""

from __future__ import annotations

from collections import Counter

import facetflow.analysis.energetics as en
from facetflow.analysis.inputs import SummaryInputs
from facetflow.analysis.potentials import pseudo_h_hosts, species_mu
from facetflow.records.structure import SWEEP_ROLES, Role
from facetflow.records.study import FacetSpec


def adsorbates(inp: SummaryInputs, sid: str) -> Counter:
    """Adsorbate units in a structure, by matching each ``ligand_id`` group's formula."""
    st = inp.structure(sid)
    lid = st["arrays"].get("ligand_id")
    if lid is None:
        return Counter()
    groups: dict[int, list[str]] = {}
    for sym, i in zip(st["symbols"], lid, strict=True):
        if i >= 0:
            groups.setdefault(int(i), []).append(sym)
    formulas = {name: Counter(lig.symbols) for name, lig in inp.ctx.ligands.items()}
    out: Counter = Counter()
    for syms in groups.values():
        c = Counter(syms)
        match = next((n for n, f in formulas.items() if f == c), None)
        out[match or "unknown:" + "".join(f"{k}{v}" for k, v in sorted(c.items()))] += 1
    return out


def added(inp: SummaryInputs, sid: str, base: str) -> dict[str, float]:
    """dn: adsorbate units and remaining atoms of ``sid`` relative to ``base``."""
    ads, ads0 = adsorbates(inp, sid), adsorbates(inp, base)
    counts = Counter(inp.records[sid].counts)
    counts.subtract(inp.records[base].counts)
    out: dict[str, float] = {}
    for name in set(ads) | set(ads0):
        dn = ads[name] - ads0[name]
        if dn:
            out[name] = dn
            lig = inp.ctx.ligands.get(name)
            for el, k in Counter(lig.symbols if lig else []).items():
                counts[el] -= k * dn
    out.update({el: n for el, n in counts.items() if n})
    return out


def gamma_bare(inp: SummaryInputs, label: str, mu: dict, eps: dict) -> dict:
    """Surface energy of the facet's bare slab: symmetric (E - sum n mu) / 2A, or with a
    passivated bottom (E - sum n mu - sum N_H eps_host) / A."""
    sid = inp.slab(label, Role.BARE)
    if sid is None:
        return {"value": None, "j_m2": None, "method": "no bare slab", "structure": None}
    rec = inp.records[sid]
    e = inp.energy(sid)
    counts = {el: n for el, n in rec.counts.items() if el != "H"}
    if e is None or any(el not in mu for el in counts):
        return {"value": None, "j_m2": None, "method": "not computed", "structure": sid}
    base = e - sum(n * mu[el]["value"] for el, n in counts.items())
    if rec.symmetric:
        g = base / (2 * rec.area_A2)
        method = "symmetric slab: (E - sum n mu) / 2A"
    else:
        hosts = pseudo_h_hosts(inp.structure(sid), inp.ctx)
        if any(h not in eps for h in hosts):
            return {"value": None, "j_m2": None, "structure": sid,
                    "method": "asymmetric slab: passivated-face energies not computed"}
        g = en.polar_surface_energy(e, counts, {k: v["value"] for k, v in mu.items()},
                                    hosts, eps, rec.area_A2)
        method = ("asymmetric slab, pseudo-H chemical-potential method: (E - sum n mu - "
                  "sum N_H eps_host) / A")
    return {"value": en.to_mev_per_a2(g), "j_m2": en.to_j_per_m2(g), "method": method,
            "structure": sid}


def interfacial(inp: SummaryInputs, sid: str, bare: str | None, g_bare: float | None,
                mu: dict) -> dict:
    """delta = (E - E_bare - sum dn mu)/(n_faces A) (meV/Å²); value = gamma_bare + delta."""
    rec = inp.records[sid]
    e, e0 = inp.energy(sid), inp.energy(bare)
    delta = None
    if e is not None and e0 is not None:
        dn = added(inp, sid, bare)
        if all(k in mu for k in dn):
            d = (e - e0 - sum(n * mu[k]["value"] for k, n in dn.items())) / (
                rec.n_faces * rec.area_A2)
            delta = en.to_mev_per_a2(d)
    value = None if delta is None or g_bare is None else g_bare + delta
    return {"delta": delta, "value": value,
            "j_m2": None if value is None else en.to_j_per_m2(value / 1000.0)}


def facet_summary(inp: SummaryInputs, f: FacetSpec, mu: dict, eps: dict,
                  binding: bool = True) -> dict:
    """``summary.json: facets.<label>``: the slab, gamma_bare, gamma of the shell and of
    every computed arrangement, theta* per ligand and variant, binding energies at it."""
    label = f.label
    bare_id = inp.slab(label, Role.BARE)
    bare = inp.records.get(bare_id) if bare_id else None
    gb = gamma_bare(inp, label, mu, eps)
    out = {"miller": list(f.miller), "symmetric": bare and bare.symmetric,
           "n_faces": bare and bare.n_faces, "area": bare and bare.area_A2,
           "n_surface_cations": bare and bare.n_surface_cations, "gamma_bare": gb}
    shell = inp.slab(label, Role.SHELL)
    if shell is not None:
        out["gamma_shell"] = {**interfacial(inp, shell, bare_id, gb["value"], mu),
                              "structure": shell}
    points = []
    for sid, rec in inp.records.items():
        if rec.role not in SWEEP_ROLES or rec.facet_label != label:
            continue
        g = interfacial(inp, sid, bare_id, gb["value"], mu)
        points.append({"ligand": rec.ligand, "theta": rec.theta,
                       "variant": rec.variant if rec.role == Role.VARIANT else None,
                       **g, "structure": sid, "lowest": False})
    out["gamma"] = points
    out["optimum"] = optimum(inp, points, gb["value"])
    out["binding"] = binding_energies(inp, out["optimum"], mu) if binding else []
    return out


def optimum(inp: SummaryInputs, points: list[dict], g_bare: float | None) -> dict:
    """theta* per ligand and per ligand + variant ("acetate+F") from the lowest
    arrangement at each computed theta (marked ``lowest`` in ``points``)."""
    out = {}
    for key in sorted({(p["ligand"], p["variant"]) for p in points}, key=str):
        series = [p for p in points if (p["ligand"], p["variant"]) == key]
        best: dict[float, dict] = {}
        for p in series:
            if p["delta"] is not None and (p["theta"] not in best or
                                           p["delta"] < best[p["theta"]]["delta"]):
                best[p["theta"]] = p
        for p in best.values():
            p["lowest"] = True
        name = key[0] + (f"+{key[1]}" if key[1] else "")
        if not best:
            out[name] = _only_coverage(inp, series)
            continue
        thetas = sorted(best)
        opt = en.optimal_coverage(thetas, [best[t]["delta"] for t in thetas])
        nearest = min(thetas, key=lambda t: abs(t - opt.theta))
        out[name] = {"theta": opt.theta, "delta": opt.gamma,
                     "value": None if g_bare is None else g_bare + opt.gamma,
                     "method": opt.method, "nearest_computed": nearest,
                     "structure": best[nearest]["structure"]}
    return out


def _only_coverage(inp: SummaryInputs, series: list[dict]) -> dict | None:
    """Without gamma (no bulk references: a binding-energy check) theta* is still
    known when one coverage was computed: that coverage, at its lowest-energy
    arrangement (same composition, so total energies compare). None otherwise."""
    thetas = {p["theta"] for p in series}
    found = [(e, p) for p in series if (e := inp.energy(p["structure"])) is not None]
    if len(thetas) != 1 or not found:
        return None
    (theta,) = thetas
    best = min(found, key=lambda c: c[0])[1]
    return {"theta": theta, "delta": None, "value": None,
            "method": "the only coverage computed (gamma not computed)",
            "nearest_computed": theta, "structure": best["structure"]}


def binding_energies(inp: SummaryInputs, optima: dict, mu: dict) -> list[dict]:
    """E_b at the computed coverage nearest theta* of each swept ligand: of the ligand
    (its arrangement against the vacancy at the first symmetry-unique position), and of
    each additive and growth species put in that vacancy."""
    out = []
    for lig in dict.fromkeys(ls.name for ls in inp.study.ligands):
        opt = optima.get(lig)
        if not opt:
            continue
        parent = opt["structure"]
        vacancies = [sid for sid in inp.of_role(Role.BINDING)
                     if inp.records[sid].variant == "vacancy"
                     and parent in (inp.records[sid].parent, inp.records[sid].binding_parent)]
        if not vacancies:
            continue
        vac = min(vacancies, key=lambda sid: (inp.records[sid].site, sid))
        n = inp.records[vac].n_faces or 1
        theta = inp.records[parent].theta
        found = [_eb(inp, lig, "ligand", parent, vac, n, theta, mu)]
        for sid in sorted(s for s, r in inp.records.items() if r.vacancy == vac):
            r = inp.records[sid]
            role = "additive" if r.role == Role.VARIANT else "growth"
            found.append(_eb(inp, r.variant, role, sid, vac, n, theta, mu))
        out.extend({**b, "ligand": lig} for b in found)
    return out


def _eb(inp: SummaryInputs, species: str, role: str, with_id: str, vac: str, n: int,
        theta: float, mu: dict) -> dict:
    """One binding entry: E_b of ``species`` in ``with_id`` against ``vac`` (eV)."""
    e1, e0 = inp.energy(with_id), inp.energy(vac)
    value, m = None, species_mu(mu, species)
    if e1 is not None and e0 is not None and m is not None:
        value = en.binding_energy(e1, e0, m["value"], n_sites=n)
    return {"species": species, "role": role, "theta": theta, "value": value,
            "structure": with_id, "reference": vac, "n_sites": n}
