"""Building the plan: a directed acyclic graph of calculations made from a study's structures.

Nodes are ``records.plan.Calculation`` (content hashes: see ``records.plan``). Edges
(inputs) are:

* ``lattice_from``: the engine's relaxed core bulk feeds every slab; the slab (built at
  the study's lattice parameter) is scaled to that lattice (``geometry.scale_to_lattice``).
* ``start_from``: a warm start. With a DFT engine and ``prerelax: mlip`` the DFT
  relaxation starts from the ML pre-relaxation of the same structure. A structure that
  differs from its ligand arrangement by one local change (a variant: one ligand
  replaced; a binding structure: one ligand removed or one growth species added) starts
  from that arrangement's relaxed geometry (``geometry.warm_start``; measured on the
  paper study's variants: 5-15 % fewer steps than following the nearest kept atom).
  Ligand arrangements (and capped slabs) start from the builder's guess, not from the
  bare slab's relaxation: ligands change the whole surface, and the bare surface's
  relaxation is a poor start that can trap the relaxation in a much higher minimum
  (measured with CHGNet on the paper's {100} slab at full acetate coverage: 16 eV above
  the relaxation from the guess, "converged" in 14 steps).
* ``start_alternatives``: with several starts per structure (``workflow.starts``), a
  structure warm-started from another (or a DFT relaxation after ML pre-relaxations)
  depends on all of that structure's starts and begins from the lowest-energy one. The
  starts j >= 1 themselves take only the lattice as input: they begin from the builder's
  guess perturbed as ``structures.perturb`` describes. With ``engine.dft_candidates`` m,
  a pre-relaxed structure gets m final calculations, candidate r starting from the r-th
  lowest of its ML starts (``start_rank`` r, in the hash when r > 0); its energy is the
  lowest of the m.

The final analysis step is not a calculation; it is added when the plan is compiled
into a workflow.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

import numpy as np

from facetflow.engines import get_engine
from facetflow.engines.presets import purpose_of, settings_for
from facetflow.records.calc import atoms_to_dict, structure_hash
from facetflow.records.electronic import ELECTRONIC_ENGINES
from facetflow.records.plan import Calculation, Plan, PlannedStructure, calc_hash
from facetflow.records.structure import Role
from facetflow.records.study import Study, WorkflowSpec
from facetflow.structures.built import BuiltStructure
from facetflow.workflows.geometry import WARM_START_RULE, match_atoms

PERTURB_RULE = 1  # in the hash of perturbed starts: structures.perturb as first written
WARM_ROLES = (Role.VARIANT, Role.BINDING)  # one local change from their parent: warm-started


@dataclass(frozen=True)
class PlanContext:
    """What every node of one plan shares."""

    workflow: WorkflowSpec
    engine: str  # the engine of the final calculations
    settings: dict  # overrides of ``engine``'s presets (not applied to the pre-relaxer)
    prerelax: str | None  # the pre-relaxing engine (None: no pre-relaxation)
    prerelax_settings: dict  # overrides of the pre-relaxer's presets
    single_final: bool  # final calculations after a pre-relaxation are single points
    candidates: int  # final calculations from the m lowest ML minima (engine.dft_candidates)
    frames: tuple[int, ...]  # engine single points after n ML steps (engine.dft_frames)
    core_ref: BuiltStructure | None  # the core bulk reference: its lattice feeds slabs
    electronic: frozenset[str] = frozenset()  # roles whose final calculation stores the
    # electronic structure (settings ``electronic: true``; absent otherwise, so the
    # hashes of plans without it are unchanged)


@dataclass(frozen=True)
class Start:
    """Where a calculation starts: its input hashes and how they make the start."""

    lattice_from: str | None = None
    start_from: str | None = None
    start_map: list[int] | None = None  # child atom -> parent atom (a warm start)
    alternatives: list[str] = field(default_factory=list)
    index: int = 0  # start j >= 1: the builder's guess perturbed
    rank: int = 0  # start from the rank-th lowest of start_from and alternatives (0: lowest)
    prune_against: str | None = None  # start 0 of the structure (workflow.prune_starts)


@dataclass
class PlanGraph:
    """The plan under construction: nodes by hash and each structure's calculations."""

    nodes: dict[str, Calculation] = field(default_factory=dict)
    final_of: dict[str, str] = field(default_factory=dict)  # id -> final calculation
    pre_of: dict[str, str] = field(default_factory=dict)  # id -> its pre-relaxation
    others_of: dict[str, list[str]] = field(default_factory=dict)  # id -> starts j >= 1
    candidates_of: dict[str, list[str]] = field(default_factory=dict)  # id -> DFT candidates
    committee_of: dict[str, dict[str, str]] = field(default_factory=dict)  # id -> model -> hash
    frames_of: dict[str, dict[str, str]] = field(default_factory=dict)  # id -> n -> hash
    raw: int = 0  # calculations before deduplication

    def add(self, node: Calculation) -> str:
        """Add ``node``; an identical calculation already there gains its label."""
        if node.hash in self.nodes:
            self.nodes[node.hash].labels.append(node.labels[0])
        else:
            self.nodes[node.hash] = node
        return node.hash


