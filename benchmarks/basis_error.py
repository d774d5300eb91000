"""The basis-set error of the reference set: the same reactions and bare surface energies
with GPAW LCAO (dzp) and plane waves, at the same geometries.

    python benchmarks/basis_error.py LCAO_DATASET PW_DATASET [--json FILE]

Each DATASET is a folder made by ``facetflow dataset export``: LCAO from the work
directories of ``studies/reference_set/basis/lcao.yaml`` and the bare-surface studies,
PW from those of ``basis/pw.yaml`` and ``basis/surface_*_pw.yaml``
(``scripts/reference_set.sh`` writes both). Reactions are matched by their id without the
study name (facet/kind/species...), surfaces by compound and facet. Prints each pair's two
values and their difference, then the MAE and the largest difference (reactions also by
kind: binding, exchange, defect, defect_passivation): reaction energies in eV, surface
energies in meV/Å².
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def entries(folder: Path) -> tuple[dict[str, float], dict[str, float]]:
    """Reaction id without its study -> energy (eV); "compound facet" -> gamma (meV/Å²)."""
    doc = json.loads((folder / "reactions.json").read_text())
    reactions = {r["id"].split("/", 1)[1]: r["energy_eV"] for r in doc["reactions"]}
    surfaces = {f"{s['compound']} {s['facet']}": s["gamma_meV_A2"]
                for s in doc.get("surfaces", [])}
    return reactions, surfaces


def compare(a: dict[str, float], b: dict[str, float]) -> dict:
    """The pairs present in both, their differences a - b, MAE and largest |a - b|."""
    rows = {k: {"lcao": a[k], "pw": b[k], "diff": a[k] - b[k]} for k in sorted(set(a) & set(b))}
    d = np.array([r["diff"] for r in rows.values()])
    return {"n": len(rows), "mae": float(np.mean(np.abs(d))) if len(d) else None,
            "max": float(np.max(np.abs(d))) if len(d) else None, "rows": rows}


def by_kind(got: dict) -> dict[str, dict]:
    """MAE and largest |LCAO - PW| per reaction kind (the id's part after the facet)."""
    kinds: dict[str, list[float]] = {}
    for k, r in got["rows"].items():
        kinds.setdefault(k.split("/")[1], []).append(abs(r["diff"]))
    return {k: {"n": len(d), "mae": float(np.mean(d)), "max": float(np.max(d))}
            for k, d in sorted(kinds.items())}


def show(title: str, unit: str, got: dict) -> None:
    print(f"{title:44s} {'LCAO':>8s} {'PW':>8s} {'LCAO-PW':>8s}   ({unit})")
    for k, r in got["rows"].items():
        print(f"{k:44s} {r['lcao']:8.3f} {r['pw']:8.3f} {r['diff']:8.3f}")
    mae = "n/a" if got["mae"] is None else f"{got['mae']:.3f}"
    top = "n/a" if got["max"] is None else f"{got['max']:.3f}"
    print(f"{got['n']} compared; MAE {mae}, max {top} {unit}")
    for kind, k in (got.get("by_kind") or {}).items():
        print(f"  {kind}: {k['n']} compared; MAE {k['mae']:.3f}, max {k['max']:.3f} {unit}")
    print()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("lcao", type=Path)
    ap.add_argument("pw", type=Path)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    (ra, sa), (rb, sb) = entries(args.lcao), entries(args.pw)
    reactions, surfaces = compare(ra, rb), compare(sa, sb)
    reactions["by_kind"] = by_kind(reactions)
    show("reaction", "eV", reactions)
    show("bare surface", "meV/Å²", surfaces)
    if args.json:
        args.json.write_text(json.dumps({"reactions_eV": reactions,
                                         "surfaces_meV_A2": surfaces}, indent=1))


if __name__ == "__main__":
    main()
