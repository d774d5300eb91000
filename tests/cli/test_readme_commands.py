"""The README's commands as a user types them: from a fresh copy of the repository's root
with no ``--work`` (relative default paths), then ``report`` and ``status`` on relative
work directories; messages that stay whole whatever the length of the paths in them; a
crash that is not the user's fault as one line naming the log; exit codes in every
command's help. (Running from a directory other than the repository root is what the
session fixture ``tiny_run`` does for every test that uses it.)"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, copy_workdir, run_cli, said
from typer.testing import CliRunner

from facetflow.cli import EXIT_CODES, app


def fresh_copy(dst: Path) -> Path:
    """The files a fresh clone has (tracked, plus new files not ignored), copied to ``dst``:
    no work directories, no build output, no install stamp."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout
    for rel in filter(None, listed.split("\0")):
        src = ROOT / rel
        if src.is_file():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / rel)
    return dst


def user_env(tmp: Path) -> dict:
    """The environment of a user's shell: no PYTHONPATH pointing into this checkout."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["XDG_STATE_HOME"] = str(tmp / "state")
    return env


def facetflow_console() -> list[str]:
    """The installed ``facetflow`` console command (what the README's tour types)."""
    exe = shutil.which("facetflow")
    return [exe] if exe else [sys.executable, "-m", "facetflow.cli"]


def test_readme_main_command_as_written_in_a_fresh_clone(tmp_path):
    # This environment's install is brought up to date from this checkout first (a no-op
    # under scripts/test), so the clone's scripts/facetflow finds it current and does not
    # point the environment's editable install at the clone, which is deleted afterwards.
    subprocess.run(["bash", str(ROOT / "scripts" / "install.sh")], check=True,
                   capture_output=True)
    clone = fresh_copy(tmp_path / "facetflow-clone")
    env = user_env(tmp_path)
    run = subprocess.run(["scripts/facetflow", "run", "studies/tiny.yaml", "--no-pictures"],
                         cwd=clone, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:] + run.stdout[-2000:]
    workdir = clone / "work" / "tiny"
    summary = json.loads((workdir / "report" / "summary.json").read_text())
    assert summary["growth"]["cases"], "the run ends with a growth prediction"
    assert "Traceback" not in run.stderr
    log = (workdir / "facetflow.log").read_text()
    assert said("run of tiny", log) and "engine mlip" in log and "finished:" in log
    # no terminal: progress comes as log lines, not as nothing
    assert "progress:" in run.stderr
    for cmd in (["report", "work/tiny"], ["status", "work/tiny"]):
        proc = subprocess.run(facetflow_console() + cmd, cwd=clone, env=env,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr + proc.stdout
    assert said("mlip/slab", proc.stdout) and "pending" in proc.stdout
    where = subprocess.run([sys.executable, "-c", "import facetflow; print(facetflow.__file__)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True)
    assert not where.stdout.strip().startswith(str(clone)), "the install moved to the clone"


def test_two_first_runs_at_once_install_once(tmp_path):
    """Two scripts/facetflow started together on a machine without the install stamp:
    one installs, the other waits for it on the lock and then finds the work done (before
    the lock, both ran pip and the second could fail halfway)."""
    env = {**user_env(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    script = str(ROOT / "scripts" / "install.sh")
    procs = [subprocess.Popen(["bash", script], env=env, cwd=tmp_path, text=True,
                              stderr=subprocess.PIPE) for _ in range(2)]
    errs = [p.communicate(timeout=900)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs
    assert sum("installing Python packages" in e for e in errs) == 1, errs
    assert list((tmp_path / "cache" / "facetflow").glob("installed-main-*"))


def test_messages_are_not_wrapped_whatever_the_path_length(tmp_path):
    deep = tmp_path / ("a-rather-long-folder-name-" * 6) / ("and-another-one-" * 5)
    deep.mkdir(parents=True)
    proc = run_cli("status", str(deep))
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if "not a facetflow work directory" in ln]
    assert lines and str(deep) in lines[0], proc.stderr


def test_a_crash_outside_a_run_is_one_line_naming_the_log(tmp_path):
    wd = tmp_path / "broken"
    wd.mkdir()
    (wd / "plan.json").write_text("{ this is not json")
    proc = run_cli("status", str(wd), env={"XDG_STATE_HOME": str(tmp_path / "state")})
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    log = tmp_path / "state" / "facetflow" / "facetflow.log"
    assert str(log) in lines[0] and "internal error" in lines[0]
    text = log.read_text()
    assert "Traceback" in text and "JSONDecodeError" in text


def test_a_crash_inside_a_run_goes_to_the_runs_log(tmp_path, tiny_run):
    from facetflow.analysis.report import ALSO_FILE

    work = copy_workdir(tiny_run, tmp_path / "work")
    # a file the program wrote, damaged: the analysis step cannot read it
    (work / "tiny" / ALSO_FILE).write_text("[ not json")
    proc = run_cli("run", str(ROOT / "studies" / "tiny.yaml"), "--no-pictures",
                   "--no-progress", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr + proc.stdout
    log = work / "tiny" / "facetflow.log"
    crash = [ln for ln in proc.stderr.splitlines() if "internal error" in ln]
    assert len(crash) == 1 and str(log) in crash[0] and "Traceback" not in proc.stderr
    assert "Traceback" in log.read_text()


def test_every_command_states_its_exit_codes_as_the_readme_does():
    readme = (ROOT / "README.md").read_text()
    runner = CliRunner()
    for command in app.registered_commands:
        name = command.name or command.callback.__name__
        res = runner.invoke(app, [name, "--help"], terminal_width=200)
        assert res.exit_code == 0, res.output
        assert said("Exit codes: 0 success", res.output), name
    for code, meaning in EXIT_CODES.items():
        assert f"| {code} |" in readme, f"README's exit-code table lacks {code} ({meaning})"
