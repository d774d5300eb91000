"""Reading a work directory: structures and their energies as pandas DataFrames.

The notebook API starts here::

    from facetflow.analysis import data
    frame = data.energies("work/quick")        # one row per structure

A work directory holds ``plan.json`` (every structure's record and the hash of the
calculation that gives its energy, or of each of its starts: the lowest-energy start
counts; ``facetflow.records.plan``), ``study.json`` (``facetflow.records.context``) and
the results store (``results.db`` or the URL in ``store.json``). Nothing here runs a
calculation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from facetflow.records.plan import Plan, PlannedStructure, read_plan
from facetflow.store import ResultStore, StoredCalc, workdir_store_url


@dataclass
class WorkData:
    """A finished (or partly finished) study: its plan, and the store's checked rows."""

    workdir: Path
    plan: Plan
    results: dict[str, StoredCalc]
    store_problems: list[dict] = field(default_factory=list)
    _off_minimum: dict[str, frozenset[str]] = field(default_factory=dict, repr=False)
    _overlaps: dict[str, bool] = field(default_factory=dict, repr=False)

    @property
    def records(self) -> dict[str, PlannedStructure]:
        """Structure id -> its record and calculations, in catalog order."""
        return self.plan.records

    def starts(self, structure_id: str) -> list[str]:
        """Hashes of the calculations that relax this structure: one, or one per start
        (``workflow.starts``), start 0 first."""
        return self.records[structure_id].energy_calcs

    def stored(self, structure_id: str) -> StoredCalc | None:
        """The store row that gives this structure's energy: with several starts, the
        lowest-energy one that is done (else the first start's row, failed or None). A
        start off a minimum (``off_minimum``: a candidate at an ML start stopped early,
        or a geometry with overlapping atoms) does not count."""
        hashes = self.starts(structure_id)
        off = self.off_minimum(structure_id)
        done = [self.results[h] for h in hashes
                if _done(self.results.get(h)) and h not in off]
        if done:
            return min(done, key=lambda r: r.result.energy)
        return self.results.get(hashes[0])

    def off_minimum(self, structure_id: str) -> frozenset[str]:
        """Hashes of the structure's starts and candidates that give no energy: a
        candidate (``engine.dft_candidates``) computed at an ML pre-relaxation start that
        was stopped early (``workflow.prune_starts``), no minimum; and any whose final
        geometry has overlapping atoms (``overlapping``: a relaxation that fell into a
        hole of the ML potential). Found once per structure, by geometry."""
        if structure_id not in self._off_minimum:
            rec = self.records[structure_id]
            pre = [self.results.get(h) for h in rec.prerelax_starts]
            pruned = [r.result for r in pre if _done(r) and r.result.pruned]
            several = len(rec.energy_calcs) > 1
            self._off_minimum[structure_id] = frozenset(
                h for h in self.starts(structure_id) if self.overlaps(h) or (
                    several and _done(self.results.get(h)) and any(
                        same_geometry(self.results[h].result, p) for p in pruned)))
        return self._off_minimum[structure_id]

    def overlaps(self, calc_hash: str) -> bool:
        """Whether a finished calculation ends with overlapping atoms (``overlapping``);
        checked once per calculation."""
        if calc_hash not in self._overlaps:
            row = self.results.get(calc_hash)
            self._overlaps[calc_hash] = _done(row) and overlapping(row.result.atoms())
        return self._overlaps[calc_hash]

    def energy(self, structure_id: str) -> float | None:
        """Energy (eV) of a structure: of its final calculation, or the lowest of its
        starts; None if absent or failed."""
        got = self.stored(structure_id)
        return float(got.result.energy) if _done(got) else None

    def why_missing(self, structure_id: str) -> str:
        got = self.stored(structure_id)
        if got is None:
            return "not computed"
        if got.status == "failed":
            return f"failed: {got.error}"
        return "no result"

    def result(self, structure_id: str):
        got = self.stored(structure_id)
        return None if got is None else got.result

    def start_energies(self, structure_id: str, prerelax: bool = False
                       ) -> list[float | None]:
        """Energy (eV) of each start of a structure (None: not done, or off a minimum, as
        ``stored``), start 0 first; with ``prerelax``, of its ML pre-relaxations (a DFT
        plan with ``workflow.starts``; None also where atoms overlap)."""
        hashes = (self.records[structure_id].prerelax_starts if prerelax
                  else self.starts(structure_id))
        off = (frozenset(filter(self.overlaps, hashes)) if prerelax
               else self.off_minimum(structure_id))
        rows = [None if h in off else self.results.get(h) for h in hashes]
        return [float(r.result.energy) if _done(r) else None for r in rows]

    def start_pruned(self, structure_id: str, prerelax: bool = False) -> list[bool]:
        """Whether each start of a structure was stopped early (``workflow.prune_starts``;
        its energy an upper bound), start 0 first; as ``start_energies``."""
        hashes = (self.records[structure_id].prerelax_starts if prerelax
                  else self.starts(structure_id))
        rows = [self.results.get(h) for h in hashes]
        return [bool(_done(r) and r.result.pruned) for r in rows]

    def committee_energies(self, structure_id: str) -> dict[str, float]:
        """Energy (eV) of each committee model's single point at this structure's final
        geometry (``workflow.committee``), by model; models not done are left out."""
        rows = {m: self.results.get(h)
                for m, h in self.records[structure_id].committee.items()}
        return {m: float(r.result.energy) for m, r in rows.items() if _done(r)}

    def engine_model(self) -> str | None:
        """The ML model of the final calculations (mlip engine), else None."""
        for node in self.plan.nodes.values():
            if node.stage == "final" and node.engine == "mlip":
                return node.settings.get("model")
        return None


