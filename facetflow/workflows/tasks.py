"""Executing calculations of a plan: the work inside one Firework.

``run_calculations`` takes a batch of calculation hashes, skips those already in the store,
prepares each structure from its inputs (relaxed bulk lattice, warm start), runs the
engine (MLIP batches in one batched relaxation) and writes each result to the store the
moment it is finished, so a killed batch loses only the calculations still running.

A calculation that fails (``CalcError``: SCF never converged, the code crashed; or any
other exception inside the engine, a missing file for instance) is stored as ``failed``
with its error; so is one whose input failed, and a relaxation that ran out
of steps when its settings say ``require_convergence: true``. Neither stops the rest.
Every start and end is appended to ``events.jsonl`` in the work directory
(``workflows.events``).
"""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from ase import Atoms

from facetflow.engines import get_engine
from facetflow.engines.base import CalcError, CalcErrors, Engine
from facetflow.records.calc import CalcResult
from facetflow.records.plan import Calculation, Plan, read_plan
from facetflow.store import ResultStore
from facetflow.structures.perturb import perturbed_start
from facetflow.workflows.events import log_event
from facetflow.workflows.geometry import initial_atoms, scale_to_lattice, warm_start

log = logging.getLogger(__name__)


class MissingInput(RuntimeError):
    """An input calculation of this one failed or is absent."""


@dataclass
class BatchCounts:
    run: int = 0
    reused: int = 0
    failed: int = 0


def starting_structure(node: Calculation, plan: Plan, store: ResultStore,
                       cache: dict[str, CalcResult] | None = None) -> Atoms:
    """The starting structure of ``node`` from its inputs in the store (``cache`` keeps
    inputs already read, e.g. the bulk lattice every slab of a batch needs).

    A perturbed start (start j >= 1) is the scaled guess perturbed by
    ``perturbed_start``; a warm start with alternatives begins from whichever of its
    source structure's starts has the lowest energy, or the ``start_rank``-th lowest
    (a warm-started structure's start j >= 1; ``atoms.info["start_from"]`` names it)."""
    atoms = initial_atoms(node)
    relaxed_volume = None
    if node.lattice_from:
        bulk = _input(store, plan, node.lattice_from, cache)
        relaxed_volume = abs(bulk.atoms().get_volume())
        atoms = scale_to_lattice(atoms, node.lattice_volume, relaxed_volume)
    if node.perturb:
        atoms = perturbed_start(atoms, **node.perturb)
    if node.start_from:
        chosen, src = ranked_input(store, plan, [node.start_from, *node.start_alternatives],
                                   node.start_rank, cache)
        final = src.atoms()
        if node.start_map is None:  # the same structure (pre-relaxation -> DFT)
            atoms.positions = final.positions
            atoms.cell = final.cell
        else:
            parent = initial_atoms(plan.nodes[node.start_from])
            if relaxed_volume is not None:
                parent = scale_to_lattice(parent, node.lattice_volume, relaxed_volume)
            atoms = warm_start(atoms, parent, final, node.start_map)
        atoms.info["start_from"] = chosen
    if node.prune_against and node.prune:
        _prune_limit(atoms, node, plan, store, cache)
    return atoms


def _prune_limit(atoms: Atoms, node: Calculation, plan: Plan, store: ResultStore,
                 cache: dict[str, CalcResult] | None) -> None:
    """Set ``atoms.info`` ``prune_after_steps`` and ``prune_above`` (eV: start 0's
    minimum energy + ``above_eV``) for the optimizer (``engines.batch``); when start 0
    failed there is nothing to prune against and this start runs to convergence."""
    try:
        reference = _input(store, plan, node.prune_against, cache)
    except MissingInput:
        log.info("%s: start 0 has no energy; not pruned", node.key)
        return
    atoms.info["prune_after_steps"] = int(node.prune["after_steps"])
    atoms.info["prune_above"] = float(reference.energy) + float(node.prune["above_eV"])


def ranked_input(store: ResultStore, plan: Plan, hashes: list[str], rank: int = 0,
                 cache: dict[str, CalcResult] | None = None) -> tuple[str, CalcResult]:
    """The ``rank``-th lowest-energy result (0: the lowest; the earlier start first on a
    tie) among the starts ``hashes`` of one structure, and its hash. Starts that failed
    are passed over; if fewer than ``rank`` + 1 succeeded, ``MissingInput`` is raised
    (the first failure's, when all failed)."""
    done: list[tuple[float, int, str, CalcResult]] = []
    first_error: MissingInput | None = None
    for i, h in enumerate(hashes):
        try:
            got = _input(store, plan, h, cache)
        except MissingInput as exc:
            first_error = first_error or exc
            continue
        done.append((got.energy, i, h, got))
    if not done:
        raise first_error or MissingInput("no input")
    if rank >= len(done):
        raise MissingInput(f"start rank {rank} asked for, but only {len(done)} of "
                           f"{len(hashes)} starts succeeded")
    _e, _i, h, got = sorted(done, key=lambda t: (t[0], t[1]))[rank]
    return h, got


def _input(store: ResultStore, plan: Plan, calc_hash: str,
           cache: dict[str, CalcResult] | None = None) -> CalcResult:
    if cache is not None and calc_hash in cache:
        return cache[calc_hash]
    got = store.get(calc_hash)
    key = plan.nodes[calc_hash].key if calc_hash in plan.nodes else calc_hash[:12]
    if got is None:
        raise MissingInput(f"input {key} has no result in the store")
    if got.status != "done" or got.result is None:
        raise MissingInput(f"input {key} failed: {got.error}")
    if cache is not None:
        cache[calc_hash] = got.result
    return got.result


