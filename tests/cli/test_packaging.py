"""The package installs whole: a wheel built from the source, installed (non-editable) into
a fresh virtual environment, validates every study in ``studies/`` with its own data files
(materials, ligands, paper findings, presets) from a directory outside the repository."""

import subprocess
import sys
from pathlib import Path

from conftest import ROOT, STUDIES
from test_readme_commands import fresh_copy


def test_wheel_in_a_fresh_venv_validates_every_study(tmp_path):
    src = fresh_copy(tmp_path / "src")
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--quiet", "-w", str(dist), str(src)], check=True, capture_output=True)
    wheel = next(dist.glob("facetflow-*.whl"))
    venv = tmp_path / "venv"
    # the dependencies (PyTorch, pymatgen, ...) come from this environment's site-packages;
    # facetflow itself only from the wheel
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)],
                   check=True)
    py, exe = venv / "bin" / "python", venv / "bin" / "facetflow"
    subprocess.run([str(py), "-m", "pip", "install", "--no-deps", "--quiet",
                    "--disable-pip-version-check", str(wheel)], check=True,
                   capture_output=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path)}
    where = subprocess.run([str(py), "-c", "import facetflow; print(facetflow.__file__)"],
                           cwd=elsewhere, env=env, capture_output=True, text=True, check=True)
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout
    assert not Path(where.stdout.strip()).is_relative_to(ROOT)
    studies = sorted(str(p) for p in STUDIES.glob("*.yaml"))
    proc = subprocess.run([str(exe), "validate", *studies], cwd=elsewhere, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert proc.stdout.count(": valid,") == len(studies)
