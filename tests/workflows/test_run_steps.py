"""The steps of a run after its calculations: the second stage is built from the study
the first stage ran (``study.json``), not from the study file as it may be by then; and a
step that raises (the second stage, the report) makes the run exit 1 and say which step
failed and why, instead of ending quietly without a report."""

import json
import shutil

from conftest import STUDIES, copy_workdir, variant_study

TINY = STUDIES / "tiny.yaml"


def test_the_second_stage_uses_the_study_of_the_first(tmp_path, tiny_run):
    from facetflow.cli import _wire_analysis
    from facetflow.records.plan import read_plan
    from facetflow.workflows.workdir import Expansion, RunOptions, expand

    _wire_analysis()
    work = copy_workdir(tiny_run, tmp_path)
    study = tmp_path / "tiny.yaml"
    shutil.copy(TINY, study)
    before = set(read_plan(work / "tiny" / "plan.json").nodes)
    study.write_text("name: tiny\nnot_a_field: 1\n")  # edited (badly) during the run
    params = Expansion(study=str(study), workdir=str(work / "tiny"),
                       options=RunOptions(pictures=False), batch_size=64)
    prep, pending = expand(params)
    assert pending == [] and set(prep.plan.nodes) == before  # the same second stage


DRIVER = """
import json, sys
from facetflow.workflows.hooks import AnalysisHooks, register_analysis
from facetflow.analysis.summary import optimal_arrangements
from facetflow.workflows.local import run_study

def broken_report(workdir):
    raise RuntimeError("the report cannot be written")

register_analysis(AnalysisHooks(optimal_arrangements=optimal_arrangements,
                                write_report=broken_report))
summary = run_study(sys.argv[1], sys.argv[2], pictures=False)
print(json.dumps(summary.steps_failed))
"""


def test_a_failing_report_step_is_reported_by_name(tmp_path, tiny_run):
    """A report step that raises fizzles its Firework: the run's summary names the step
    and the error (the command line then prints it and exits 1)."""
    import subprocess
    import sys

    work = copy_workdir(tiny_run, tmp_path)
    study = variant_study(tmp_path, TINY, lambda d: d["workflow"].update(starts=2))
    proc = subprocess.run([sys.executable, "-c", DRIVER, str(study), str(work)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    failed = json.loads(proc.stdout.strip().splitlines()[-1])
    assert [f["step"] for f in failed] == ["analysis"]
    assert "RuntimeError: the report cannot be written" in failed[0]["error"]
    info = json.loads((work / "tiny" / "run.json").read_text())
    assert info["failed"] == 0 and info["steps_failed"] == failed
    assert "the report cannot be written" in (work / "tiny" / "facetflow.log").read_text()


def test_the_command_line_exits_1_naming_a_failed_step(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    import facetflow.workflows.local as local
    from facetflow.cli import app

    def fake_run(*args, **kwargs):
        return local.RunSummary(study="tiny", engine="mlip", workdir=str(tmp_path),
                                store="s", total=1, raw=1, steps_failed=[
                                    {"step": "expand: binding at theta*",
                                     "error": "SpecError: invalid study"}])

    monkeypatch.setattr(local, "run_study", fake_run)
    got = CliRunner().invoke(app, ["run", str(TINY), "--work", str(tmp_path),
                                   "--no-pictures", "--no-progress"])
    assert got.exit_code == 1
    assert "step failed expand: binding at theta*: SpecError: invalid study" in got.output
