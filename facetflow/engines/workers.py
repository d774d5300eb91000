"""Sharing relaxations among worker processes on a multi-core CPU.

On a CPU an ML potential's cost per atom hardly changes with how many structures go into
one model call, and PyTorch's own threading leaves much of a second core idle (scatter
and gather steps run on one thread). So ``run_in_workers`` starts ``workers`` processes
(``spawn``: no forked PyTorch state), each with its share of the cores, hands them the
structures largest first from one queue (the next free worker takes the next one), and
gathers the results in this process, which alone writes the results store. Each worker
computes one structure at a time with the job function it was given (a module-level
function ``job(atoms, task, settings) -> CalcResult``, imported in the worker by
reference, so this module imports no engine), so a result never depends on scheduling.

The workers live as long as the process that started them (a run's later levels and
stages reuse them). A worker whose parent dies (``kill -9`` of a run) stops within a
second; it never writes anything, so a resumed run is not disturbed.
"""

from __future__ import annotations

import atexit
import functools
import multiprocessing as mp
import os
import queue
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from ase import Atoms

from facetflow.engines.base import CalcError, CalcErrors, OnResult
from facetflow.records.calc import CalcResult

Job = Callable[[Atoms, str, dict], CalcResult]

WORKER_MEMORY = 1.5e9  # bytes one CHGNet worker may use (model + buffers of a ~300-atom slab)


def usable_cpus() -> int:
    """Cores this process may run on (its affinity mask, e.g. a Slurm allocation)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def memory_bytes() -> int:
    """Physical memory of the machine in bytes."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def worker_count(value: str | int | None, device: str, n_structures: int) -> int:
    """Worker processes for ``n_structures`` relaxations: ``value`` (the ``workers``
    setting) where ``auto`` or None is one per usable core on a CPU, no more than memory
    allows (``WORKER_MEMORY`` each), and 1 on a GPU ``device`` (which batches instead)."""
    if value is None or value == "auto":
        if device != "cpu":
            return 1
        value = min(usable_cpus(), max(1, int(memory_bytes() // WORKER_MEMORY)))
    elif isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"engine setting 'workers' must be 'auto' or a whole number >= 1, "
                         f"got {value!r}")
    return max(1, min(value, n_structures))


def run_in_workers(job: Job, structures: list[Atoms], task: str,
                   settings: Mapping[str, Any], workers: int,
                   on_result: OnResult | None = None) -> list[CalcResult]:
    """Run ``job(atoms, task, settings)`` on each structure in ``workers`` processes;
    returns the results in input order, calling ``on_result(index, result)`` here as each
    arrives. A structure whose calculation raised gets no result: ``CalcErrors`` names
    them all once the others are finished. Each job runs with ``workers: 1`` and
    ``threads`` (the setting, else its share of the usable cores). The processes are kept
    for later calls of this process (``worker_pool``): starting one costs seconds
    (PyTorch, the model)."""
    threads = int(settings.get("threads") or max(1, usable_cpus() // workers))
    pool = worker_pool(workers, job)
    try:
        return pool.run(structures, task, {**settings, "workers": 1, "threads": threads},
                        on_result)
    except WorkersLost:
        worker_pool.cache_clear()
        pool.close()
        raise


class WorkersLost(CalcError):
    """The worker processes ended before finishing (killed, out of memory)."""


@functools.cache
def worker_pool(workers: int, job: Job) -> WorkerPool:
    """The pool of ``workers`` processes running ``job``, started on first use and kept
    for the life of this process (each job's settings say how many threads it uses)."""
    pool = WorkerPool(workers, job)
    atexit.register(pool.close)
    return pool


class WorkerPool:
    """Worker processes that take (call, index, structure, task, settings) jobs from one
    queue, run ``job`` on them and put (call, index, result, error) on another."""

    def __init__(self, workers: int, job: Job) -> None:
        ctx = mp.get_context("spawn")
        self.jobs, self.done = ctx.Queue(), ctx.Queue()
        self.calls = 0
        self.procs = [ctx.Process(target=_work, args=(job, self.jobs, self.done, os.getpid()),
                                  daemon=True, name=f"facetflow-worker-{k}")
                      for k in range(workers)]
        for p in self.procs:
            p.start()

    def run(self, structures: list[Atoms], task: str, settings: dict,
            on_result: OnResult | None) -> list[CalcResult]:
        self.calls += 1
        call = self.calls
        for i in sorted(range(len(structures)), key=lambda k: -len(structures[k])):
            self.jobs.put((call, i, structures[i], task, settings))
        results: dict[int, CalcResult] = {}
        errors: dict[int, str] = {}
        while len(results) + len(errors) < len(structures):
            try:
                got_call, i, result, error = self.done.get(timeout=1.0)
            except queue.Empty:
                if not all(p.is_alive() for p in self.procs):
                    raise WorkersLost(
                        f"{len(structures) - len(results) - len(errors)} relaxation(s) "
                        "lost: a worker process ended (killed, or out of memory: lower the "
                        "engine setting 'workers')") from None
                continue
            if got_call != call:  # left over from a call that was abandoned
                continue
            if error is not None:
                errors[i] = error
                continue
            results[i] = result
            if on_result is not None:
                on_result(i, result)
        if errors:
            raise CalcErrors(errors)
        return [results[i] for i in range(len(structures))]

    def close(self) -> None:
        for p in self.procs:
            if p.is_alive():
                p.terminate()
        for p in self.procs:
            p.join(timeout=5)


def _work(job: Job, jobs, done, parent: int) -> None:
    """A worker's loop: take a structure, compute it with ``job``, send the result back."""
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    # PyTorch's note on a tensor converted inside CHGNet's forward pass is harmless and
    # would reach the user's console from every worker (the parent logs its warnings)
    warnings.filterwarnings("ignore", "Converting a tensor with requires_grad",
                            UserWarning)
    while True:
        call, i, atoms, task, settings = jobs.get()
        try:
            done.put((call, i, job(atoms, task, settings), None))
        except CalcError as exc:
            done.put((call, i, None, str(exc)))
        except Exception:  # noqa: BLE001 - a bug in one structure must not hang the others
            done.put((call, i, None, traceback.format_exc(limit=4).strip().splitlines()[-1]))


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)