OVERLAP = 0.5  # two atoms closer than this times r_cov,i + r_cov,j overlap


def overlapping(atoms) -> bool:
    """Whether two atoms sit closer than ``OVERLAP`` times the sum of their covalent
    radii: no chemistry there. An ML relaxation can fall into such a hole of its
    potential (CHGNet put an acetate O 0.24 Å from a C and called it a minimum 6 eV above
    the lowest; DFT puts that geometry 390 eV above, with forces of 600 eV/Å)."""
    from ase.data import covalent_radii
    from ase.neighborlist import neighbor_list

    radii = covalent_radii[atoms.numbers]
    i, j, d = neighbor_list("ijd", atoms, float(2 * OVERLAP * radii.max()))
    return bool(np.any(d < OVERLAP * (radii[i] + radii[j])))


def same_geometry(a, b) -> bool:
    """Whether two results (``CalcResult``) end at the same atomic positions (a single
    point at another calculation's final geometry)."""
    pa, pb = a.atoms().positions, b.atoms().positions
    return pa.shape == pb.shape and bool(np.allclose(pa, pb, atol=1e-6))


def _done(row: StoredCalc | None) -> bool:
    """Whether a store row holds a finished result."""
    return row is not None and row.status == "done" and row.result is not None


def load(workdir: str | Path, store: str | None = None) -> WorkData:
    """Read ``workdir``'s plan and the store rows of its calculations."""
    workdir = Path(workdir)
    plan_file = workdir / "plan.json"
    if not plan_file.is_file():
        raise FileNotFoundError(f"{plan_file} not found: is {workdir} a facetflow work "
                                "directory (made by facetflow run)?")
    plan = read_plan(plan_file)
    rs = ResultStore(store or workdir_store_url(workdir))
    wanted = set(plan.nodes)
    results = {h: s for h, s in rs.all().items() if h in wanted}
    problems = [{"calc_hash": p.calc_hash, "reason": p.reason} for p in rs.problems
                if p.calc_hash in wanted]
    return WorkData(workdir, plan, results, problems)


def energies(workdir: str | Path | WorkData) -> pd.DataFrame:
    """One row per structure: id, role, facet, ligand, theta, variant, n_atoms, area (Å^2),
    n_faces, calculation hash (of the lowest start), number of starts and of those done,
    their energy spread (eV), status, energy (eV), converged, steps, error."""
    wd = workdir if isinstance(workdir, WorkData) else load(workdir)
    rows = []
    for sid, rec in wd.records.items():
        got = wd.stored(sid)
        res = got.result if got is not None else None
        done = [e for e in wd.start_energies(sid) if e is not None]
        rows.append({
            "id": sid, "role": str(rec.role), "facet": rec.facet_label,
            "ligand": rec.ligand, "theta": rec.theta, "variant": rec.variant,
            "n_atoms": rec.n_atoms, "area_A2": rec.area_A2, "n_faces": rec.n_faces,
            "calc": got.calc_hash if got is not None else rec.calc,
            "starts": len(wd.starts(sid)), "starts_done": len(done),
            # highest minus lowest energy over the starts: how much the start decided
            "start_spread_eV": max(done) - min(done) if len(done) > 1 else None,
            "status": got.status if got is not None else "missing",
            "energy_eV": res.energy if res is not None else None,
            "converged": res.converged if res is not None else None,
            "steps": res.steps if res is not None else None,
            "error": got.error if got is not None else None,
        })
    return pd.DataFrame(rows)
