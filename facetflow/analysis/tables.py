"""Tables drawn from the summary dict (schema: docs/summary.md) as pandas DataFrames, and
the CSV files of the report.

* ``gamma.csv``: one row per gamma(theta) point (every computed arrangement and variant);
  columns facet, ligand, theta, variant, gamma_meV_A2, gamma_J_m2, structure, lowest.
* ``binding.csv``: one row per binding entry; facet, species, role, theta, Eb_eV
  (negative = bound), structure, reference.
* ``growth.csv``: one row per growth case and facet; case, facet, rate (relative to the
  fastest facet), rank (1 = fastest), anisotropy_index, aspect_ratio, aspect_ratio_c
  (hexagonal crystals: along c over the basal width; empty otherwise) (the last three per
  case, repeated on its rows).
* ``defects.csv`` (studies with a ``defects`` section): one row per defect structure and
  chemical-potential limit; facet, defect, site, layer, ligand (empty: none), limit
  (cation-rich / anion-rich), limit_name (e.g. Zn-rich), E_f_eV (per defect), dE_f_eV
  (E_f with the ligand - without; > 0 suppressed), Eb_at_defect_eV, Eb_pristine_eV (the
  ligand's E_b next to the defect and at the same site of the pristine slab), lowest
  (the most stable position of that defect and ligand), structure, reference.

Null values become empty cells (NaN / None); a missing section gives a table with the
columns and no rows.

Ligands are ordered as ``summary_view.order_ligands`` says: each ligand before its
variants, as in the figures and report.html.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from facetflow.analysis.summary_view import (
    MEV_A2_TO_J_M2,
    as_dict,
    as_list,
    binding_entries,
    facets_of,
    ligand_key,
    ligand_rank,
    num,
)

GAMMA_COLUMNS = ["facet", "ligand", "theta", "variant", "gamma_meV_A2", "gamma_J_m2",
                 "structure", "lowest"]
BINDING_COLUMNS = ["facet", "species", "role", "theta", "Eb_eV", "structure", "reference"]
GROWTH_COLUMNS = ["case", "facet", "rate", "rank", "anisotropy_index", "aspect_ratio",
                  "aspect_ratio_c"]
COMPARISON_COLUMNS = ["finding", "paper", "this_run", "verdict", "engine", "run", "probability",
                      "robustness"]
DEFECT_COLUMNS = ["facet", "defect", "site", "layer", "ligand", "limit", "limit_name",
                  "E_f_eV", "dE_f_eV", "Eb_at_defect_eV", "Eb_pristine_eV", "lowest",
                  "structure", "reference"]


def gamma_frame(summary: Mapping[str, Any]) -> pd.DataFrame:
    """One row per gamma point of every facet: facets in the summary's order, within a
    facet each ligand before its variants (``order_ligands``), within one ligand or variant
    in the summary's order."""
    rows = []
    for facet, f in facets_of(summary).items():
        points = [p for p in as_list(as_dict(f).get("gamma")) if isinstance(p, Mapping)]
        pairs = [(str(p.get("ligand") or "?"), p.get("variant") or None) for p in points]
        rank = ligand_rank(pairs)
        for _, p in sorted(zip(pairs, points, strict=True),
                           key=lambda t: rank[ligand_key(*t[0])]):
            value = num(p.get("value"))
            j_m2 = num(p.get("j_m2"))
            if j_m2 is None and value is not None:
                j_m2 = value * MEV_A2_TO_J_M2
            lowest = p.get("lowest")
            rows.append({"facet": facet, "ligand": p.get("ligand"),
                         "theta": num(p.get("theta")), "variant": p.get("variant") or None,
                         "gamma_meV_A2": value, "gamma_J_m2": j_m2,
                         "structure": p.get("structure"),
                         "lowest": lowest if isinstance(lowest, bool) else None})
    return _frame(rows, GAMMA_COLUMNS, ["theta", "gamma_meV_A2", "gamma_J_m2"])


