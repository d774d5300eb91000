"""A real single-node Slurm cluster (scripts/slurm.sh, Debian's slurmctld/slurmd/munge):
submit a study through FireWorks' queue launcher and wait for it to finish.

No MongoDB server can run here, so the LaunchPad is FireWorks' file-backed store; its
path reaches the batch job through the job's environment (MONGOMOCK_SERVERSTORE_FILE) and
the jobs take the work directory's lock in turn."""

import json
import subprocess
import time

import pytest
from conftest import (
    ROOT,
    STUDIES,
    copy_workdir,
    run_cli,
    said,
    start_root_service,
    stop_root_service,
)

QADAPTER = ROOT / "cluster_configs" / "slurm" / "my_qadapter.yaml"


pytestmark = pytest.mark.root_service


@pytest.fixture(scope="module")
def slurm():
    start_root_service("slurm.sh")
    yield
    stop_root_service("slurm.sh")


def test_study_runs_through_slurm(slurm, tmp_path):
    work = tmp_path / "work"
    proc = run_cli("run", str(STUDIES / "tiny.yaml"), "--work", str(work), "--no-pictures",
                   "--submit", str(QADAPTER))
    assert proc.returncode == 0, proc.stderr + proc.stdout
    # the first stage; the jobs add the binding structures at theta* (4 more) themselves
    assert said("17 of 17 calculations queued", proc.stdout) and "theta*" in proc.stdout
    job = proc.stdout.split("jobs:")[1].split()[0].strip(";,")
    summary = work / "tiny" / "report" / "summary.json"
    deadline = time.time() + 420
    while time.time() < deadline:
        q = subprocess.run(["squeue", "-h", "-j", job], capture_output=True, text=True)
        if summary.is_file() and job not in q.stdout:
            break
        time.sleep(2)
    state = subprocess.run(["scontrol", "show", "job", job, "-o"], capture_output=True,
                           text=True).stdout
    assert "JobState=COMPLETED" in state, state
    assert summary.is_file()
    from facetflow.store import ResultStore

    rows = ResultStore(work / "tiny" / "results.db").all()
    assert len(rows) == 21 and all(r.status == "done" for r in rows.values())
    assert {r.meta["host"] for r in rows.values()}  # provenance recorded by the job
    out = list((work / "tiny" / "fireworks" / "queue").rglob("*.out"))
    assert out and f"facetflow job {job}" in out[0].read_text()
    status = run_cli("status", str(work / "tiny"))
    assert status.returncode == 0 and "COMPLETED" in status.stdout
    # resubmitting the finished study queues nothing
    again = run_cli("submit", str(STUDIES / "tiny.yaml"), "--work", str(work),
                    "--qadapter", str(QADAPTER))
    assert again.returncode == 0 and "0 of 21 calculations queued" in again.stdout
    assert json.loads(summary.read_text())["study"] == "tiny"


def test_lost_run_is_requeued(tmp_path, tiny_run):
    """A job killed while running leaves its Firework RUNNING; status --requeue-lost puts
    it back to READY (its finished calculations stay in the store)."""
    from facetflow.records.plan import read_plan
    from facetflow.workflows.fireworks import compile_workflow, file_launchpad, flush

    work = copy_workdir(tiny_run, tmp_path)
    wd = work / "tiny"
    lp = file_launchpad(wd / "fireworks" / "launchpad.json", reset=True)
    plan = read_plan(wd / "plan.json")
    wf = compile_workflow(plan, plan.order()[:3], wd, str(wd / "results.db"), batch_size=64)
    lp.add_wf(wf)
    from fireworks import FWorker

    fw, launch_id = lp.checkout_fw(FWorker(name="doomed-job"), str(tmp_path))
    assert fw is not None and launch_id
    flush(lp)
    proc = run_cli("status", str(wd), "--requeue-lost", "--expiration", "0")
    assert proc.returncode == 0, proc.stderr
    assert said("requeued 1 lost Fireworks", proc.stdout)
    assert "READY 1" in proc.stdout and "RUNNING" not in proc.stdout
