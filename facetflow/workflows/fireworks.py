"""Compiling a plan into a FireWorks ``Workflow`` and the FireWorks side of running it.

* One Firework per DFT calculation; cheap MLIP calculations of one plan level are
  batched, up to ``workflow.batch_size`` per Firework (one batched relaxation). A final
  analysis Firework runs a function named by its dotted path (``PyTask``), so this module
  does not import the analysis layer. Dependencies follow the plan's inputs; calculations
  already in the results store are left out (the store is the truth, FireWorks state is
  rebuilt from it on every run).
* A calculation Firework completes even when its calculations fail (they are stored as
  failed), so the rest of the study goes on; the analysis Firework also runs after a
  Firework that fizzled (``_allow_fizzled_parents``) and reports what is missing.

Local runs use FireWorks' file-backed LaunchPad (mongomock, ``MONGOMOCK_SERVERSTORE_FILE``).
That choice is made when FireWorks is first imported in a process, so call
``use_file_store`` before anything imports ``fireworks``. The file is written when the
process ends (or by ``flush``); it is lost if the process is killed and is unsafe with
two writers, hence the work-directory lock (``facetflow.workflows.lock``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from facetflow.workflows.plan import Plan

STORE_ENV = "MONGOMOCK_SERVERSTORE_FILE"
LAUNCHPAD_DB = "facetflow"


def use_file_store(path: Path) -> Path:
    """Select FireWorks' file-backed store at ``path`` for this process (before import)."""
    path = Path(path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or not path.read_text().strip():
        path.write_text("{}")
    if "FW_CONFIG_FILE" not in os.environ:  # keep FireWorks' per-rocket chatter off stdout
        cfg = path.parent / "FW_config.yaml"
        cfg.write_text("ROCKET_STREAM_LOGLEVEL: CRITICAL\n")
        os.environ["FW_CONFIG_FILE"] = str(cfg)
    config = sys.modules.get("fireworks.fw_config")
    if config is not None and not getattr(config, STORE_ENV, None):
        raise RuntimeError("FireWorks was imported with a MongoDB client in this process; the "
                           "file-backed LaunchPad must be chosen before FireWorks is imported")
    os.environ[STORE_ENV] = str(path)
    return path


def file_launchpad(path: Path, logdir: Path | None = None, reset: bool = False):
    """A LaunchPad on the file-backed store at ``path`` (``reset`` empties it)."""
    path = use_file_store(path)
    if logdir is not None:
        Path(logdir).mkdir(parents=True, exist_ok=True)
    if reset:
        path.write_text("{}")
    from fireworks import LaunchPad

    lp = LaunchPad(host="localhost", name=LAUNCHPAD_DB,
                   logdir=str(logdir) if logdir else None, strm_lvl="CRITICAL")
    if reset:
        lp.reset("", require_password=False, max_reset_wo_password=10**9)
    return lp


def flush(launchpad) -> None:
    """Write a file-backed LaunchPad's state to its file now (mongomock writes it only when
    the process ends)."""
    store = getattr(launchpad.connection, "_store", None)
    if store is not None and hasattr(store, "_to_file") and getattr(store, "_filename", None):
        store._to_file()


def compile_workflow(plan: Plan, pending: list[str], plan_path: Path, store_url: str,
                     workdir: Path, batch_size: int = 64,
                     final_task: tuple[str, list] | None = None, expand: dict | None = None):
    """A FireWorks ``Workflow`` running the ``pending`` calculations of ``plan`` (None when
    there is nothing to run and no final task). With ``expand`` (``local.expansion``) the
    workflow ends in an ``expand`` Firework instead of the final task: it adds the second
    stage (the deferred binding structures, then the final task) when it runs."""
    from fireworks import Firework, PyTask, Workflow

    pending_set = set(pending)
    fw_of: dict[str, Firework] = {}
    fireworks: list[Firework] = []
    links: dict[Firework, list[Firework]] = {}
    common = {"plan": str(plan_path), "store": store_url, "workdir": str(workdir)}
    for level, hashes in enumerate(plan.levels()):
        todo = [h for h in hashes if h in pending_set]
        mlip = [h for h in todo if plan.nodes[h].engine == "mlip"]
        batches = [mlip[i:i + batch_size] for i in range(0, len(mlip), batch_size)]
        batches += [[h] for h in todo if plan.nodes[h].engine != "mlip"]
        for batch in batches:
            first = plan.nodes[batch[0]]
            name = (first.key if len(batch) == 1 else
                    f"{first.engine} level {level}: {len(batch)} calculations")
            fw = Firework(calculations_task()(hashes=batch, **common), name=name,
                          spec={"_allow_fizzled_parents": True, "level": level,
                                "engine": first.engine})
            fireworks.append(fw)
            for h in batch:
                fw_of[h] = fw
    for fw in fireworks:
        parents = {fw_of[i] for h in fw.tasks[0]["hashes"] for i in plan.nodes[h].inputs
                   if i in fw_of}
        for p in parents:
            if p is not fw:
                links.setdefault(p, []).append(fw)
    last = None
    if expand is not None:
        last = Firework(expand_task()(params=expand), name="expand: binding at theta*",
                        spec={"_allow_fizzled_parents": True})
    elif final_task is not None:
        func, args = final_task
        last = Firework(PyTask(func=func, args=list(args)), name="analysis",
                        spec={"_allow_fizzled_parents": True})
    if last is not None:
        for fw in fireworks:
            links.setdefault(fw, []).append(last)
        fireworks.append(last)
    if not fireworks:
        return None
    return Workflow(fireworks, links_dict=links, name=f"facetflow:{plan.study}",
                    metadata={"study": plan.study, "engine": plan.engine})


def _task_class():
    from fireworks import FiretaskBase, FWAction, explicit_serialize

    @explicit_serialize
    class CalculationsTask(FiretaskBase):
        """Run a batch of the plan's calculations into the results store."""

        required_params = ["hashes", "plan", "store", "workdir"]

        def run_task(self, fw_spec):
            from dataclasses import asdict

            from facetflow.workflows.tasks import run_calculations

            counts = run_calculations(self["plan"], self["hashes"], self["store"],
                                      self["workdir"])
            return FWAction(stored_data=asdict(counts))

    CalculationsTask.__module__ = __name__
    CalculationsTask.__qualname__ = "CalculationsTask"

    @explicit_serialize
    class ExpandTask(FiretaskBase):
        """Add the second stage of a study: binding structures at theta* (``local.expand``),
        then the final task."""

        required_params = ["params"]

        def run_task(self, fw_spec):
            from facetflow.workflows.local import expand

            params = self["params"]
            prep, pending = expand(params)
            wf = compile_workflow(prep.plan, pending, prep.plan_path, prep.store.url,
                                  prep.workdir, batch_size=params["batch_size"],
                                  final_task=params["final_task"])
            return FWAction(additions=[wf] if wf is not None else [],
                            stored_data={"added": len(pending)})

    ExpandTask.__module__ = __name__
    ExpandTask.__qualname__ = "ExpandTask"
    return CalculationsTask, ExpandTask


def _tasks() -> dict:
    """The FireTask classes. They need FireWorks imported, which must wait until the
    LaunchPad's store is chosen; so they are made on first use and kept in this module,
    where FireWorks finds them by name when it loads a Firework."""
    if "CalculationsTask" not in globals():
        globals()["CalculationsTask"], globals()["ExpandTask"] = _task_class()
    return globals()


def calculations_task():
    return _tasks()["CalculationsTask"]


def expand_task():
    return _tasks()["ExpandTask"]


def __getattr__(name: str):
    if name in ("CalculationsTask", "ExpandTask"):
        return _tasks()[name]
    raise AttributeError(name)
