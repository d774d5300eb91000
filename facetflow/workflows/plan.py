"""The plan: a directed acyclic graph of calculations made from a study's structures.

Nodes are calculations; each has a content hash of

    (canonical initial structure, engine, stage, task, purpose, settings that change the
     result, engine/model identity, the hashes of the calculations it takes input from)

so two identical calculations (across facets, variants or studies sharing a store) have
one hash and are computed once, and a changed coverage or setting changes exactly the
hashes downstream of it. Edges (inputs) are:

* ``lattice_from``: the engine's relaxed core bulk feeds every slab. The slab (built at
  the study's lattice parameter) is scaled uniformly by s = (V_relaxed / V_built)^(1/3)
  of the core's primitive cell (exact for cubic lattices; for hexagonal ones the c/a
  change is neglected), so slab and bulk reference share one lattice.
* ``start_from``: a warm start. With a DFT engine and ``prerelax: mlip`` the DFT
  relaxation starts from the ML pre-relaxation of the same structure. A structure that
  differs from its ligand arrangement by one local change (a variant: one ligand
  replaced; a binding structure: one ligand removed or one growth species added) starts
  from that arrangement's relaxed geometry: atoms that match (same element, same
  position up to the uniform shift that re-centring introduced) take their parent's
  relaxation displacement, new atoms that of the nearest parent atom, removed ones
  included (an F built at a carboxylate O's place follows that O; measured on the paper
  study's variants: 5-15 % fewer steps than following the nearest kept atom). Ligand
  arrangements (and capped slabs) start from the builder's guess, not from the bare
  slab's relaxation: ligands change the whole surface, and the bare surface's relaxation
  is a poor start that can trap the relaxation in a much higher minimum (measured with
  CHGNet on the paper's {100} slab at full acetate coverage: 16 eV above the relaxation
  from the guess, "converged" in 14 steps).

* ``start_alternatives``: with several starts per structure (``workflow.starts``), a
  structure warm-started from another (or a DFT relaxation after ML pre-relaxations)
  depends on all of that structure's starts and begins from the lowest-energy one. The
  starts j >= 1 themselves take only the lattice as input: they begin from the builder's
  guess perturbed as ``structures.perturb`` describes.

The final ``analysis`` step is not a calculation; it is added when the plan is compiled
into a workflow.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
from ase import Atoms

from facetflow.engines.base import (
    atoms_to_dict,
    dict_to_atoms,
    purpose_of,
    settings_for,
    structure_hash,
)
from facetflow.jsonfile import write_json_atomic
from facetflow.structures.catalog import StructureRecord
from facetflow.structures.periodic import in_plane_image
from facetflow.study import Study

PLAN_VERSION = 1
# settings that change how fast or where a calculation runs, not its result
NON_PHYSICAL_SETTINGS = frozenset({"threads", "workers", "device", "command", "batch_size",
                                   "batch_atoms", "nprocs", "mpi", "timeout", "scratch",
                                   "pseudo_dir"})
MATCH_TOL = 0.05  # Å, for matching atoms between a structure and its parent
WARM_START_RULE = 2  # in the hash of warm-started calculations: 2 = new atoms follow the
# nearest parent atom (removed ones included); 1 (before) = the nearest kept atom
PERTURB_RULE = 1  # in the hash of perturbed starts: structures.perturb as first written
MIN_MATCHED = 0.5  # fraction of atoms that must match for a warm start
WARM_ROLES = ("variant", "binding")  # one local change from their parent: warm-started


@dataclass
class Calculation:
    """One node of the plan."""

    hash: str
    key: str  # readable: the first structure id, "@prerelax" for a pre-relaxation
    labels: list[str]  # every structure id whose energy this calculation gives
    engine: str
    stage: str  # "final" | "prerelax"
    task: str  # "relax" | "single"
    purpose: str  # "bulk" | "slab" | "molecule"
    settings: dict
    identity: str
    structure: dict  # the initial structure as built (atoms_to_dict)
    structure_hash: str
    lattice_from: str | None = None
    lattice_volume: float | None = None  # Å^3, primitive cell volume the slab was built at
    start_from: str | None = None
    start_map: list[int] | None = None  # child atom -> parent atom index (-1: new atom)
    # the other starts of the structure start_from belongs to: the start is taken from
    # the lowest-energy one of start_from and these, once all are computed
    start_alternatives: list[str] = field(default_factory=list)
    perturb: dict | None = None  # start j >= 1: perturbed_start's seed, rotation, rattle
    depth: int = 0

    @property
    def inputs(self) -> list[str]:
        return [h for h in (self.lattice_from, self.start_from) if h] + list(
            self.start_alternatives)

    def atoms(self) -> Atoms:
        """The initial structure, checked against its hash (a corrupted plan is refused)."""
        atoms = dict_to_atoms(self.structure)
        if structure_hash(atoms) != self.structure_hash:
            raise ValueError(f"structure of {self.key} does not match its hash: the plan file "
                             "was changed or corrupted; run the study again to rebuild it")
        return atoms


@dataclass
class Plan:
    study: str
    engine: str
    nodes: dict[str, Calculation]  # by hash, in topological order
    records: dict[str, dict]  # structure id -> manifest metadata + "calc" hash
    version: int = PLAN_VERSION
    raw_count: int = 0  # calculations before deduplication
    notes: list[str] = field(default_factory=list)

    def order(self) -> list[str]:
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

    def to_dict(self) -> dict:
        return {"version": self.version, "study": self.study, "engine": self.engine,
                "raw_count": self.raw_count, "notes": self.notes,
                "nodes": [asdict(n) for n in self.nodes.values()], "records": self.records}

    def write(self, path: Path) -> None:
        """Write atomically (a reader never sees half a plan)."""
        write_json_atomic(path, self.to_dict(), indent=None)

    @classmethod
    def from_dict(cls, d: dict) -> Plan:
        if d.get("version") != PLAN_VERSION:
            raise ValueError(f"plan version {d.get('version')} is not {PLAN_VERSION}")
        nodes = {n["hash"]: Calculation(**n) for n in d["nodes"]}
        return cls(study=d["study"], engine=d["engine"], nodes=nodes, records=d["records"],
                   raw_count=d.get("raw_count", 0), notes=d.get("notes", []))


def read_plan(path: Path) -> Plan:
    return _read_plan_cached(str(Path(path).resolve()), Path(path).stat().st_mtime_ns)


@cache
def _read_plan_cached(path: str, _mtime: int) -> Plan:
    return Plan.from_dict(json.loads(Path(path).read_text()))


def physical_settings(settings: dict) -> dict:
    return {k: v for k, v in sorted(settings.items()) if k not in NON_PHYSICAL_SETTINGS}


def calc_hash(structure_sha: str, engine: str, stage: str, task: str, purpose: str,
              settings: dict, identity: str, inputs: dict[str, object]) -> str:
    payload = {"structure": structure_sha, "engine": engine, "stage": stage, "task": task,
               "purpose": purpose, "settings": physical_settings(settings),
               "identity": identity, "inputs": inputs}
    text = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@cache
def engine_identity(engine: str, model: str | None = None) -> str:
    """What, besides settings, decides an engine's numbers: code and model versions."""
    from facetflow.engines import get_engine

    eng = get_engine(engine)
    ident = getattr(eng, "identity", None)
    if ident is not None:
        return ident(model)
    return engine