def binding_frame(summary: Mapping[str, Any]) -> pd.DataFrame:
    """One row per binding entry of every facet (E_b in eV, negative = bound): facets in
    the summary's order, within a facet per ligand sweep (``binding_entries``)."""
    rows = []
    for facet, f in facets_of(summary).items():
        for _, b in binding_entries(f):
            rows.append({"facet": facet, "species": b.get("species"), "role": b.get("role"),
                         "theta": num(b.get("theta")), "Eb_eV": num(b.get("value")),
                         "structure": b.get("structure"), "reference": b.get("reference")})
    return _frame(rows, BINDING_COLUMNS, ["theta", "Eb_eV"])


def growth_frame(summary: Mapping[str, Any]) -> pd.DataFrame:
    """One row per growth case and facet. ``rank`` comes from the case's ``ranking``
    (fastest first) where given, else from the rates; the anisotropy index, where the
    case lacks it, is max/min of its rates."""
    rows = []
    cases = as_dict(as_dict(summary.get("growth")).get("cases"))
    for case, c in cases.items():
        c = as_dict(c)
        rates = {str(k): num(v) for k, v in as_dict(c.get("rates")).items()}
        ranking = [str(k) for k in as_list(c.get("ranking"))]
        if not ranking:
            ranking = sorted((k for k, v in rates.items() if v is not None),
                             key=lambda k: -rates[k])  # type: ignore[operator]
        aniso = num(c.get("anisotropy_index"))
        finite = [v for v in rates.values() if v is not None]
        if aniso is None and finite and min(finite) > 0:
            aniso = max(finite) / min(finite)
        aspect = num(as_dict(c.get("shape")).get("aspect_ratio"))
        along_c = num(as_dict(c.get("shape")).get("aspect_ratio_c"))
        for facet, rate in rates.items():
            rows.append({"case": str(case), "facet": facet, "rate": rate,
                         "rank": ranking.index(facet) + 1 if facet in ranking else None,
                         "anisotropy_index": aniso, "aspect_ratio": aspect,
                         "aspect_ratio_c": along_c})
    df = _frame(rows, GROWTH_COLUMNS, ["rate", "anisotropy_index", "aspect_ratio",
                                       "aspect_ratio_c"])
    df["rank"] = pd.array(df["rank"].tolist(), dtype="Int64")
    return df


def comparison_frame(summary: Mapping[str, Any]) -> pd.DataFrame:
    """One row per paper finding: finding, paper, this_run, verdict, engine."""
    rows = [{k: r.get(k) for k in COMPARISON_COLUMNS}
            for r in as_list(summary.get("paper_comparison")) if isinstance(r, Mapping)]
    return _frame(rows, COMPARISON_COLUMNS, [])


def defects_frame(summary: Mapping[str, Any]) -> pd.DataFrame:
    """One row per defect entry and limit of ``summary['defects']`` (E_f per defect, eV)."""
    d = as_dict(summary.get("defects"))
    limits = as_dict(d.get("limits"))
    rows = []
    for e in as_list(d.get("entries")):
        if not isinstance(e, Mapping):
            continue
        for lim, value in as_dict(e.get("E_f")).items():
            rows.append({"facet": e.get("facet"), "defect": e.get("defect"),
                         "site": e.get("site"), "layer": e.get("layer"),
                         "ligand": e.get("ligand"), "limit": lim,
                         "limit_name": as_dict(limits.get(lim)).get("name"),
                         "E_f_eV": num(value), "dE_f_eV": num(e.get("dE_f")),
                         "Eb_at_defect_eV": num(e.get("E_b_ligand_at_defect")),
                         "Eb_pristine_eV": num(e.get("E_b_ligand_pristine")),
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


def _frame(rows: list[dict[str, Any]], columns: list[str], numeric: list[str]
           ) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=columns)
    for col in numeric:
        df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    return df