def build_plan(study: Study, records: list[BuiltStructure], engine: str | None = None,
               settings: dict | None = None) -> Plan:
    """The plan of ``study`` for its structures ``records`` (from ``build_catalog``).

    ``engine`` / ``settings`` override the study's engine section; with another engine
    than the study's, the study's ``engine.settings`` (checked for its own engine) are
    not applied, only that engine's presets.

    With ``workflow.starts`` k > 1, a structure with adsorbates gets k calculations
    (k pre-relaxations and one DFT relaxation with ``prerelax``): start 0 as with one
    start, start j its perturbed guess (key ``<id>#j``, the perturbation in its hash, so
    raising k keeps the starts already computed); a warm-started structure's start j
    begins from the j-th lowest of its parent's starts instead. Its record lists them under
    ``starts``; analysis takes the lowest. With a pre-relaxation the k starts are ML
    pre-relaxations (record key ``prerelax_starts``) and one final calculation follows
    from the lowest of them.
    """
    engine = engine or study.engine.name
    if settings is None:  # the study's settings are for the study's own engine only
        settings = study.engine.settings if engine == study.engine.name else {}
    ctx = PlanContext(
        workflow=study.workflow, engine=engine, settings=settings,
        # an ML pre-relaxation for the study's own engine (with ``--engine mlip`` over a
        # DFT study it would only repeat the ML relaxation)
        prerelax=study.engine.prerelax if engine == study.engine.name else None,
        prerelax_settings=study.engine.prerelax_settings,
        single_final=study.engine.final_task == "single",
        candidates=study.engine.dft_candidates, frames=tuple(study.engine.dft_frames),
        core_ref=next((r for r in records
                       if r.record.reference == f"bulk:{study.core.material}"), None),
        electronic=_electronic_roles(study, engine))
    by_id = {r.id: r for r in records}
    graph = PlanGraph()
    for rec in sorted(records, key=lambda r: (_stage_rank(r, ctx.core_ref),
                                              _generation(r, by_id))):
        _plan_structure(ctx, graph, rec, by_id)
    nodes = dict(sorted(graph.nodes.items(), key=lambda kv: kv[1].depth))
    return Plan(study=study.name, engine=engine, nodes=nodes,
                records=_plan_records(ctx, graph, records), raw_count=graph.raw)