def run_calculations(plan_path: str | Path, hashes: list[str], store_url: str,
                     workdir: str | Path | None = None) -> BatchCounts:
    """Run the calculations ``hashes`` of the plan at ``plan_path`` into the store."""
    batch = _Batch(read_plan(Path(plan_path)), ResultStore(store_url),
                   Path(workdir) / "events.jsonl" if workdir else None)
    for (engine, task, _), items in _ready_groups(batch, hashes).items():
        for node, _atoms in items:
            log_event(batch.events, event="start", hash=node.hash, key=node.key)
        eng = get_engine(engine)
        if len(items) > 1:
            _run_together(batch, eng, task, items)
        else:
            _run_each(batch, eng, items)
    return batch.counts


@dataclass
class _Batch:
    """One batch's plan, store, event file and counts."""

    plan: Plan
    store: ResultStore
    events: Path | None
    counts: BatchCounts = field(default_factory=BatchCounts)


def _ready_groups(batch: _Batch, hashes: list[str]
                  ) -> dict[tuple, list[tuple[Calculation, Atoms]]]:
    """The calculations to run with their starting structures, grouped by (engine, task,
    settings); those already done are counted as reused, those whose input is missing
    are stored as failed."""
    inputs: dict[str, CalcResult] = {}
    groups: dict[tuple, list[tuple[Calculation, Atoms]]] = defaultdict(list)
    for h in hashes:
        node = batch.plan.nodes[h]
        have = batch.store.get(h)
        if have is not None and have.status == "done":
            batch.counts.reused += 1
            log_event(batch.events, event="reused", hash=h, key=node.key)
            continue
        try:
            atoms = starting_structure(node, batch.plan, batch.store, inputs)
        except MissingInput as exc:
            _failed(batch, node, str(exc))
            continue
        groups[(node.engine, node.task, json.dumps(node.settings, sort_keys=True))].append(
            (node, atoms))
    return groups


def _run_together(batch: _Batch, eng: Engine, task: str,
                  items: list[tuple[Calculation, Atoms]]) -> None:
    """One ``run_many`` of ``items`` (same engine, task and settings: MLIP batches them
    in one relaxation); each result is stored as it arrives (wall time since the batch
    began), and those without a result are stored as failed with their error."""
    t0 = time.perf_counter()

    def stored(i: int, result: CalcResult) -> None:
        node, atoms = items[i]
        _done(batch, node, result, time.perf_counter() - t0, atoms.info.get("start_from"))

    try:
        eng.run_many([a for _, a in items], task, items[0][0].settings, on_result=stored)
    except Exception as exc:  # noqa: BLE001 - stored as failed, the run goes on (below)
        each = exc.failures if isinstance(exc, CalcErrors) else {}
        for i, (node, _) in enumerate(items):
            if batch.store.get(node.hash) is None:
                _failed(batch, node, each.get(i, _describe(exc)))


def _run_each(batch: _Batch, eng: Engine, items: list[tuple[Calculation, Atoms]]) -> None:
    """Run ``items`` one after another, storing each result as it finishes."""
    for node, atoms in items:
        t0 = time.perf_counter()
        try:
            result = eng.run(atoms, node.task, node.settings)
        except Exception as exc:  # noqa: BLE001 - stored as failed, the run goes on
            _failed(batch, node, _describe(exc))
            continue
        _done(batch, node, result, time.perf_counter() - t0, atoms.info.get("start_from"))


def _describe(exc: Exception) -> str:
    """The error stored with a failed calculation: a ``CalcError``'s message as it is
    (the engine's own diagnosis); any other exception (a missing file, a bug) with its
    type, and its traceback in the log, so the calculation is stored as failed, not left
    pending, and a rerun tries it again."""
    if isinstance(exc, CalcError):
        return str(exc)
    log.error("unexpected %s in an engine", type(exc).__name__, exc_info=exc)
    return f"{type(exc).__name__}: {exc}"


def _meta(plan: Plan, node: Calculation, started: str | None = None) -> dict:
    """What the store keeps beside a result: where it came from. ``started``: the start
    actually taken when the node had alternatives (the lowest of them)."""
    inputs = {"lattice_from": node.lattice_from, "start_from": node.start_from}
    if node.start_alternatives:
        inputs.update(start_alternatives=node.start_alternatives, started_from=started)
    if node.perturb:
        inputs["perturb"] = node.perturb
    return {"study": plan.study, "key": node.key, "labels": node.labels,
            "engine": node.engine, "stage": node.stage, "purpose": node.purpose,
            "inputs": inputs, "identity": node.identity}


def _done(batch: _Batch, node: Calculation, result: CalcResult, wall: float,
          started: str | None = None) -> None:
    """Store a finished calculation (wall time in s), or a failure when it did not
    converge and its settings require convergence."""
    if (not result.converged and not result.pruned
            and node.settings.get("require_convergence")):
        _failed(batch, node, "relaxation did not converge: " + "; ".join(result.warnings)
                + " (require_convergence is set)")
        return
    batch.counts.run += 1
    batch.store.put(node.hash, result, node.key,
                    {**_meta(batch.plan, node, started), "wall_time": wall})
    log_event(batch.events, event="done", hash=node.hash, key=node.key,
              converged=result.converged, steps=result.steps)


def _failed(batch: _Batch, node: Calculation, error: str) -> None:
    batch.store.put_failed(node.hash, node.key, error, _meta(batch.plan, node), node.structure)
    batch.counts.failed += 1
    log.warning("calculation %s (%s) failed: %s", node.key, node.hash[:12], error)
    log_event(batch.events, event="failed", hash=node.hash, key=node.key, error=error)
