"""This run beside a paper's findings: one row per finding with the paper's statement,
this run's numbers, and a verdict (agrees / disagrees / not computed).

The findings come from a findings file (``facetflow.findings``; bundled ones in
``facetflow/data/papers/``) that the study names in ``analysis.compare_with``; the run
embeds it in ``study.json``, so the comparison is rebuilt from the work directory alone.

Binding energies are in eV. Internally facetflow's sign (E_b = E(slab+A) - E(slab) - mu_A,
negative means bound); in the table they are shown in the paper's convention, so the two
columns read alike. A finding agrees when every check passes, disagrees when any
computed check fails, and is "not computed" when a check lacks its numbers and none
fails.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

AGREES, DISAGREES, NOT_COMPUTED = "agrees", "disagrees", "not computed"


def compare(summary: Mapping[str, Any], findings: Mapping[str, Any] | None,
            engine: str) -> list[dict]:
    """Rows ``{id, finding, paper, this_run, verdict, engine, checks}`` for ``summary``."""
    if not findings:
        return []
    sign = -1.0 if findings.get("binding_sign") == "positive_bound" else 1.0
    rows = []
    for f in findings["findings"]:
        results = [_evaluate(c, summary, sign) for c in f["checks"]]
        passed = [r["passed"] for r in results]
        if any(p is False for p in passed):
            verdict = DISAGREES
        elif all(p is True for p in passed):
            verdict = AGREES
        else:
            verdict = NOT_COMPUTED
        rows.append({"id": f["id"], "finding": f["text"],
                     "paper": f"{findings['name']} ({findings['engine']})",
                     "this_run": "; ".join(r["text"] for r in results),
                     "verdict": verdict, "engine": engine, "checks": results})
    return rows


def _evaluate(check: Mapping[str, Any], summary: Mapping[str, Any], sign: float) -> dict:
    kind = check["kind"]
    passed, text = _CHECKS[kind](check, summary, sign)
    mark = {True: "yes", False: "no", None: "not computed"}[passed]
    return {"kind": kind, "passed": passed, "text": f"{text} [{mark}]"}


def _facet(summary: Mapping[str, Any], label: str) -> Mapping[str, Any] | None:
    return (summary.get("facets") or {}).get(str(label))


def binding_value(summary: Mapping[str, Any], facet: str, species: str,
                  ligand: str | None = None) -> float | None:
    """E_b (eV, facetflow sign) of ``species`` on ``facet`` (in ``ligand``'s sweep; when
    not given, the entry with the ligand itself or, for other species, the first)."""
    fac = _facet(summary, facet)
    if not fac:
        return None
    for b in fac.get("binding") or []:
        if b.get("species") != species:
            continue
        if ligand is not None and b.get("ligand", ligand) != ligand:
            continue
        return b.get("value")
    return None


def _site(site: Mapping[str, Any], summary: Mapping[str, Any]) -> tuple[float | None, str]:
    v = binding_value(summary, site["facet"], site["species"], site.get("ligand"))
    return v, f"{site['species']} on {{{site['facet']}}}"


def _ev(v: float | None, sign: float) -> str:
    return "n/a" if v is None else f"{sign * v:+.2f} eV"


def _theta_star(c, summary, sign):
    fac = _facet(summary, c["facet"])
    opt = ((fac or {}).get("optimum") or {}).get(c["ligand"])
    name = f"theta*({c['ligand']}, {{{c['facet']}}})"
    if not opt or opt.get("theta") is None:
        return None, f"{name} n/a"
    thetas = sorted({p["theta"] for p in fac.get("gamma") or []
                     if p.get("ligand") == c["ligand"] and p.get("variant") is None
                     and p.get("delta") is not None})
    theta = float(opt["theta"])
    text = f"{name} = {theta:.3f} (computed {thetas[0]:g}-{thetas[-1]:g})" if thetas \
        else f"{name} = {theta:.3f}"
    if not thetas:
        return None, text
    if c["expect"] == "full":
        return theta >= thetas[-1] - 1e-9, text
    inside = thetas[0] + 1e-9 < theta < thetas[-1] - 1e-9
    if c.get("value") is not None and c.get("within") is not None:
        inside = inside and abs(theta - c["value"]) <= c["within"]
    return inside, text


def _binding_value(c, summary, sign):
    v, name = _site(c, summary)
    text = f"E_b({name}) = {_ev(v, sign)} (paper {c['value']:+.2f} eV)"
    if v is None:
        return None, text
    return abs(sign * v - c["value"]) <= c["within"], text


def _binding_order(c, summary, sign):
    (vs, ns), (vw, nw) = _site(c["stronger"], summary), _site(c["weaker"], summary)
    text = f"E_b({ns}) = {_ev(vs, sign)} vs E_b({nw}) = {_ev(vw, sign)}"
    if vs is None or vw is None:
        return None, text
    return vs < vw - c.get("by", 0.0), text


def _binding_similar(c, summary, sign):
    (va, na), (vb, nb) = _site(c["a"], summary), _site(c["b"], summary)
    text = f"E_b({na}) = {_ev(va, sign)} vs E_b({nb}) = {_ev(vb, sign)}"
    if va is None or vb is None:
        return None, text
    return abs(va - vb) <= c["within"], text


def _weakest_facet(c, summary, sign):
    values = {label: binding_value(summary, label, c["species"], c.get("ligand"))
              for label in summary.get("facets") or {}}
    values = {k: v for k, v in values.items() if v is not None}
    text = f"E_b({c['species']}): " + ", ".join(f"{{{k}}} {_ev(v, sign)}"
                                                for k, v in sorted(values.items()))
    if len(values) < 2 or str(c["facet"]) not in values:
        return None, text
    return max(values, key=values.get) == str(c["facet"]), text


def _growth_case(summary, case):
    return ((summary.get("growth") or {}).get("cases") or {}).get(case) or {}


def _fastest_facet(c, summary, sign):
    ranking = _growth_case(summary, c["case"]).get("ranking") or []
    text = f"{c['case']}: ranking " + (" > ".join(f"{{{r}}}" for r in ranking) or "n/a")
    if not ranking:
        return None, text
    return ranking[0] == str(c["facet"]), text


def _more_balanced(c, summary, sign):
    a = _growth_case(summary, c["case"]).get("anisotropy_index")
    b = _growth_case(summary, c["than"]).get("anisotropy_index")
    text = (f"anisotropy {c['case']} {_num(a)} vs {c['than']} {_num(b)}")
    if a is None or b is None:
        return None, text
    if abs(a - b) <= c.get("by", 0.0):
        text += f" (unchanged within {c.get('by', 0.0):g})"
    return a < b - c.get("by", 0.0), text


def _num(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3g}"


_CHECKS = {"theta_star": _theta_star, "binding_value": _binding_value,
           "binding_order": _binding_order, "binding_similar": _binding_similar,
           "weakest_facet": _weakest_facet, "fastest_facet": _fastest_facet,
           "more_balanced": _more_balanced}