def _plan_structure(ctx: PlanContext, graph: PlanGraph, rec: BuiltStructure,
                    by_id: dict[str, BuiltStructure]) -> None:
    """Add the calculations of one structure: its starts (ML pre-relaxations first when
    the plan pre-relaxes) and its final calculation."""
    wf = ctx.workflow
    slab = rec.record.role != Role.REFERENCE
    n_starts = wf.starts if slab and _has_adsorbates(rec) else 1
    lattice = None
    if slab and wf.lattice_from_bulk and ctx.core_ref is not None:
        lattice = graph.final_of[ctx.core_ref.id]
    parent, mapping = (_warm_parent(rec, by_id)
                       if wf.warm_start and rec.record.role in WARM_ROLES
                       else (None, None))
    prerelaxed = ctx.prerelax is not None and slab
    eng, stage = (ctx.prerelax, "prerelax") if prerelaxed else (ctx.engine, "final")
    source = (graph.pre_of if prerelaxed else graph.final_of).get(parent) if parent else None
    built = _Built(rec, atoms_to_dict(rec.atoms), structure_hash(rec.atoms))
    alternatives = list(graph.others_of.get(parent) or []) if source else []
    first = graph.add(_node(ctx, graph, built, eng, stage, Start(
        lattice, source, mapping if source else None, alternatives), pre=prerelaxed))
    prune = first if wf.prune_starts is not None and eng == "mlip" else None
    others = [graph.add(_node(ctx, graph, built, eng, stage, replace(
        _other_start(lattice, source, mapping, alternatives, j), prune_against=prune),
        pre=prerelaxed)) for j in range(1, n_starts)]
    graph.others_of[rec.id] = others
    graph.raw += n_starts + (1 if prerelaxed else 0)
    if prerelaxed:
        graph.pre_of[rec.id] = first
        n_final = min(ctx.candidates, n_starts)
        finals = [graph.add(_node(ctx, graph, built, ctx.engine, "final",
                                  Start(lattice, first, None, others, rank=r)))
                  for r in range(n_final)]
        graph.raw += n_final - 1
        graph.final_of[rec.id] = finals[0]
        if n_final > 1:
            graph.candidates_of[rec.id] = finals
        _plan_frames(ctx, graph, built, Start(lattice, source, mapping if source else None,
                                              alternatives))
    else:
        graph.final_of[rec.id] = first
    _plan_committee(ctx, graph, built, graph.candidates_of.get(rec.id, [])[1:]
                    if prerelaxed else others)


def _plan_frames(ctx: PlanContext, graph: PlanGraph, built: _Built, start: Start) -> None:
    """``engine.dft_frames``: for each n, the structure's first ML pre-relaxation again,
    stopped after n optimizer steps (from the same ``start``), and the engine's single
    point at the geometry it reached."""
    frames = {}
    for n in ctx.frames:
        ml = graph.add(_node(ctx, graph, built, ctx.prerelax, "frame", start, overrides={
            **ctx.prerelax_settings, "max_steps": n, "require_convergence": False},
            pre=True))
        frames[str(n)] = graph.add(_node(ctx, graph, built, ctx.engine, "frame",
                                         Start(start.lattice_from, ml)))
        graph.raw += 2
    if frames:
        graph.frames_of[built.rec.id] = frames


def _other_start(lattice: str | None, source: str | None, mapping: list[int] | None,
                 alternatives: list[str], j: int) -> Start:
    """Start j >= 1 of a structure: warm-started from the j-th lowest of its parent's
    starts where the parent has that many (a local minimum of the parent already, so a
    variant's other starts keep the parent's configurations and need few steps), else
    the builder's guess perturbed (``_perturbation``)."""
    if source is not None and j <= len(alternatives):
        return Start(lattice, source, mapping, alternatives, index=j, rank=j)
    return Start(lattice, index=j)


def _plan_committee(ctx: PlanContext, graph: PlanGraph, built: _Built,
                    alternatives: list[str]) -> None:
    """One single point per committee model (``workflow.committee``) at the final
    geometry of the structure (of its lowest start, ``alternatives`` being the others);
    the final engine's own model is not repeated."""
    rec = built.rec
    own = (settings_for("mlip", structure_purpose(rec), ctx.settings).get("model")
           if ctx.engine == "mlip" else None)
    found = {}
    for model in ctx.workflow.committee:
        if model == own:
            continue
        start = Start(None, graph.final_of[rec.id], None, list(alternatives))
        found[model] = graph.add(_node(ctx, graph, built, "mlip", "committee", start,
                                       overrides={"model": model}))
        graph.raw += 1
    graph.committee_of[rec.id] = found