def build_plan(study: Study, records: list[StructureRecord], engine: str | None = None,
               settings: dict | None = None) -> Plan:
    """The plan of ``study`` for its structures ``records`` (from ``build_catalog``).

    ``engine`` / ``settings`` override the study's engine section; with another engine
    than the study's, the study's ``engine.settings`` (checked for its own engine) are
    not applied, only that engine's presets.

    With ``workflow.starts`` k > 1, a structure with adsorbates gets k calculations
    (k pre-relaxations and one DFT relaxation with ``prerelax``): start 0 as with one
    start, start j its perturbed guess (key ``<id>#j``, the perturbation in its hash, so
    raising k keeps the starts already computed). Its record lists them under
    ``starts``; analysis takes the lowest. With a pre-relaxation the k starts are ML
    pre-relaxations (record key ``prerelax_starts``) and one final calculation follows
    from the lowest of them.
    """
    engine = engine or study.engine.name
    if settings is None:  # the study's settings are for the study's own engine only
        settings = study.engine.settings if engine == study.engine.name else {}
    wf = study.workflow
    prerelax = study.engine.prerelax if engine != "mlip" else None
    by_id = {r.id: r for r in records}
    nodes: dict[str, Calculation] = {}
    final_of: dict[str, str] = {}  # structure id -> hash of its final calculation
    pre_of: dict[str, str] = {}  # structure id -> hash of its pre-relaxation
    others_of: dict[str, list[str]] = {}  # structure id -> its starts j >= 1 (final or pre)
    raw = 0

    core_ref = next((r for r in records if r.reference_key == f"bulk:{study.core.material}"),
                    None)

    def add(node: Calculation) -> str:
        if node.hash in nodes:
            nodes[node.hash].labels.append(node.labels[0])
        else:
            nodes[node.hash] = node
        return node.hash

    def make(rec: StructureRecord, eng: str, stage: str, lattice_from: str | None,
             start_from: str | None, start_map: list[int] | None,
             alternatives: list[str] | None = None, start: int = 0) -> Calculation:
        purpose = _purpose(rec)
        s = settings_for(eng, purpose, settings if eng == engine else None)
        ident = engine_identity(eng, s.get("model"))
        sha = structure_hash(rec.atoms)
        task = "single" if (stage == "final" and prerelax and rec.role != "reference"
                            and study.engine.final_task == "single") else "relax"
        inputs: dict = {"lattice_from": lattice_from, "start_from": start_from}
        if start_map is not None:  # how the start is made decides the result
            inputs["warm_start_rule"] = WARM_START_RULE
        if alternatives:
            inputs["start_alternatives"] = alternatives
        perturb = _perturbation(wf, sha, start) if start else None
        if perturb:
            inputs["perturb"] = {**perturb, "rule": PERTURB_RULE}
        h = calc_hash(sha, eng, stage, task, purpose, s, ident, inputs)
        feeds = [i for i in (lattice_from, start_from, *(alternatives or [])) if i]
        depth = 1 + max([nodes[i].depth for i in feeds] or [-1])
        vol = _primitive_volume(core_ref) if lattice_from else None
        key = rec.id + ("@prerelax" if stage == "prerelax" else "") + (
            f"#{start}" if start else "")
        return Calculation(hash=h, key=key, labels=[rec.id], engine=eng, stage=stage,
                           task=task, purpose=purpose, settings=s, identity=ident,
                           structure=atoms_to_dict(rec.atoms), structure_hash=sha,
                           lattice_from=lattice_from, lattice_volume=vol,
                           start_from=start_from, start_map=start_map,
                           start_alternatives=list(alternatives or []), perturb=perturb,
                           depth=depth)

    ordered = sorted(records, key=lambda r: (_stage_rank(r, core_ref), _generation(r, by_id)))
    for rec in ordered:
        n_starts = wf.starts if rec.role != "reference" and _has_adsorbates(rec) else 1
        lattice = None
        if rec.role != "reference" and wf.lattice_from_bulk and core_ref is not None:
            lattice = final_of[core_ref.id]
        parent, mapping = (_warm_parent(rec, by_id) if wf.warm_start and rec.role in WARM_ROLES
                           else (None, None))
        if prerelax and rec.role != "reference":
            raw += n_starts + 1
            pre_start = pre_of.get(parent) if parent else None
            pre_of[rec.id] = add(make(rec, prerelax, "prerelax", lattice, pre_start,
                                      mapping if pre_start else None,
                                      others_of.get(parent) if pre_start else None))
            others_of[rec.id] = [add(make(rec, prerelax, "prerelax", lattice, None, None,
                                          start=j)) for j in range(1, n_starts)]
            final_of[rec.id] = add(make(rec, engine, "final", lattice, pre_of[rec.id], None,
                                        others_of[rec.id]))
        else:
            raw += n_starts
            start = final_of.get(parent) if parent else None
            final_of[rec.id] = add(make(rec, engine, "final", lattice, start,
                                        mapping if start else None,
                                        others_of.get(parent) if start else None))
            others_of[rec.id] = [add(make(rec, engine, "final", lattice, None, None,
                                          start=j)) for j in range(1, n_starts)]
    ordered_nodes = dict(sorted(nodes.items(), key=lambda kv: kv[1].depth))
    meta = {}
    for rec in records:
        entry = rec.manifest_entry(f"structures/{rec.id}.extxyz")
        entry.update(calc=final_of[rec.id], reference_key=rec.reference_key,
                     counts=_counts(rec.atoms))
        if others_of.get(rec.id):  # several final calculations, or ML pre-relaxations
            entry["prerelax_starts" if prerelax else "starts"] = [
                pre_of[rec.id] if prerelax else final_of[rec.id], *others_of[rec.id]]
        meta[rec.id] = entry
    return Plan(study=study.name, engine=engine, nodes=ordered_nodes, records=meta,
                raw_count=raw)


