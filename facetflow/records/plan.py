"""The plan of a study: calculation nodes, their content hashes, and ``plan.json``.

A node's content hash is the SHA-256 of

    (canonical initial structure, engine, stage, task, purpose, settings that change the
     result, engine/model identity, the hashes of the calculations it takes input from)

so two identical calculations have one hash and are computed once, and a changed setting
or input changes exactly the hashes downstream of it. ``workflows.plan`` builds the
nodes; this module holds their vocabulary and the one writer (``write_plan``) and one
reader (``read_plan``) of ``plan.json``. The document carries its schema name
(``PLAN_SCHEMA``); a plan written under another schema is refused with a message saying
how to rewrite it (a rerun of the study, which reuses every stored result).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from facetflow.jsonfile import write_json_atomic
from facetflow.records.structure import StructureRecord

PLAN_SCHEMA = "facetflow.plan/2"

# settings that change how fast or where a calculation runs, not its result
NON_PHYSICAL_SETTINGS = frozenset({
    "threads", "workers", "device", "command", "batch_size", "batch_atoms", "nprocs", "mpi",
    "timeout", "scratch", "pseudo_dir", "workdir", "walltime", "max_errors", "data_dir",
    "ld1_command"})


Optimum = dict[str, dict[str, str]]
"""Facet label -> swept ligand -> id of its arrangement at theta* (where the binding
structures of a two-stage study are built)."""


class PlanVersionError(ValueError):
    """``plan.json`` was written under another schema than this facetflow reads."""


class Calculation(BaseModel):
    """One node of the plan: a calculation, its inputs and its content hash."""

    model_config = ConfigDict(extra="forbid")

    hash: str = Field(description="content hash (SHA-256 hex, ``calc_hash``)")
    key: str = Field(description="readable name: the first structure id; '@prerelax' marks "
                     "an ML pre-relaxation, '#j' start j >= 1, '~r' DFT candidate r, "
                     "'@ml<n>' / '@frame<n>' a frame after n ML steps")
    labels: list[str] = Field(description="every structure id whose energy this gives")
    engine: str = Field(description="engine name (mlip, qe, cp2k, gpaw, vasp)")
    stage: Literal["final", "prerelax", "committee", "frame"] = Field(
        description="final, an ML pre-relaxation, a committee model's single point at "
                    "the final geometry, or a frame along the ML pre-relaxation "
                    "(``engine.dft_frames``: the ML relaxation stopped after n steps, "
                    "and the engine's single point there)")
    task: Literal["relax", "single"] = Field(description="relaxation or single point")
    purpose: Literal["bulk", "slab", "molecule"] = Field(
        description="which preset block of the engine's settings applies")
    settings: dict[str, Any] = Field(description="the engine settings the calculation runs "
                                     "with (units as the engine's settings document); "
                                     "``hashed_settings`` enter the hash")
    identity: str = Field(description="engine code and model versions (in the hash)")
    structure: dict[str, Any] = Field(description="initial structure as built (engines' "
                                      "atoms_to_dict: positions and cell in Å)")
    structure_hash: str = Field(description="canonical hash of ``structure``")
    lattice_from: str | None = Field(None, description="hash of the relaxed core bulk whose "
                                     "lattice the structure is scaled to")
    lattice_volume: float | None = Field(None, description="primitive-cell volume of the core "
                                         "bulk the structure was built at, Å^3")
    start_from: str | None = Field(None, description="hash of the calculation whose relaxed "
                                   "geometry is the start (warm start / pre-relaxation)")
    start_map: list[int] | None = Field(None, description="child atom -> parent atom index "
                                        "of a warm start (-1: an atom the parent lacks)")
    start_alternatives: list[str] = Field(default_factory=list, description="the other starts "
                                          "of start_from's structure: the lowest-energy one "
                                          "of start_from and these is taken")
    start_rank: int = Field(0, description="start from the start_rank-th lowest (0: the "
                            "lowest) of start_from and start_alternatives (DFT candidates)")
    perturb: dict[str, Any] | None = Field(None, description="start j >= 1: perturbed_start's "
                                           "seed, rotation (degrees) and rattle (Å)")
    prune_against: str | None = Field(None, description="start j >= 1 with "
                                      "workflow.prune_starts: hash of the structure's "
                                      "start 0, whose minimum energy sets the pruning limit")
    prune: dict[str, Any] | None = Field(None, description="the pruning rule: after_steps "
                                         "(optimizer steps) and above_eV (eV above start "
                                         "0's minimum)")
    depth: int = Field(0, description="longest chain of inputs below this node")

    @property
    def inputs(self) -> list[str]:
        """Hashes of the calculations this one takes input from."""
        return [h for h in (self.lattice_from, self.start_from) if h] + list(
            self.start_alternatives) + ([self.prune_against] if self.prune_against else [])

    @property
    def hashed_settings(self) -> dict[str, Any]:
        """The settings that enter the hash (``physical_settings``)."""
        return physical_settings(self.settings)


class PlannedStructure(StructureRecord):
    """A structure of the plan: its record and the calculations that give its energy."""

    calc: str = Field(description="hash of the calculation giving its energy (with several "
                      "starts: of start 0)")
    starts: list[str] = Field(default_factory=list, description="with several final starts "
                              "(workflow.starts): their hashes, start 0 first; the lowest "
                              "energy counts")
    prerelax_starts: list[str] = Field(default_factory=list, description="with several ML "
                                       "pre-relaxations before one final calculation: their "
                                       "hashes, start 0 first")
    committee: dict[str, str] = Field(default_factory=dict, description="committee model -> "
                                      "hash of its single point at the final geometry "
                                      "(workflow.committee)")
    frames: dict[str, str] = Field(default_factory=dict, description="ML optimizer steps "
                                   "n -> hash of the engine's single point after n steps of "
                                   "the ML pre-relaxation (engine.dft_frames; in no energy)")

    @property
    def energy_calcs(self) -> list[str]:
        """Hashes of the calculations whose lowest energy is the structure's (one, or one
        per start)."""
        return list(self.starts or [self.calc])


class Plan(BaseModel):
    """The calculations of a study (a DAG, nodes in topological order) and its structures."""

    study: str = Field(description="study name")
    engine: str = Field(description="the engine of the final calculations")
    nodes: dict[str, Calculation] = Field(description="by hash, in topological order")
    records: dict[str, PlannedStructure] = Field(description="structure id -> its record "
                                                 "and calculations, in catalog order")
    raw_count: int = Field(0, description="calculations before deduplication")
    notes: list[str] = Field(default_factory=list)
    optimum: Optimum | None = Field(None, description="the theta* arrangements the binding "
                                    "structures were built for (a two-stage study's second "
                                    "stage); None: no deferred binding structures in it")

    def order(self) -> list[str]:
        """Hashes in topological order."""
        return list(self.nodes)

    def levels(self) -> list[list[str]]:
        """Hashes grouped by depth (every input of a level is in an earlier level)."""
        out: dict[int, list[str]] = {}
        for h, n in self.nodes.items():
            out.setdefault(n.depth, []).append(h)
        return [out[d] for d in sorted(out)]

    def downstream(self, hashes: Iterable[str]) -> set[str]:
        """``hashes`` and every calculation that takes input from them."""
        found = set(hashes)
        for h, n in self.nodes.items():  # topological order
            if any(i in found for i in n.inputs):
                found.add(h)
        return found


def physical_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """``settings`` without those that only decide speed or place (sorted by name)."""
    return {k: v for k, v in sorted(settings.items()) if k not in NON_PHYSICAL_SETTINGS}


def calc_hash(structure_sha: str, engine: str, stage: str, task: str, purpose: str,
              settings: dict[str, Any], identity: str, inputs: dict[str, object]) -> str:
    """The content hash of a calculation (module docstring); ``inputs``: the input hashes
    and the rules that turn them into a start (warm-start rule, perturbation)."""
    payload = {"structure": structure_sha, "engine": engine, "stage": stage, "task": task,
               "purpose": purpose, "settings": physical_settings(settings),
               "identity": identity, "inputs": inputs}
    text = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def plan_document(plan: Plan) -> dict[str, Any]:
    """``plan`` as the JSON document ``plan.json`` holds (nodes as a list)."""
    return {"schema": PLAN_SCHEMA, "study": plan.study, "engine": plan.engine,
            "raw_count": plan.raw_count, "notes": plan.notes, "optimum": plan.optimum,
            "nodes": [n.model_dump() for n in plan.nodes.values()],
            "records": {k: r.model_dump(mode="json") for k, r in plan.records.items()}}


def write_plan(plan: Plan, path: Path) -> None:
    """Write ``plan.json`` atomically (a reader never sees half a plan)."""
    write_json_atomic(path, plan_document(plan), indent=None)


def plan_from_document(doc: dict[str, Any], source: str = "plan") -> Plan:
    """The plan in a ``plan.json`` document; ``PlanVersionError`` for another schema,
    ``ValueError`` for a document that is not a plan."""
    schema = doc.get("schema") or f"facetflow.plan/{doc.get('version', '?')}"
    if schema != PLAN_SCHEMA:
        raise PlanVersionError(
            f"{source} is a {schema} document; this facetflow reads {PLAN_SCHEMA}: run the "
            "study again to rewrite it (stored results are reused)")
    try:
        nodes = {n["hash"]: Calculation.model_validate(n) for n in doc["nodes"]}
        records = {k: PlannedStructure.model_validate(r) for k, r in doc["records"].items()}
        return Plan(study=doc["study"], engine=doc["engine"], nodes=nodes, records=records,
                    raw_count=doc.get("raw_count", 0), notes=doc.get("notes", []),
                    optimum=doc.get("optimum"))
    except (KeyError, TypeError, ValidationError) as exc:
        raise ValueError(f"{source} is not a valid {PLAN_SCHEMA} document: {exc}") from None


def read_plan(path: Path) -> Plan:
    """The plan in ``path`` (read once per file version: cached by modification time)."""
    path = Path(path).resolve()
    return _read_plan_cached(str(path), path.stat().st_mtime_ns)


@cache
def _read_plan_cached(path: str, _mtime: int) -> Plan:
    return plan_from_document(json.loads(Path(path).read_text()), path)
