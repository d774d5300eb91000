"""Compiling a plan into a FireWorks ``Workflow`` and the FireWorks side of running it.

* One Firework per DFT calculation; cheap MLIP calculations of one plan level are
  batched, up to ``workflow.batch_size`` per Firework (one batched relaxation). The run
  ends in a report Firework, or, for a two-stage study, in an ``expand`` Firework that
  adds the second stage (``workdir.expand``) and then the report; both reach the analysis
  through the typed hook of ``facetflow.workflows.hooks``, which the process running the
  Fireworks registered (the command line, or ``facetflow launch`` in a batch job).
  Dependencies follow the plan's inputs; calculations already in the results store are
  left out (the store is the truth, FireWorks state is rebuilt from it on every run).
* A calculation Firework completes even when its calculations fail (they are stored as
  failed), so the rest of the study goes on; the last Firework also runs after a
  Firework that fizzled (``_allow_fizzled_parents``) and reports what is missing.

Local runs use FireWorks' file-backed LaunchPad (mongomock, ``MONGOMOCK_SERVERSTORE_FILE``).
That choice is made when FireWorks is first imported in a process, so call
``use_file_store`` before anything imports ``fireworks`` (hence FireWorks is imported
inside the functions here). The file is written when the process ends (or by ``flush``);
it is lost if the process is killed and is unsafe with two writers, hence the
work-directory lock (``facetflow.workflows.lock``).
"""

from __future__ import annotations

import os
import sys
from dataclasses import asdict
from pathlib import Path

from facetflow.records.plan import Plan
from facetflow.workflows.hooks import analysis
from facetflow.workflows.tasks import run_calculations
from facetflow.workflows.workdir import Expansion, expand

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
    from fireworks import LaunchPad  # only after use_file_store (module docstring)

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


def compile_workflow(plan: Plan, pending: list[str], workdir: Path, store_url: str,
                     batch_size: int = 64, report: bool = True,
                     expansion: Expansion | None = None):
    """A FireWorks ``Workflow`` running the ``pending`` calculations of ``plan`` (whose
    file is ``workdir/plan.json``), then the report (``report``); None when there is
    nothing to run. With ``expansion`` the workflow ends in an ``expand`` Firework
    instead: it adds the second stage (the deferred binding structures, then the report)
    when it runs."""
    from fireworks import Firework, Workflow  # only after use_file_store (module docstring)

    fireworks, fw_of = _calculation_fireworks(plan, pending, workdir, store_url, batch_size)
    links: dict = {}
    for fw in fireworks:
        parents = {fw_of[i] for h in fw.tasks[0]["hashes"] for i in plan.nodes[h].inputs
                   if i in fw_of}
        for p in parents:
            if p is not fw:
                links.setdefault(p, []).append(fw)
    last = None
    if expansion is not None:
        last = Firework(_tasks()["ExpandTask"](params=expansion.model_dump(mode="json")),
                        name="expand: binding at theta*", spec={"_allow_fizzled_parents": True})
    elif report:
        last = Firework(_tasks()["ReportTask"](workdir=str(workdir)), name="analysis",
                        spec={"_allow_fizzled_parents": True})
    if last is not None:
        for fw in fireworks:
            links.setdefault(fw, []).append(last)
        fireworks.append(last)
    if not fireworks:
        return None
    return Workflow(fireworks, links_dict=links, name=f"facetflow:{plan.study}",
                    metadata={"study": plan.study, "engine": plan.engine})


def _calculation_fireworks(plan: Plan, pending: list[str], workdir: Path, store_url: str,
                           batch_size: int) -> tuple[list, dict]:
    """One Firework per pending DFT calculation and per batch of up to ``batch_size``
    MLIP calculations of one plan level; and the Firework of each hash."""
    from fireworks import Firework  # only after use_file_store (module docstring)

    pending_set = set(pending)
    fw_of: dict[str, Firework] = {}
    fireworks: list[Firework] = []
    common = {"plan": str(Path(workdir) / "plan.json"), "store": store_url,
              "workdir": str(workdir)}
    for level, hashes in enumerate(plan.levels()):
        todo = [h for h in hashes if h in pending_set]
        mlip = [h for h in todo if plan.nodes[h].engine == "mlip"]
        batches = [mlip[i:i + batch_size] for i in range(0, len(mlip), batch_size)]
        batches += [[h] for h in todo if plan.nodes[h].engine != "mlip"]
        for batch in batches:
            first = plan.nodes[batch[0]]
            name = (first.key if len(batch) == 1 else
                    f"{first.engine} level {level}: {len(batch)} calculations")
            fw = Firework(_tasks()["CalculationsTask"](hashes=batch, **common), name=name,
                          spec={"_allow_fizzled_parents": True, "level": level,
                                "engine": first.engine})
            fireworks.append(fw)
            for h in batch:
                fw_of[h] = fw
    return fireworks, fw_of


def _task_classes() -> dict[str, type]:
    """The FireTask classes (made once FireWorks may be imported)."""
    from fireworks import FiretaskBase, FWAction, explicit_serialize

    @explicit_serialize
    class CalculationsTask(FiretaskBase):
        """Run a batch of the plan's calculations into the results store."""

        required_params = ["hashes", "plan", "store", "workdir"]

        def run_task(self, fw_spec):
            counts = run_calculations(self["plan"], self["hashes"], self["store"],
                                      self["workdir"])
            return FWAction(stored_data=asdict(counts))

    @explicit_serialize
    class ExpandTask(FiretaskBase):
        """Add the second stage of a study: binding structures at theta* (``expand``),
        then the report."""

        required_params = ["params"]

        def run_task(self, fw_spec):
            params = Expansion.model_validate(self["params"])
            prep, pending = expand(params)
            wf = compile_workflow(prep.plan, pending, prep.workdir, prep.store.url,
                                  batch_size=params.batch_size, report=params.options.report)
            return FWAction(additions=[wf] if wf is not None else [],
                            stored_data={"added": len(pending)})

    @explicit_serialize
    class ReportTask(FiretaskBase):
        """Write the study's report (the analysis hook)."""

        required_params = ["workdir"]

        def run_task(self, fw_spec):
            return FWAction(stored_data={"report": str(
                analysis().write_report(Path(self["workdir"])))})

    classes = {"CalculationsTask": CalculationsTask, "ExpandTask": ExpandTask,
               "ReportTask": ReportTask}
    for name, cls in classes.items():
        cls.__module__, cls.__qualname__ = __name__, name
    return classes


def _tasks() -> dict[str, type]:
    """The FireTask classes. They need FireWorks imported, which must wait until the
    LaunchPad's store is chosen; so they are made on first use and kept in this module,
    where FireWorks finds them by name when it loads a Firework."""
    if "CalculationsTask" not in globals():
        globals().update(_task_classes())
    return {name: globals()[name] for name in TASKS}


TASKS = ("CalculationsTask", "ExpandTask", "ReportTask")


def __getattr__(name: str):
    if name in TASKS:
        return _tasks()[name]
    raise AttributeError(name)
