"""Submitting a study to a batch queue (Slurm, PBS, SGE) through FireWorks, and its status.

``submit_study`` writes the structures and plan, adds the pending calculations to the
LaunchPad (MongoDB from ``my_launchpad.yaml``, or the work directory's file-backed one) and
submits ``njobs`` queue jobs with FireWorks' queue launcher (what ``qlaunch singleshot``
does) using a queue adapter from ``cluster_configs/``. Each job runs
``python -m facetflow.workflows.launch``, which pulls Fireworks until none is left.

Lost runs (a cancelled or killed job left a Firework RUNNING) are found with FireWorks'
``detect_lostruns`` and put back to READY by ``requeue_lost``; the calculations they had
finished are in the results store and are not repeated.
"""

from __future__ import annotations

import shlex
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml

from facetflow.structures.catalog import deferred_binding
from facetflow.workflows.fireworks import compile_workflow, file_launchpad, flush
from facetflow.workflows.local import prepare, stages
from facetflow.workflows.lock import WorkdirLock


@dataclass
class Submission:
    workdir: Path
    total: int
    pending: int
    jobs: list[str]
    launchpad: str
    second_stage: bool = False  # binding structures at theta* follow (the expand Firework)


def _launchpad(workdir: Path, launchpad_file: Path | None, reset: bool = False):
    if launchpad_file is not None:
        from fireworks import LaunchPad

        return LaunchPad.from_file(str(launchpad_file))
    return file_launchpad(workdir / "fireworks" / "launchpad.json",
                          workdir / "fireworks" / "logs", reset=reset)


def launch_command(launchpad_file: Path | None) -> str:
    cmd = [sys.executable, "-m", "facetflow.workflows.launch"]
    if launchpad_file is not None:
        cmd += ["--launchpad", str(Path(launchpad_file).resolve())]
    return shlex.join(cmd)


def submit_study(study_path: Path, work_root: Path, qadapter_file: Path,
                 launchpad_file: Path | None = None, engine: str | None = None,
                 store_url: str | None = None, njobs: int = 1,
                 final_task: tuple[str, list] | None = None) -> Submission:
    """Queue a study; returns the job ids."""
    from facetflow.workflows.fireworks import use_file_store
    from facetflow.workflows.local import validated

    checked = validated(study_path)  # nothing is written for invalid input
    check_queue_files(qadapter_file, launchpad_file)
    spec = checked[0]
    workdir = Path(work_root).resolve() / spec.name
    if launchpad_file is None:  # before FireWorks is imported
        use_file_store(workdir / "fireworks" / "launchpad.json")
    from fireworks import FWorker
    from fireworks.queue.queue_launcher import launch_rocket_to_queue
    from fireworks.utilities.fw_serializers import load_object_from_file

    qadapter = load_object_from_file(str(qadapter_file))
    qadapter["rocket_launch"] = launch_command(launchpad_file)
    with WorkdirLock(workdir, purpose="submit"):
        prep = prepare(study_path, Path(work_root).resolve(), engine, store_url,
                       checked=checked, build_later_if_done=deferred_binding(checked[0]))
        prep, pending, params = stages(prep, study_path, engine, True, final_task)
        lp = _launchpad(workdir, launchpad_file, reset=launchpad_file is None)
        wf = compile_workflow(prep.plan, pending, prep.plan_path, prep.store.url, workdir,
                              batch_size=prep.spec.workflow.batch_size,
                              final_task=final_task,
                              expand=params)
        if wf is not None:
            lp.add_wf(wf)
        flush(lp)
        jobs = []
        qdir = workdir / "fireworks" / "queue"
        qdir.mkdir(parents=True, exist_ok=True)
        for _ in range(njobs if wf is not None else 0):
            job = launch_rocket_to_queue(lp, FWorker(name="facetflow-queue"), qadapter,
                                         launcher_dir=str(qdir), create_launcher_dir=True,
                                         strm_lvl="CRITICAL", fill_mode=True)
            if job is False or job is None:
                raise RuntimeError(f"the queue refused the job; see {qdir} for the script and "
                                   "the queue's error")
            jobs.append(str(job))
    return Submission(workdir, len(prep.plan.nodes), len(pending), jobs,
                      str(launchpad_file or workdir / "fireworks" / "launchpad.json"),
                      second_stage=params is not None)


def check_queue_files(qadapter_file: Path, launchpad_file: Path | None) -> None:
    """Refuse (``SpecError``, nothing written) a queue adapter or LaunchPad file that is
    missing or is not a YAML mapping naming a FireWorks object."""
    from facetflow.errors import Problem, SpecError

    problems = []
    for option, path, needed in (("--qadapter", qadapter_file, "_fw_name"),
                                 ("--launchpad", launchpad_file, "host")):
        if path is None:
            continue
        try:
            data = yaml.safe_load(Path(path).read_text())
        except (OSError, yaml.YAMLError) as exc:
            problems.append(Problem(option, f"cannot read it: {exc}", str(path)))
            continue
        if not isinstance(data, dict) or needed not in data:
            problems.append(Problem(option, f"not a FireWorks file: a YAML mapping with "
                                    f"'{needed}' is needed", str(path),
                                    "see cluster_configs/"))
    if problems:
        raise SpecError(problems)


def fireworks_states(workdir: Path, launchpad_file: Path | None = None) -> Counter:
    """Firework states (READY, RUNNING, COMPLETED, FIZZLED, ...) in the LaunchPad."""
    lp = _launchpad(Path(workdir), launchpad_file)
    return Counter(fw["state"] for fw in lp.fireworks.find({}, {"state": 1}))


def requeue_lost(workdir: Path, launchpad_file: Path | None = None,
                 expiration_secs: int = 3600) -> list[int]:
    """Fireworks RUNNING without a ping for ``expiration_secs`` go back to READY."""
    workdir = Path(workdir)
    if launchpad_file is not None:
        lp = _launchpad(workdir, launchpad_file)
        _, lost_fws, _ = lp.detect_lostruns(expiration_secs=expiration_secs, rerun=True)
        return list(lost_fws)
    with WorkdirLock(workdir, purpose="requeue"):
        lp = _launchpad(workdir, None)
        _, lost_fws, _ = lp.detect_lostruns(expiration_secs=expiration_secs, rerun=True)
        flush(lp)
        return list(lost_fws)
