"""Tables drawn from the summary dict (schema: docs/summary.md) as pandas DataFrames, and
the CSV files of the report.

* ``gamma.csv``: one row per gamma(theta) point (every computed arrangement and variant);
  columns facet, ligand, theta, variant, gamma_meV_A2, gamma_J_m2, structure, lowest.
* ``binding.csv``: one row per binding entry; facet, species, role, theta, Eb_eV
  (negative = bound), structure, reference.
* ``growth.csv``: one row per growth case and facet; case, facet, rate (relative to the
  fastest facet), rank (1 = fastest), anisotropy_index, aspect_ratio (the last two per
  case, repeated on its rows).
* ``defects.csv`` (studies with a ``defects`` section): one row per defect structure and
  chemical-potential limit; facet, defect, site, layer, ligand (empty: none), limit
  (cation-rich / anion-rich), limit_name (e.g. Zn-rich), E_f_eV (per defect), dE_f_eV
  (E_f with the ligand - without; > 0 suppressed), Eb_at_defect_eV, Eb_pristine_eV (the
  ligand's E_b next to the defect and at the same site of the pristine slab), lowest
  (the most stable position of that defect and ligand), structure, reference.

Null values become empty cells (NaN / None); a missing section gives a table with the
columns and no rows.

Ligands are ordered in one place, ``order_ligands``: each ligand comes before its variants
(``acetate``, ``acetate+F``, ``acetate+HF``, then ``zn_acetate``, ...), whatever order the
summary lists them in. The tables, figures and report.html all order ligands with it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

MEV_A2_TO_J_M2 = 0.01602176634  # 1 meV/Å^2 = 0.016 J/m^2

GAMMA_COLUMNS = ["facet", "ligand", "theta", "variant", "gamma_meV_A2", "gamma_J_m2",
                 "structure", "lowest"]
BINDING_COLUMNS = ["facet", "species", "role", "theta", "Eb_eV", "structure", "reference"]
GROWTH_COLUMNS = ["case", "facet", "rate", "rank", "anisotropy_index", "aspect_ratio"]
COMPARISON_COLUMNS = ["finding", "paper", "this_run", "verdict", "engine", "run"]
DEFECT_COLUMNS = ["facet", "defect", "site", "layer", "ligand", "limit", "limit_name",
                  "E_f_eV", "dE_f_eV", "Eb_at_defect_eV", "Eb_pristine_eV", "lowest",
                  "structure", "reference"]


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


def gamma_frame(summary: Mapping[str, Any]) -> pd.DataFrame:
    """One row per gamma point of every facet: facets in the summary's order, within a
    facet each ligand before its variants (``order_ligands``), within one ligand or variant
    in the summary's order."""
    rows = []
    for facet, f in _facets(summary).items():
        points = [p for p in _as_list(_as_dict(f).get("gamma")) if isinstance(p, Mapping)]
        pairs = [(str(p.get("ligand") or "?"), p.get("variant") or None) for p in points]
        rank = ligand_rank(pairs)
        for _, p in sorted(zip(pairs, points, strict=True),
                           key=lambda t: rank[ligand_key(*t[0])]):
            value = _num(p.get("value"))
            j_m2 = _num(p.get("j_m2"))
            if j_m2 is None and value is not None:
                j_m2 = value * MEV_A2_TO_J_M2
            lowest = p.get("lowest")
            rows.append({"facet": facet, "ligand": p.get("ligand"),
                         "theta": _num(p.get("theta")), "variant": p.get("variant") or None,
                         "gamma_meV_A2": value, "gamma_J_m2": j_m2,
                         "structure": p.get("structure"),
                         "lowest": lowest if isinstance(lowest, bool) else None})
    return _frame(rows, GAMMA_COLUMNS, ["theta", "gamma_meV_A2", "gamma_J_m2"])


def binding_frame(summary: Mapping[str, Any]) -> pd.DataFrame:
    """One row per binding entry of every facet (E_b in eV, negative = bound): facets in
    the summary's order, within a facet per ligand sweep (``binding_entries``)."""
    rows = []
    for facet, f in _facets(summary).items():
        for _, b in binding_entries(f):
            rows.append({"facet": facet, "species": b.get("species"), "role": b.get("role"),
                         "theta": _num(b.get("theta")), "Eb_eV": _num(b.get("value")),
                         "structure": b.get("structure"), "reference": b.get("reference")})
    return _frame(rows, BINDING_COLUMNS, ["theta", "Eb_eV"])


def binding_entries(facet: Mapping[str, Any]) -> list[tuple[str | None, Mapping[str, Any]]]:
    """(sweep, entry) for the binding entries of one facet of the summary, in report order:
    ligand sweeps by ``order_ligands``, within a sweep the ligand, then its additives, then
    the growth species (each group in the summary's order). The sweep is the entry's
    ``ligand``; where a summary lacks it, the ligand entry listed last before it."""
    tagged: list[tuple[str | None, Mapping[str, Any]]] = []
    sweep = None
    for b in _as_list(_as_dict(facet).get("binding")):
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