def _has_adsorbates(rec: StructureRecord) -> bool:
    """Whether ``rec`` carries ligands or additives (atoms with a ``ligand_id`` >= 0; an
    added growth species alone does not count): what several starts are for."""
    lid = rec.atoms.arrays.get("ligand_id")
    return lid is not None and bool((np.asarray(lid) >= 0).any())


def _perturbation(wf, structure_sha: str, start: int) -> dict:
    """How start ``start`` >= 1 of a structure is perturbed: a seed from the structure's
    hash and the start's number (reproducible, different for every start), and the
    study's amplitudes."""
    seed = int(hashlib.sha256(f"{structure_sha}:{start}".encode()).hexdigest()[:15], 16)
    return {"seed": seed, "rotation": float(wf.start_rotation),
            "rattle": float(wf.start_rattle)}


def _purpose(rec: StructureRecord) -> str:
    if rec.role != "reference":
        return "slab"
    if rec.reference_key and rec.reference_key.startswith("bulk:"):
        return "bulk"
    return purpose_of(rec.atoms)


def _counts(atoms: Atoms) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in atoms.get_chemical_symbols():
        out[s] = out.get(s, 0) + 1
    return out


def _stage_rank(rec: StructureRecord, core_ref: StructureRecord | None) -> int:
    return 0 if rec is core_ref else (1 if rec.role == "reference" else 2)