@dataclass(frozen=True)
class _Built:
    """A structure as built, with its serialised form and canonical hash (made once)."""

    rec: BuiltStructure
    structure: dict
    sha: str


def _node(ctx: PlanContext, graph: PlanGraph, built: _Built, eng: str, stage: str,
          start: Start, overrides: dict | None = None, pre: bool = False) -> Calculation:
    """The calculation of ``built`` on engine ``eng`` from ``start``, with its hash
    (``overrides``: settings of a committee model's single point or of an ML frame;
    ``pre``: a calculation of the pre-relaxer, which may be the same engine as the final
    one with other settings, e.g. one ML model relaxing and another computing energies)."""
    rec = built.rec
    purpose = structure_purpose(rec)
    s = settings_for(eng, purpose, overrides if overrides is not None
                     else ctx.prerelax_settings if pre else ctx.settings)
    if stage == "final" and rec.record.role in ctx.electronic:
        s = {**s, "electronic": True}
    ident = get_engine(eng).identity(s).key
    task = "single" if stage == "committee" or (stage == "frame" and not pre) or (
        stage == "final" and ctx.prerelax and rec.record.role != Role.REFERENCE
        and ctx.single_final) else "relax"
    perturb = (_perturbation(ctx.workflow, built.sha, start.index)
               if start.index and start.start_from is None else None)
    prune = (ctx.workflow.prune_starts.model_dump()
             if start.prune_against and ctx.workflow.prune_starts else None)
    h = calc_hash(built.sha, eng, stage, task, purpose, s, ident,
                  _hashed_inputs(start, perturb, prune))
    feeds = [i for i in (start.lattice_from, start.start_from, *start.alternatives,
                         start.prune_against) if i]
    key = rec.id + ("@prerelax" if stage == "prerelax" else "") + (
        _frame_key(graph, pre, s, start) if stage == "frame" else "") + (
        f"@{overrides['model']}" if stage == "committee" and overrides else "") + (
        f"#{start.index}" if start.index else "") + (
        f"~{start.rank}" if start.rank and not start.index else "")
    return Calculation(
        hash=h, key=key, labels=[rec.id], engine=eng, stage=stage, task=task,
        purpose=purpose, settings=s, identity=ident, structure=built.structure,
        structure_hash=built.sha, lattice_from=start.lattice_from,
        lattice_volume=(_primitive_volume(ctx.core_ref) if start.lattice_from else None),
        start_from=start.start_from, start_map=start.start_map,
        start_alternatives=list(start.alternatives), start_rank=start.rank, perturb=perturb,
        prune_against=start.prune_against if prune else None, prune=prune,
        depth=1 + max([graph.nodes[i].depth for i in feeds] or [-1]))


def _frame_key(graph: PlanGraph, pre: bool, settings: dict, start: Start) -> str:
    """Key suffix of a frame: '@ml<n>' for the ML relaxation stopped after n steps
    (``pre``), '@frame<n>' for the engine's single point at its geometry."""
    if pre:
        return f"@ml{settings['max_steps']}"
    return f"@frame{graph.nodes[start.start_from].settings['max_steps']}"


def _electronic_roles(study: Study, engine: str) -> frozenset[str]:
    """The roles whose final calculations store an electronic structure (none unless the
    study asks for it and the final engine is one that can, ``ELECTRONIC_ENGINES``)."""
    spec = study.analysis.electronic_spec
    return (frozenset(spec.roles) if spec and engine in ELECTRONIC_ENGINES
            else frozenset())


def _hashed_inputs(start: Start, perturb: dict | None, prune: dict | None = None) -> dict:
    """The inputs part of a node's hash: input hashes and the rules that make the start."""
    inputs: dict = {"lattice_from": start.lattice_from, "start_from": start.start_from}
    if start.start_map is not None:  # how the start is made decides the result
        inputs["warm_start_rule"] = WARM_START_RULE
    if start.alternatives:
        inputs["start_alternatives"] = list(start.alternatives)
    if start.rank:  # the rank-th lowest alternative (0, the lowest, is not written)
        inputs["start_rank"] = start.rank
    if perturb:
        inputs["perturb"] = {**perturb, "rule": PERTURB_RULE}
    if prune:  # stopped early against start 0's minimum: its energy decides the result
        inputs["prune"] = {**prune, "against": start.prune_against}
    return inputs