def growth_frame(summary: Mapping[str, Any]) -> pd.DataFrame:
    """One row per growth case and facet. ``rank`` comes from the case's ``ranking``
    (fastest first) where given, else from the rates; the anisotropy index, where the
    case lacks it, is max/min of its rates."""
    rows = []
    cases = _as_dict(_as_dict(summary.get("growth")).get("cases"))
    for case, c in cases.items():
        c = _as_dict(c)
        rates = {str(k): _num(v) for k, v in _as_dict(c.get("rates")).items()}
        ranking = [str(k) for k in _as_list(c.get("ranking"))]
        if not ranking:
            ranking = sorted((k for k, v in rates.items() if v is not None),
                             key=lambda k: -rates[k])  # type: ignore[operator]
        aniso = _num(c.get("anisotropy_index"))
        finite = [v for v in rates.values() if v is not None]
        if aniso is None and finite and min(finite) > 0:
            aniso = max(finite) / min(finite)
        aspect = _num(_as_dict(c.get("shape")).get("aspect_ratio"))
        for facet, rate in rates.items():
            rows.append({"case": str(case), "facet": facet, "rate": rate,
                         "rank": ranking.index(facet) + 1 if facet in ranking else None,
                         "anisotropy_index": aniso, "aspect_ratio": aspect})
    df = _frame(rows, GROWTH_COLUMNS, ["rate", "anisotropy_index", "aspect_ratio"])
    df["rank"] = pd.array(df["rank"].tolist(), dtype="Int64")
    return df


def comparison_frame(summary: Mapping[str, Any]) -> pd.DataFrame:
    """One row per paper finding: finding, paper, this_run, verdict, engine."""
    rows = [{k: r.get(k) for k in COMPARISON_COLUMNS}
            for r in _as_list(summary.get("paper_comparison")) if isinstance(r, Mapping)]
    return _frame(rows, COMPARISON_COLUMNS, [])


def defects_frame(summary: Mapping[str, Any]) -> pd.DataFrame:
    """One row per defect entry and limit of ``summary['defects']`` (E_f per defect, eV)."""
    d = _as_dict(summary.get("defects"))
    limits = _as_dict(d.get("limits"))
    rows = []
    for e in _as_list(d.get("entries")):
        if not isinstance(e, Mapping):
            continue
        for lim, value in _as_dict(e.get("E_f")).items():
            rows.append({"facet": e.get("facet"), "defect": e.get("defect"),
                         "site": e.get("site"), "layer": e.get("layer"),
                         "ligand": e.get("ligand"), "limit": lim,
                         "limit_name": _as_dict(limits.get(lim)).get("name"),
                         "E_f_eV": _num(value), "dE_f_eV": _num(e.get("dE_f")),
                         "Eb_at_defect_eV": _num(e.get("E_b_ligand_at_defect")),
                         "Eb_pristine_eV": _num(e.get("E_b_ligand_pristine")),
                         "lowest": e.get("lowest") if isinstance(e.get("lowest"), bool)
                         else None,
                         "structure": e.get("structure"), "reference": e.get("reference")})
    return _frame(rows, DEFECT_COLUMNS, ["E_f_eV", "dE_f_eV", "Eb_at_defect_eV",
                                         "Eb_pristine_eV"])


def write_tables(summary: Mapping[str, Any], out: str | Path) -> list[Path]:
    """Write gamma.csv, binding.csv and growth.csv into ``out``; the paths written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, frame in (("gamma", gamma_frame), ("binding", binding_frame),
                        ("growth", growth_frame)):
        path = out / f"{name}.csv"
        frame(summary).to_csv(path, index=False)
        paths.append(path)
    if summary.get("defects"):
        path = out / "defects.csv"
        defects_frame(summary).to_csv(path, index=False)
        paths.append(path)
    return paths


# ---------------------------------------------------------------- helpers


def ratio_text(x: float) -> str:
    """A ratio such as the anisotropy index as the report writes it: 2 decimals, or 2
    significant digits when huge (an unbound growth species gives rates 1e15 apart)."""
    return f"{x:.2f}" if abs(x) < 1e4 else f"{x:.2g}"


def _frame(rows: list[dict[str, Any]], columns: list[str], numeric: list[str]
           ) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=columns)
    for col in numeric:
        df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    return df


def _facets(summary: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k): v for k, v in _as_dict(_as_dict(summary).get("facets")).items()}


def _as_dict(x: Any) -> Mapping[str, Any]:
    return x if isinstance(x, Mapping) else {}


def _as_list(x: Any) -> list[Any]:
    return list(x) if isinstance(x, (list, tuple)) else []


def _num(x: Any) -> float | None:
    if isinstance(x, bool) or x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None