def _generation(rec: StructureRecord, by_id: dict[str, StructureRecord]) -> int:
    n, seen = 0, set()
    while rec.parent and rec.parent in by_id and rec.id not in seen:
        seen.add(rec.id)
        rec = by_id[rec.parent]
        n += 1
    return n


def _primitive_volume(rec: StructureRecord) -> float:
    return float(abs(rec.atoms.get_volume()))


def _warm_parent(rec: StructureRecord, by_id: dict[str, StructureRecord]
                 ) -> tuple[str | None, list[int] | None]:
    """The nearest ancestor whose relaxed geometry can seed ``rec``, and the atom map.
    Only ligand arrangements (and structures made from them) seed: the bare or capped
    slab's relaxation is the start that traps (module docstring)."""
    seen = set()
    pid = rec.parent
    while (pid and pid in by_id and pid not in seen
           and by_id[pid].role in ("ligands", *WARM_ROLES)):
        seen.add(pid)
        mapping = match_atoms(rec.atoms, by_id[pid].atoms)
        if mapping is not None:
            return pid, mapping
        pid = by_id[pid].parent
    return None, None


def match_atoms(child: Atoms, parent: Atoms, tol: float = MATCH_TOL) -> list[int] | None:
    """child index -> parent index for atoms of the same element at the same place up to
    one uniform shift (found from the first atoms, which structures built by decoration
    share); -1 for atoms the parent lacks. None when fewer than ``MIN_MATCHED`` of the
    parent's atoms are found or the cells differ."""
    if len(child.cell) != 3 or not np.allclose(child.cell[:2], parent.cell[:2], atol=1e-4):
        return None
    n = min(len(child), len(parent))
    same = np.array(child.get_chemical_symbols()[:n]) == np.array(
        parent.get_chemical_symbols()[:n])
    if not same.any():
        return None
    shift = np.median(child.positions[:n][same] - parent.positions[:n][same], axis=0)
    moved = parent.positions + shift
    cell = child.cell
    inv = np.linalg.inv(cell[:])
    csym = child.get_chemical_symbols()
    psym = np.array(parent.get_chemical_symbols())
    mapping: list[int] = []
    used = set()
    for i, pos in enumerate(child.positions):
        cand = np.flatnonzero(psym == csym[i])
        if len(cand) == 0:
            mapping.append(-1)
            continue
        frac = (moved[cand] - pos) @ inv
        frac[:, :2] -= np.round(frac[:, :2])
        dist = np.linalg.norm(frac @ cell[:], axis=1)
        k = int(np.argmin(dist))
        j = int(cand[k])
        if dist[k] < tol and j not in used:
            mapping.append(j)
            used.add(j)
        else:
            mapping.append(-1)
    if len(used) < MIN_MATCHED * len(parent):
        return None
    return mapping


def scale_to_lattice(atoms: Atoms, built_volume: float, relaxed_volume: float) -> Atoms:
    """``atoms`` scaled uniformly by (V_relaxed / V_built)^(1/3) (cell and positions)."""
    out = atoms.copy()
    s = (relaxed_volume / built_volume) ** (1.0 / 3.0)
    out.set_cell(out.cell[:] * s, scale_atoms=True)
    return out


def warm_start(child: Atoms, parent_initial: Atoms, parent_final: Atoms,
               mapping: list[int]) -> Atoms:
    """``child`` moved by its parent's relaxation: matched atoms take their parent atom's
    displacement (minimum image); a new atom takes that of the parent atom nearest to it
    in the parent's built geometry, removed atoms included, so an F built where a
    carboxylate O was follows that O to its relaxed place (WARM_START_RULE)."""
    cell = parent_initial.cell[:]

    def image(v: np.ndarray) -> np.ndarray:
        return in_plane_image(v, cell) if parent_initial.cell.rank == 3 else v

    d = image(parent_final.positions - parent_initial.positions)
    out = child.copy()
    m = np.asarray(mapping)
    matched = np.flatnonzero(m >= 0)
    if len(matched) == 0:
        return out
    disp = np.zeros((len(child), 3))
    disp[matched] = d[m[matched]]
    # the uniform shift between child and parent (re-centring), as in match_atoms
    shift = np.median(image(child.positions[matched] - parent_initial.positions[m[matched]]),
                      axis=0)
    placed = parent_initial.positions + shift
    for i in np.flatnonzero(m < 0):
        dist = np.linalg.norm(image(placed - child.positions[i]), axis=1)
        disp[i] = d[int(np.argmin(dist))]
    out.positions = out.positions + disp
    return out
