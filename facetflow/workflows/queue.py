"""Submitting a study to a batch queue (Slurm, PBS, SGE) through FireWorks, and its status.

``submit_study`` writes the structures and plan, adds the pending calculations to the
LaunchPad (MongoDB from ``my_launchpad.yaml``, or the work directory's file-backed one) and
submits ``njobs`` queue jobs with FireWorks' queue launcher (what ``qlaunch singleshot``
does) using a queue adapter from ``cluster_configs/``. Each job runs ``facetflow launch``
(``python -m facetflow.cli launch``: the command line wires the analysis hook, then
``launch.run_launches`` pulls Fireworks until none is left).

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

from facetflow.errors import Problem, SpecError
from facetflow.records.study import Study
from facetflow.study import load_study
from facetflow.workflows.fireworks import compile_workflow, file_launchpad, flush, use_file_store
from facetflow.workflows.lock import WorkdirLock
from facetflow.workflows.workdir import RunOptions, first_stage, stages, validated

# what a batch job runs (the command line's hidden ``launch`` command)
LAUNCH_COMMAND = (sys.executable, "-m", "facetflow.cli", "launch")


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
        from fireworks import LaunchPad  # only after use_file_store (workflows.fireworks)

        return LaunchPad.from_file(str(launchpad_file))
    return file_launchpad(workdir / "fireworks" / "launchpad.json",
                          workdir / "fireworks" / "logs", reset=reset)


def launch_command(launchpad_file: Path | None) -> str:
    cmd = list(LAUNCH_COMMAND)
    if launchpad_file is not None:
        cmd += ["--launchpad", str(Path(launchpad_file).resolve())]
    return shlex.join(cmd)


def submit_study(study_path: Path, work_root: Path, qadapter_file: Path,
                 launchpad_file: Path | None = None, engine: str | None = None,
                 store: str | None = None, njobs: int = 1, report: bool = True,
                 spec: Study | None = None, retry_failed: bool = False) -> Submission:
    """Queue a study (``spec``: already loaded from ``study_path``; ``report``: the jobs
    end with the report, through the analysis hook ``facetflow launch`` wires); returns
    the job ids; ``retry_failed``: see ``RunOptions``)."""
    options = RunOptions(engine=engine, store=store, report=report,
                         retry_failed=retry_failed)
    study_path = Path(study_path).resolve()
    spec = spec or load_study(study_path)
    workdir = Path(work_root).resolve() / spec.name
    checked = validated(study_path, spec, workdir)  # nothing is written for invalid input
    check_queue_files(qadapter_file, launchpad_file)
    if launchpad_file is None:  # before FireWorks is imported
        use_file_store(workdir / "fireworks" / "launchpad.json")
    from fireworks.utilities.fw_serializers import load_object_from_file  # after the store

    qadapter = load_object_from_file(str(qadapter_file))
    qadapter["rocket_launch"] = launch_command(launchpad_file)
    with WorkdirLock(workdir, purpose="submit"):
        prep, pending, params = stages(first_stage(checked, workdir, options), checked,
                                       options)
        lp = _launchpad(workdir, launchpad_file, reset=launchpad_file is None)
        wf = compile_workflow(prep.plan, pending, workdir, prep.store.url,
                              batch_size=spec.workflow.batch_size, report=options.report,
                              expansion=params)
        if wf is not None:
            lp.add_wf(wf)
        flush(lp)
        jobs = _submit_jobs(lp, qadapter, workdir, njobs if wf is not None else 0)
    return Submission(workdir, len(prep.plan.nodes), len(pending), jobs,
                      str(launchpad_file or workdir / "fireworks" / "launchpad.json"),
                      second_stage=params is not None)


def _submit_jobs(lp, qadapter, workdir: Path, njobs: int) -> list[str]:
    """Submit ``njobs`` queue jobs pulling Fireworks from ``lp``; their ids."""
    from fireworks import FWorker  # after the store (workflows.fireworks)
    from fireworks.queue.queue_launcher import launch_rocket_to_queue

    qdir = workdir / "fireworks" / "queue"
    qdir.mkdir(parents=True, exist_ok=True)
    jobs = []
    for _ in range(njobs):
        job = launch_rocket_to_queue(lp, FWorker(name="facetflow-queue"), qadapter,
                                     launcher_dir=str(qdir), create_launcher_dir=True,
                                     strm_lvl="CRITICAL", fill_mode=True)
        if job is False or job is None:
            raise RuntimeError(f"the queue refused the job; see {qdir} for the script and "
                               "the queue's error")
        jobs.append(str(job))
    return jobs


def check_queue_files(qadapter_file: Path, launchpad_file: Path | None) -> None:
    """Refuse (``SpecError``, nothing written) a queue adapter or LaunchPad file that is
    missing or is not a YAML mapping naming a FireWorks object."""
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
