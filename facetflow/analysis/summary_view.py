"""Reading the summary dict (``facetflow.records.summary``) tolerantly: the helpers the
tables, figures and report.html share, so they read and order it one way.

Every reader copes with missing data: ``as_dict``/``as_list`` turn a missing or malformed
part into an empty one, ``num`` a null or non-finite number into None.

Ligands are ordered in one place, ``order_ligands``: each ligand comes before its
variants (``acetate``, ``acetate+F``, ``acetate+HF``, then ``zn_acetate``, ...), whatever
order the summary lists them in.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

MEV_A2_TO_J_M2 = 0.01602176634  # 1 meV/Å^2 = 0.016 J/m^2

ROLE_ORDER = {"ligand": 0, "additive": 1, "growth": 2}  # binding entries of one sweep


def split_ligand_key(key: Any) -> tuple[str, str | None]:
    """"acetate+F" -> ("acetate", "F"); "acetate" -> ("acetate", None); a (ligand, variant)
    pair is returned as it is (an empty variant as None)."""
    if isinstance(key, (tuple, list)) and len(key) == 2:
        lig, var = key
        return str(lig), (None if var is None or var == "" else str(var))
    lig, _, var = str(key).partition("+")
    return lig, (var or None)


def ligand_key(ligand: Any, variant: Any = None) -> str:
    """The summary's optimum key: "acetate", or "acetate+F" for a variant."""
    return str(ligand) + (f"+{variant}" if variant not in (None, "") else "")


def order_ligands(keys: Iterable[Any]) -> list[str]:
    """Ligand keys ("acetate", "acetate+F", or (ligand, variant) pairs) in report order,
    each once: every ligand followed by its variants. Ligands keep the order in which they
    are first seen (a variant counts for its ligand), variants of one ligand likewise. A
    variant whose ligand is not in ``keys`` still follows the place its ligand would have.
    The one ordering of ligands for the tables, figures and report.html."""
    bases: dict[str, list[str]] = {}
    for key in keys:
        lig, var = split_ligand_key(key)
        variants = bases.setdefault(lig, [])
        name = ligand_key(lig, var)
        if name not in variants:
            variants.append(name)
    out: list[str] = []
    for lig, names in bases.items():
        out += sorted(names, key=lambda n: n != lig)  # stable: the ligand, then variants
    return out


def ligand_rank(keys: Iterable[Any]) -> dict[str, int]:
    """{key: position} in ``order_ligands(keys)``: a sort key for rows that name ligands."""
    return {k: i for i, k in enumerate(order_ligands(keys))}


def binding_entries(facet: Mapping[str, Any]) -> list[tuple[str | None, Mapping[str, Any]]]:
    """(sweep, entry) for the binding entries of one facet of the summary, in report order:
    ligand sweeps by ``order_ligands``, within a sweep the ligand, then its additives, then
    the growth species (each group in the summary's order). The sweep is the entry's
    ``ligand``; where a summary lacks it, the ligand entry listed last before it."""
    tagged: list[tuple[str | None, Mapping[str, Any]]] = []
    sweep = None
    for b in as_list(as_dict(facet).get("binding")):
        if not isinstance(b, Mapping):
            continue
        if b.get("ligand") is not None:
            sweep = str(b.get("ligand"))
        elif b.get("role") == "ligand" and b.get("species") is not None:
            sweep = str(b.get("species"))
        tagged.append((sweep, b))
    rank = ligand_rank(s for s, _ in tagged if s is not None)
    return sorted(tagged, key=lambda t: (rank.get(t[0], -1) if t[0] is not None else -1,
                                         ROLE_ORDER.get(str(t[1].get("role")), 9)))


def ratio_text(x: float) -> str:
    """A ratio such as the anisotropy index as the report writes it: 2 decimals, or 2
    significant digits when huge (an unbound growth species gives rates 1e15 apart)."""
    return f"{x:.2f}" if abs(x) < 1e4 else f"{x:.2g}"


def facets_of(summary: Mapping[str, Any]) -> dict[str, Any]:
    """``summary['facets']`` with string keys (empty when missing)."""
    return {str(k): v for k, v in as_dict(as_dict(summary).get("facets")).items()}


def as_dict(x: Any) -> Mapping[str, Any]:
    """``x`` if it is a mapping, else an empty one."""
    return x if isinstance(x, Mapping) else {}


def as_list(x: Any) -> list[Any]:
    """``x`` as a list if it is a list or tuple, else an empty one."""
    return list(x) if isinstance(x, (list, tuple)) else []


