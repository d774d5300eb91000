"""Reading a work directory: structures and their energies as pandas DataFrames.

The notebook API starts here::

    from facetflow.analysis import data
    frame = data.energies("work/quick")        # one row per structure

A work directory holds ``plan.json`` (every structure with its metadata and the hash of
the calculation that gives its energy) and the results store (``results.db`` or the URL
in ``store.json``). Nothing here runs a calculation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from facetflow.store import ResultStore, StoredCalc, workdir_store_url


@dataclass
class WorkData:
    """A finished (or partly finished) study: its plan, and the store's checked rows."""

    workdir: Path
    plan: dict
    results: dict[str, StoredCalc]
    store_problems: list[dict] = field(default_factory=list)

    @property
    def records(self) -> dict[str, dict]:
        return self.plan["records"]

    def energy(self, structure_id: str) -> float | None:
        """Energy (eV) of a structure's final calculation, None if absent or failed."""
        got = self.results.get(self.records[structure_id]["calc"])
        if got is None or got.status != "done" or got.result is None:
            return None
        return float(got.result.energy)

    def why_missing(self, structure_id: str) -> str:
        got = self.results.get(self.records[structure_id]["calc"])
        if got is None:
            return "not computed"
        if got.status == "failed":
            return f"failed: {got.error}"
        return "no result"

    def result(self, structure_id: str):
        got = self.results.get(self.records[structure_id]["calc"])
        return None if got is None else got.result


def load(workdir: str | Path, store: str | None = None) -> WorkData:
    """Read ``workdir``'s plan and the store rows of its calculations."""
    workdir = Path(workdir)
    plan_file = workdir / "plan.json"
    if not plan_file.is_file():
        raise FileNotFoundError(f"{plan_file} not found: is {workdir} a facetflow work "
                                "directory (made by facetflow run)?")
    plan = json.loads(plan_file.read_text())
    rs = ResultStore(store or workdir_store_url(workdir))
    wanted = {n["hash"] for n in plan["nodes"]}
    results = {h: s for h, s in rs.all().items() if h in wanted}
    problems = [{"calc_hash": p.calc_hash, "reason": p.reason} for p in rs.problems
                if p.calc_hash in wanted]
    return WorkData(workdir, plan, results, problems)


def energies(workdir: str | Path | WorkData) -> pd.DataFrame:
    """One row per structure: id, role, facet, ligand, theta, variant, n_atoms, area (Å^2),
    n_faces, calculation hash, status, energy (eV), converged, steps, error."""
    wd = workdir if isinstance(workdir, WorkData) else load(workdir)
    rows = []
    for sid, rec in wd.records.items():
        got = wd.results.get(rec["calc"])
        res = got.result if got is not None else None
        rows.append({
            "id": sid, "role": rec["role"], "facet": rec.get("facet"),
            "ligand": rec.get("ligand"), "theta": rec.get("theta"),
            "variant": rec.get("variant"), "n_atoms": rec.get("n_atoms"),
            "area_A2": rec.get("area_A2"), "n_faces": rec.get("n_faces"),
            "calc": rec["calc"],
            "status": got.status if got is not None else "missing",
            "energy_eV": res.energy if res is not None else None,
            "converged": res.converged if res is not None else None,
            "steps": res.steps if res is not None else None,
            "error": got.error if got is not None else None,
        })
    return pd.DataFrame(rows)
