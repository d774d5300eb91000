"""From a work directory's energies to the study's results (``report/summary.json``).

Steps (conventions in docs/concepts.md; the schema is docs/summary.md):

1. Reference energies: bulk compounds per formula unit, elemental bulk per atom,
   molecules per molecule.
2. Chemical potentials in the study's limit (cation-rich: mu_cation = E(cation metal),
   mu_anion = E(compound) - mu_cation; for core and shell), ligands and additives from
   their stated reactions.
3. gamma_bare per facet: symmetric slab (E - sum n_i mu_i) / 2A; an asymmetric slab with
   a pseudo-H passivated bottom: (E - sum n_i mu_i - E_passivated) / A, E_passivated =
   sum over hosts N_H(host) eps_host (pseudo-H chemical-potential method: eps_host from
   the ``passivation`` reference slabs, both faces passivated).
4. gamma(theta) (paper eq. 3, generalised): gamma_bare + (E - E_bare - sum dn mu)/(n_faces A)
   with dn the added adsorbates (as ligand units) and shell atoms.
5. theta* per facet and ligand (and with each variant): ``optimal_coverage``.
6. Binding energies at the computed coverage nearest theta*: E_b(A) = [E(A in the freed
   site) - E(vacancy) - n mu_A] / n, n = sites changed (2 on symmetric slabs).
7. Growth model and kinetic Wulff shapes (``growth``), without and with each additive.

Anything that cannot be computed is ``None`` and listed in ``missing``; nothing raises
for missing data.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np

from facetflow.analysis import energetics as en
from facetflow.analysis import growth as gr
from facetflow.analysis.data import WorkData
from facetflow.analysis.paper import compare

SCHEMA = "facetflow.summary/1"
GROWTH_ASSUMPTIONS = [
    "A facet grows by adding growth units (Se on polar/nonpolar {100}/{111}, ZnSe on {110}) "
    "at surface cation sites; free sites (1 - theta* x footprint) take them without a barrier.",
    "An occupied site must first be freed: the growth unit displaces the bound species at a "
    "Boltzmann cost exp(-max(0, E_b(growth) - E_b(bound)) / k_B T), T = synthesis temperature.",
    "With an additive, one ligand of those in the cell is replaced by it (the computed "
    "structures), so a fraction 1/n of occupied sites holds the additive.",
    "No diffusion between facets, no kinetics of ligand exchange; the rate is relative "
    "(normalised to the fastest facet). Kinetic Wulff: facet distance from the centre "
    "proportional to its growth rate; polar {111} A/B are one family (cubic point group).",
]


def optimal_arrangements(workdir: str | Path) -> dict[str, dict[str, str]]:
    """Facet label -> ligand -> id of the computed arrangement nearest theta* (the lowest
    gamma at that coverage; no variant): where a run's second stage builds the binding
    structures (``structures.catalog.build_catalog``). A facet or ligand whose sweep has no
    energies is left out (its binding energies are then reported missing)."""
    from facetflow.analysis.data import load

    workdir = Path(workdir)
    s = _Summariser(load(workdir), json.loads((workdir / "study.json").read_text()))
    mu = s.chemical_potentials(s.references())
    eps = s.passivation_energies(mu)
    swept = {p["name"] for p in s.spec["ligands"]}
    out: dict[str, dict[str, str]] = {}
    for f in s.spec["facets"]:
        label = _facet_label(f)
        for name, opt in s.facet(label, f, mu, eps, binding=False)["optimum"].items():
            if opt is not None and name in swept:
                out.setdefault(label, {})[name] = opt["structure"]
    return out


def summarise(wd: WorkData, context: dict, versions: dict | None = None) -> dict:
    """The summary dict (docs/summary.md) of a work directory."""
    s = _Summariser(wd, context)
    return s.run(versions or {})


class _Summariser:
    def __init__(self, wd: WorkData, context: dict) -> None:
        self.wd, self.ctx = wd, context
        self.spec = context["study"]
        self.missing: list[dict] = []
        self._missing_ids: set[str] = set()
        self.recs = wd.records
        self._nodes = {n["hash"]: n for n in wd.plan["nodes"]}

    # -- helpers -------------------------------------------------------------------
    def energy(self, sid: str | None) -> float | None:
        if sid is None or sid not in self.recs:
            return None
        e = self.wd.energy(sid)
        if e is None and sid not in self._missing_ids:
            self._missing_ids.add(sid)
            self.missing.append({"structure": sid, "reason": self.wd.why_missing(sid)})
        return e

    def structure(self, sid: str) -> dict:
        return self._nodes[self.recs[sid]["calc"]]["structure"]

    # -- 1, 2: references and chemical potentials ---------------------------------
    def references(self) -> dict[str, dict]:
        out = {}
        for sid, rec in self.recs.items():
            key = rec.get("reference")
            if rec["role"] != "reference" or not key:
                continue
            e = self.energy(sid)
            counts = rec["counts"]
            if key.startswith("bulk:"):
                name = key[5:]
                comp = self._compound(name)
                if comp is not None:
                    n_fu = min(counts.get(el, 0) / n for el, n in comp["formula_unit"].items())
                    per, value = "formula unit", None if e is None else e / n_fu
                else:
                    per, value = "atom", None if e is None else e / sum(counts.values())
            else:
                per, value = "molecule", e
            out[key] = {"energy": value, "per": per, "structure": sid}
        return out

    def _multi_cation_mu(self, comp: dict, refs: dict) -> dict[str, dict]:
        """Cation-rich corner of a compound with several cations (perovskite ABX3):
        every cation at its elemental reference, mu_X = [E(ABX3) - sum_c n_c mu_c] / n_X."""
        from facetflow.analysis.defects import limits

        got = limits(comp, refs, self.recs, ["cation-rich"])["cation-rich"]
        if got["mu"] is None:
            return {}
        return {el: {"value": v, "how": f"cation-rich: {got['how']}"}
                for el, v in got["mu"].items()}

    def _compound(self, name: str) -> dict | None:
        for c in (self.ctx.get("core"), self.ctx.get("shell")):
            if c and c["name"] == name:
                return c
        return None

    def chemical_potentials(self, refs: dict) -> dict[str, dict]:
        limit = self.spec["conditions"]["limit"]
        mu: dict[str, dict] = {}
        for comp in (self.ctx.get("core"), self.ctx.get("shell")):
            if comp and len(comp["cations"]) > 1 and limit == "cation-rich":
                mu.update(self._multi_cation_mu(comp, refs))
            if not comp or len(comp["cations"]) != 1:
                continue
            cat, an = comp["cations"][0], comp["anion"]
            e_c = refs.get(f"bulk:{comp['name']}", {}).get("energy")
            e_cat = refs.get(f"bulk:{cat}", {}).get("energy")
            e_an = refs.get(f"bulk:{an}", {}).get("energy")
            if e_an is None:  # a molecular elemental reference (S8), per atom
                from facetflow.analysis.defects import element_energies

                e_an = element_energies(refs, self.recs, [an]).get(an)
            if e_c is None or (limit == "cation-rich" and e_cat is None) or \
                    (limit == "anion-rich" and e_an is None):
                continue
            lim = en.compound_limits(e_c, e_cat if e_cat is not None else np.nan,
                                     e_an if e_an is not None else np.nan, cat, an, limit)
            for el in (cat, an):
                mu[el] = {"value": lim[el], "how": lim.choices[el]}
        energies = {k: v["energy"] for k, v in refs.items() if v["energy"] is not None}
        for name, lig in self.ctx["ligands"].items():
            try:
                value = en.reaction_mu(lig["reference"], energies)
            except KeyError:
                continue
            how = " + ".join(f"{c:g} E({k})" for k, c in lig["reference"].items())
            mu[name] = {"value": value, "how": f"mu_{name} = {how}"}
        return mu

    # -- composition ---------------------------------------------------------------
    def adsorbates(self, sid: str) -> Counter:
        """Adsorbate units in a structure, by matching each ligand_id group's formula."""
        st = self.structure(sid)
        lid = st["arrays"].get("ligand_id")
        if lid is None:
            return Counter()
        groups: dict[int, list[str]] = {}
        for sym, i in zip(st["symbols"], lid, strict=True):
            if i >= 0:
                groups.setdefault(int(i), []).append(sym)
        formulas = {name: Counter(lig["symbols"]) for name, lig in self.ctx["ligands"].items()}
        out: Counter = Counter()
        for syms in groups.values():
            c = Counter(syms)
            match = next((n for n, f in formulas.items() if f == c), None)
            out[match or "unknown:" + "".join(f"{k}{v}" for k, v in sorted(c.items()))] += 1
        return out

    def added(self, sid: str, base: str) -> dict[str, float]:
        """dn: adsorbate units and remaining atoms of ``sid`` relative to ``base``."""
        ads, ads0 = self.adsorbates(sid), self.adsorbates(base)
        counts = Counter(self.recs[sid]["counts"])
        counts.subtract(self.recs[base]["counts"])
        out: dict[str, float] = {}
        for name in set(ads) | set(ads0):
            dn = ads[name] - ads0[name]
            if dn:
                out[name] = dn
                for el, k in Counter(self.ctx["ligands"].get(name, {}).get("symbols", [])
                                     ).items():
                    counts[el] -= k * dn
        out.update({el: n for el, n in counts.items() if n})
        return out

    # -- 3, 4: surface and interfacial energies -------------------------------------
    def passivation_energies(self, mu: dict) -> dict[str, float]:
        """eps_host (eV per pseudo-H) from the passivation reference slabs."""
        eps: dict[str, float] = {}
        for sid, rec in self.recs.items():
            if rec["role"] != "passivation":
                continue
            e = self.energy(sid)
            if e is None:
                continue
            st = self.structure(sid)
            hosts = _pseudo_h_hosts(st, self.ctx)
            if len(hosts) != 1:
                continue
            (host, n_h), = hosts.items()
            rest = {el: n for el, n in rec["counts"].items() if el != "H"}
            if any(el not in mu for el in rest):
                continue
            eps[host] = en.passivation_energy(e, rest, {k: v["value"] for k, v in mu.items()},
                                              n_h)
        return eps

    def gamma_bare(self, label: str, mu: dict, eps: dict) -> dict:
        sid = f"{label}_bare"
        rec = self.recs.get(sid)
        if rec is None:
            return {"value": None, "j_m2": None, "method": "no bare slab", "structure": None}
        e = self.energy(sid)
        area = rec["area_A2"]
        counts = {el: n for el, n in rec["counts"].items() if el != "H"}
        if e is None or any(el not in mu for el in counts):
            return {"value": None, "j_m2": None, "method": "not computed", "structure": sid}
        base = e - sum(n * mu[el]["value"] for el, n in counts.items())
        if rec["symmetric"]:
            g = base / (2 * area)
            method = "symmetric slab: (E - sum n mu) / 2A"
        else:
            hosts = _pseudo_h_hosts(self.structure(sid), self.ctx)
            if any(h not in eps for h in hosts):
                return {"value": None, "j_m2": None, "structure": sid,
                        "method": "asymmetric slab: passivated-face energies not computed"}
            g = en.polar_surface_energy(e, counts, {k: v["value"] for k, v in mu.items()},
                                        hosts, eps, area)
            method = ("asymmetric slab, pseudo-H chemical-potential method: (E - sum n mu - "
                      "sum N_H eps_host) / A")
        return {"value": en.to_mev_per_a2(g), "j_m2": en.to_j_per_m2(g), "method": method,
                "structure": sid}

    def interfacial(self, sid: str, label: str, g_bare: float | None, mu: dict) -> dict:
        """delta = (E - E_bare - sum dn mu)/(n_faces A) (meV/Å^2); value = gamma_bare + delta."""
        rec = self.recs[sid]
        e, e0 = self.energy(sid), self.energy(f"{label}_bare")
        dn = self.added(sid, f"{label}_bare")
        delta = None
        if e is not None and e0 is not None and all(k in mu for k in dn):
            d = (e - e0 - sum(n * mu[k]["value"] for k, n in dn.items())) / (
                rec["n_faces"] * rec["area_A2"])
            delta = en.to_mev_per_a2(d)
        value = None if delta is None or g_bare is None else g_bare + delta
        return {"delta": delta, "value": value,
                "j_m2": None if value is None else en.to_j_per_m2(value / 1000.0)}

    # -- the whole summary -----------------------------------------------------------
    def run(self, versions: dict) -> dict:
        refs = self.references()
        mu = self.chemical_potentials(refs)
        eps = self.passivation_energies(mu)
        facets = {}
        for f in self.spec["facets"]:
            label = _facet_label(f)
            facets[label] = self.facet(label, f, mu, eps)
        growth = self.growth(facets)
        for species, (lo, hi) in (self.spec.get("analysis") or {}).get("delta_mu", {}).items():
            n = self.spec["analysis"].get("delta_mu_points", 11)
            for label, rows in self.sweep(species, np.linspace(lo, hi, n), mu).items():
                facets[label].setdefault("gamma_vs_delta_mu", {})[species] = rows
        engine = {**self.ctx.get("engine", {}), "identity": _identity(self.wd)}
        out = {
            "schema": SCHEMA, "study": self.spec["name"], "engine": engine,
            "conditions": self.spec["conditions"], "versions": versions,
            "chemical_potentials": mu,
            "passivation": {h: {"value": v, "unit": "eV per pseudo-H"} for h, v in eps.items()},
            "references": refs, "facets": facets, "growth": growth,
            "missing": self.missing, "store_problems": self.wd.store_problems,
        }
        if self.spec.get("defects"):
            out["defects"] = self.defects(refs, mu)
        starts = self.starts()
        if starts:
            out["starts"] = starts
        out["paper_comparison"] = compare(
            out, self.ctx.get("compare_with"),
            f"{engine.get('name')} ({engine['identity']})" if engine.get("identity")
            else str(engine.get("name")))
        return out

    def starts(self) -> dict | None:
        """With several starts per structure (``workflow.starts``): how much the start
        decided. Per structure the spread (eV) is the highest minus the lowest energy of
        its computed starts, and which start was lowest (0: the usual start). In a plan
        with an ML pre-relaxation the starts are the pre-relaxations (``stage``
        "prerelax"), ML energies, and the final calculation began from the lowest."""
        rows = {}
        key = "starts"
        if any(rec.get("prerelax_starts") for rec in self.recs.values()):
            key = "prerelax_starts"  # a plan has final starts or ML ones, never both
        for sid, rec in self.recs.items():
            if not rec.get(key):
                continue
            energies = self.wd.start_energies(sid, prerelax=key == "prerelax_starts")
            done = [e for e in energies if e is not None]
            if not done:
                continue
            rows[sid] = {"starts": len(energies), "done": len(done),
                         "lowest_start": energies.index(min(done)),
                         "spread_eV": max(done) - min(done)}
        if not rows:
            return None
        spreads = [r["spread_eV"] for r in rows.values()]
        return {"stage": "prerelax" if key == "prerelax_starts" else "final",
                "per_structure": max(r["starts"] for r in rows.values()),
                "structures": len(rows),
                "lowest_not_start_0": sum(r["lowest_start"] != 0 for r in rows.values()),
                "spread_eV": {"median": float(np.median(spreads)), "max": max(spreads)},
                "by_structure": rows}

    def defects(self, refs: dict, mu: dict) -> dict:
        """E_f of every defect with and without ligands, per limit (analysis.defects)."""
        from facetflow.analysis.defects import summarise_defects

        material = self.ctx.get("shell") or self.ctx["core"]
        return summarise_defects(
            self.recs, self.energy, refs,
            {k: v["value"] for k, v in mu.items() if k in self.ctx["ligands"]}, material,
            list(self.spec["defects"].get("limits") or ["cation-rich", "anion-rich"]))

    def shifted(self, mu: dict, species: str, delta: float) -> dict:
        """mu with ``species`` moved by ``delta`` (eV); for a cation of the core or shell
        the anion moves by -delta (mu_cation + mu_anion = E(bulk) is kept), and a
        single-atom adsorbate named like a moved element moves with it."""
        out = {k: dict(v) for k, v in mu.items()}
        moves = {species: delta}
        for comp in (self.ctx.get("core"), self.ctx.get("shell")):
            if comp and species in comp["cations"] and len(comp["cations"]) == 1:
                moves[comp["anion"]] = -delta
        for name, d in moves.items():
            if name in out:
                out[name]["value"] += d
        return out

    def sweep(self, species: str, deltas, mu: dict) -> dict[str, list[dict]]:
        """theta* and gamma* per facet and ligand as mu(species) moves by each delta."""
        out: dict[str, list[dict]] = {}
        for d in deltas:
            mu_d = self.shifted(mu, species, float(d))
            eps = self.passivation_energies(mu_d)
            for f in self.spec["facets"]:
                label = _facet_label(f)
                fac = self.facet(label, f, mu_d, eps, binding=False)
                row = {"delta_mu": float(d), "gamma_bare": fac["gamma_bare"]["value"],
                       "optimum": {k: None if o is None else
                                   {"theta": o["theta"], "value": o["value"],
                                    "delta": o["delta"]}
                                   for k, o in fac["optimum"].items()}}
                out.setdefault(label, []).append(row)
        return out

    def facet(self, label: str, f: dict, mu: dict, eps: dict, binding: bool = True) -> dict:
        bare = self.recs.get(f"{label}_bare", {})
        gb = self.gamma_bare(label, mu, eps)
        out = {"miller": f["miller"], "symmetric": bare.get("symmetric"),
               "n_faces": bare.get("n_faces"), "area": bare.get("area_A2"),
               "n_surface_cations": bare.get("n_surface_cations"), "gamma_bare": gb}
        shell = f"{label}_shell"
        if shell in self.recs:
            out["gamma_shell"] = {**self.interfacial(shell, label, gb["value"], mu),
                                  "structure": shell}
        points = []
        for sid, rec in self.recs.items():
            if rec.get("facet") != label or rec["role"] not in ("ligands", "variant"):
                continue
            g = self.interfacial(sid, label, gb["value"], mu)
            points.append({"ligand": rec["ligand"], "theta": rec["theta"],
                           "variant": rec["variant"] if rec["role"] == "variant" else None,
                           **g, "structure": sid, "lowest": False})
        optimum = {}
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
                optimum[name] = self._only_coverage(series)
                continue
            thetas = sorted(best)
            opt = en.optimal_coverage(thetas, [best[t]["delta"] for t in thetas])
            nearest = min(thetas, key=lambda t: abs(t - opt.theta))
            optimum[name] = {"theta": opt.theta, "delta": opt.gamma,
                             "value": None if gb["value"] is None else gb["value"] + opt.gamma,
                             "method": opt.method, "nearest_computed": nearest,
                             "structure": best[nearest]["structure"]}
        out["gamma"] = points
        out["optimum"] = optimum
        out["binding"] = self.binding(label, optimum, mu) if binding else []
        return out

    def _only_coverage(self, series: list[dict]) -> dict | None:
        """Without gamma (no bulk references: a binding-energy check) theta* is still
        known when one coverage was computed: that coverage, at its lowest-energy
        arrangement (same composition, so total energies compare). None otherwise."""
        thetas = {p["theta"] for p in series}
        found = [(e, p) for p in series if (e := self.energy(p["structure"])) is not None]
        if len(thetas) != 1 or not found:
            return None
        (theta,) = thetas
        best = min(found, key=lambda c: c[0])[1]
        return {"theta": theta, "delta": None, "value": None,
                "method": "the only coverage computed (gamma not computed)",
                "nearest_computed": theta, "structure": best["structure"]}

    def binding(self, label: str, optimum: dict, mu: dict) -> list[dict]:
        """E_b at the computed coverage nearest theta* of each swept ligand."""
        out = []
        for lig in dict.fromkeys(p["name"] for p in self.spec["ligands"]):
            opt = optimum.get(lig)
            if not opt:
                continue
            parent = opt["structure"]
            vacancies = sorted(sid for sid, r in self.recs.items()
                               if parent in (r.get("parent"), r.get("binding_parent"))
                               and r["variant"] == "vacancy")
            if not vacancies:
                continue
            vac = vacancies[0]
            suffix = vac.rsplit("_vac", 1)[-1]
            n = self.recs[vac]["n_faces"] or 1
            theta = self.recs[parent]["theta"]
            found = [self._eb(lig, "ligand", parent, vac, n, theta, mu)]
            for sid, r in sorted(self.recs.items()):
                if r.get("parent") != parent or not sid.endswith(suffix) or sid == vac:
                    continue
                if r["role"] == "variant":
                    found.append(self._eb(r["variant"], "additive", sid, vac, n, theta, mu))
                elif r["role"] == "binding":
                    found.append(self._eb(r["variant"], "growth", sid, vac, n, theta, mu))
            out.extend({**b, "ligand": lig} for b in found)
        return out

    def _eb(self, species: str, role: str, with_id: str, vac: str, n: int, theta: float,
            mu: dict) -> dict:
        e1, e0 = self.energy(with_id), self.energy(vac)
        value = None
        if e1 is not None and e0 is not None and species in mu:
            value = en.binding_energy(e1, e0, mu[species]["value"], n_sites=n)
        return {"species": species, "role": role, "theta": theta, "value": value,
                "structure": with_id, "reference": vac, "n_sites": n}

    def growth(self, facets: dict) -> dict:
        temperature = self.spec["conditions"]["temperature_C"]
        lig_names = [p["name"] for p in self.spec["ligands"]]
        cases: dict[str, dict] = {}
        additives = [v["replace_with"] for v in self.spec.get("variants", [])]
        for case, additive in [("without additive", None)] + [(f"with {a}", a)
                                                              for a in additives]:
            inputs = {}
            for label, fac in facets.items():
                lig = lig_names[0] if lig_names else None
                opt = fac["optimum"].get(lig) if lig else None
                eb = {b["species"]: b["value"] for b in fac["binding"]}
                grow = [b["value"] for b in fac["binding"] if b["role"] == "growth"]
                if not opt or eb.get(lig) is None or not grow or grow[0] is None:
                    continue
                if additive is not None and eb.get(additive) is None:
                    continue
                rec = self.recs[opt["structure"]]
                inputs[label] = gr.FacetGrowthInput(
                    theta_opt=opt["theta"], footprint=self.ctx["ligands"][lig]["footprint"],
                    eb_growth=grow[0], eb_ligand=eb[lig],
                    n_ligands=max(1, rec["n_ligands"] // max(rec["n_faces"] or 1, 1)),
                    eb_additive=eb.get(additive) if additive else None)
            if len(inputs) < 2:
                cases[case] = {"rates": {}, "ranking": [], "anisotropy_index": None,
                               "shape": None, "note": "fewer than two facets with the inputs "
                               "of the growth model"}
                continue
            rates = gr.relative_rates(inputs, temperature)
            shape = None
            try:
                sh = gr.kinetic_wulff(self.ctx["core"]["a"],
                                      {tuple(int(c) for c in k): v for k, v in rates.items()})
                shape = {"aspect_ratio": sh.aspect_ratio,
                         "facet_area_fractions": sh.facet_area_fractions}
            except Exception as exc:  # noqa: BLE001 - a degenerate shape is reported, not fatal
                shape = {"aspect_ratio": None, "error": str(exc)}
            cases[case] = {"rates": rates,
                           "ranking": sorted(rates, key=lambda k: -rates[k]),
                           "anisotropy_index": gr.anisotropy_index(rates), "shape": shape,
                           "inputs": {k: vars(v) for k, v in inputs.items()}}
        return {"model": "facetflow.analysis.growth.growth_rate (see its docstring)",
                "assumptions": GROWTH_ASSUMPTIONS, "temperature_C": temperature,
                "cases": cases}


def _pseudo_h_hosts(structure: dict, ctx: dict) -> dict[str, int]:
    """Number of pseudo-H per host element, from their charges (q = (8 - v)/4)."""
    from facetflow.structures.materials import pseudo_h_charge

    charges = structure["arrays"].get("pseudo_h_charge") or []
    species = set()
    for c in (ctx.get("core"), ctx.get("shell")):
        if c:
            species |= set(c["cations"]) | {c["anion"]}
    by_q = {round(pseudo_h_charge(el), 4): el for el in species}
    out: Counter = Counter()
    for q in charges:
        if q > 0:
            out[by_q.get(round(float(q), 4), f"q={q:g}")] += 1
    return dict(out)


def _facet_label(f: dict) -> str:
    """The facet's key (its ``name``, else the Miller indices, as structure ids have it)."""
    from facetflow.study import miller_label

    return f.get("name") or miller_label(f["miller"])


def _identity(wd: WorkData) -> str | None:
    idents = {n["identity"] for n in wd.plan["nodes"] if n["stage"] == "final"}
    return ", ".join(sorted(idents)) if idents else None