def num(x: Any) -> float | None:
    """``x`` as a finite float; None for null, booleans, text and non-finite values."""
    if isinstance(x, bool) or x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def defect_bars(summary: Mapping[str, Any]) -> tuple[list[tuple[str, str]], list[str | None],
                                                      dict]:
    """The bars of the defects figure: groups (facet, defect), series (None = no ligand,
    then each ligand) and {(facet, defect, ligand): entry} at the position where the
    defect without ligand has its lowest E_f (first limit)."""
    d = as_dict(as_dict(summary).get("defects"))
    entries = [e for e in as_list(d.get("entries")) if isinstance(e, Mapping)]
    groups: list[tuple[str, str]] = []
    series: list[str | None] = [None]
    site: dict[tuple[str, str], Any] = {}
    for e in entries:
        key = (str(e.get("facet")), str(e.get("defect")))
        if key not in groups:
            groups.append(key)
        if e.get("ligand") is not None and e.get("ligand") not in series:
            series.append(e.get("ligand"))
        if e.get("ligand") is None and e.get("lowest"):
            site[key] = e.get("site")
    chosen = {}
    for e in entries:
        key = (str(e.get("facet")), str(e.get("defect")))
        if e.get("site") == site.get(key, e.get("site")):
            chosen.setdefault((*key, e.get("ligand")), e)
    return groups, series, chosen


def interval(summary: Mapping[str, Any], path: str) -> Mapping[str, Any] | None:
    """The uncertainty entry of the number at ``path`` (``uncertainty.values``): mean,
    std, low and high of the central interval, in that number's unit; None without one."""
    values = as_dict(as_dict(as_dict(summary).get("uncertainty")).get("values"))
    got = values.get(path)
    return got if isinstance(got, Mapping) else None


def interval_text(summary: Mapping[str, Any], path: str, digits: int = 2,
                  ratio: bool = False) -> str:
    """" [low, high]" of the number at ``path`` (empty without uncertainty or when the
    interval is a point); ``ratio``: both ends as ``ratio_text`` writes them."""
    iv = interval(summary, path)
    lo, hi = num(as_dict(iv).get("low")), num(as_dict(iv).get("high"))
    if lo is None or hi is None or round(hi - lo, digits) == 0:
        return ""
    if ratio:
        return f" [{ratio_text(lo)}, {ratio_text(hi)}]"
    return f" [{lo:.{digits}f}, {hi:.{digits}f}]"


def binding_path(facet: str, b: Mapping[str, Any]) -> str:
    """The uncertainty key of a binding entry."""
    return f"facets.{facet}.binding.{b.get('ligand')}.{b.get('species')}"


def growth_references(summary: Mapping[str, Any]) -> list[str]:
    """How the chemical potential of each growth species and additive was chosen
    (``chemical_potentials.*.how``), for the species bound in the binding entries."""
    mu = as_dict(as_dict(summary).get("chemical_potentials"))
    species = dict.fromkeys(str(b.get("species")) for f in facets_of(summary).values()
                            for b in as_list(as_dict(f).get("binding"))
                            if isinstance(b, Mapping) and b.get("role") != "ligand")
    out = []
    for sp in species:
        entry = as_dict(mu.get(f"{sp} (adsorbate)") or mu.get(sp))
        if entry.get("how"):
            out.append(str(entry["how"]))
    return out


def uncertainty_lines(summary: Mapping[str, Any]) -> list[str]:
    """Plain-text lines: the sources of the error bars, the probability that each facet
    grows fastest per case, and each finding's probability of agreement."""
    u = as_dict(as_dict(summary).get("uncertainty"))
    if not u:
        return []
    src = as_dict(u.get("sources"))
    used = [k for k in ("configurations", "model", "calibration")
            if as_dict(src.get(k)).get("used")]
    pct = round(100 * (num(u.get("interval")) or 0.9))
    lines = [f"error bars: {pct} % intervals from {u.get('samples')} samples; sources: "
             + (", ".join(used) if used else "none (one start, no committee, no DFT "
                                            "calibration): intervals are points")]
    for case, r in as_dict(u.get("ranking")).items():
        fastest = sorted(as_dict(as_dict(r).get("fastest")).items(), key=lambda kv: -kv[1])
        text = ", ".join(f"{{{k}}} {100 * p:.0f} %" for k, p in fastest if p > 0)
        lines.append(f"growth {case}: fastest facet {text}")
    for f in as_list(u.get("findings")):
        p = num(as_dict(f).get("probability"))
        lines.append(f"finding {f.get('id')}: "
                     + ("not computed" if p is None else
                        f"agrees in {100 * p:.0f} % of samples ({f.get('verdict')})"))
    return lines