def _plan_records(ctx: PlanContext, graph: PlanGraph, records: list[BuiltStructure]
                  ) -> dict[str, PlannedStructure]:
    """Structure id -> its record, the hash giving its energy and its starts."""
    out = {}
    for rec in records:
        others = graph.others_of.get(rec.id)
        starts: dict[str, list[str]] = {}
        if others:  # several final calculations, or ML pre-relaxations
            first = graph.pre_of[rec.id] if ctx.prerelax else graph.final_of[rec.id]
            starts["prerelax_starts" if ctx.prerelax else "starts"] = [first, *others]
        if rec.id in graph.candidates_of:  # DFT from each of the m lowest ML minima
            starts["starts"] = list(graph.candidates_of[rec.id])
        out[rec.id] = PlannedStructure(**dict(rec.record), calc=graph.final_of[rec.id],
                                       committee=graph.committee_of.get(rec.id) or {},
                                       frames=graph.frames_of.get(rec.id) or {},
                                       **starts)
    return out


def _has_adsorbates(rec: BuiltStructure) -> bool:
    """Whether ``rec`` carries ligands or additives (atoms with a ``ligand_id`` >= 0; an
    added growth species alone does not count): what several starts are for."""
    lid = rec.atoms.arrays.get("ligand_id")
    return lid is not None and bool((np.asarray(lid) >= 0).any())


def _perturbation(wf: WorkflowSpec, structure_sha: str, start: int) -> dict:
    """How start ``start`` >= 1 of a structure is perturbed: a seed from the structure's
    hash and the start's number (reproducible, different for every start), and the
    study's amplitudes (rotation in degrees, rattle in Å)."""
    seed = int(hashlib.sha256(f"{structure_sha}:{start}".encode()).hexdigest()[:15], 16)
    return {"seed": seed, "rotation": float(wf.start_rotation),
            "rattle": float(wf.start_rattle)}


def structure_purpose(rec: BuiltStructure) -> str:
    """The engine preset a structure runs under: ``bulk`` for the bulk references,
    ``slab`` for every slab, else guessed from the atoms (``molecule`` for a molecule)."""
    if rec.record.role != Role.REFERENCE:
        return "slab"
    if rec.record.reference and rec.record.reference.startswith("bulk:"):
        return "bulk"
    return purpose_of(rec.atoms)


def _stage_rank(rec: BuiltStructure, core_ref: BuiltStructure | None) -> int:
    return 0 if rec is core_ref else (1 if rec.record.role == Role.REFERENCE else 2)


def _generation(rec: BuiltStructure, by_id: dict[str, BuiltStructure]) -> int:
    n, seen = 0, set()
    while rec.record.parent and rec.record.parent in by_id and rec.id not in seen:
        seen.add(rec.id)
        rec = by_id[rec.record.parent]
        n += 1
    return n


def _primitive_volume(rec: BuiltStructure | None) -> float:
    """Volume of the core bulk's primitive cell as built, Å^3."""
    return float(abs(rec.atoms.get_volume()))


def _warm_parent(rec: BuiltStructure, by_id: dict[str, BuiltStructure]
                 ) -> tuple[str | None, list[int] | None]:
    """The nearest ancestor whose relaxed geometry can seed ``rec``, and the atom map.
    Only ligand arrangements (and structures made from them) seed: the bare or capped
    slab's relaxation is the start that traps (module docstring)."""
    seen = set()
    pid = rec.record.parent
    while (pid and pid in by_id and pid not in seen
           and by_id[pid].record.role in (Role.LIGANDS, *WARM_ROLES)):
        seen.add(pid)
        mapping = match_atoms(rec.atoms, by_id[pid].atoms)
        if mapping is not None:
            return pid, mapping
        pid = by_id[pid].record.parent
    return None, None
