from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STUDIES = ROOT / "studies"


def optimum_at(study, theta: float) -> dict[str, dict[str, str]]:
    """A stand-in for the theta* a run's first stage picks: every facet's first arrangement
    of every swept ligand at ``theta`` (so the binding structures are built there)."""
    from facetflow.structures.ids import arrangement_id

    return {f.label: {ls.name: arrangement_id(f.label, ls.name, theta, 0)
                      for ls in study.ligands}
            for f in study.facets}


def full_catalog(name: str, theta: float = 1.0) -> list:
    """A study's structures with its binding structures at ``theta`` (both stages)."""
    from facetflow.structures.catalog import build_catalog
    from facetflow.study import load_study

    study = load_study(STUDIES / f"{name}.yaml")
    return build_catalog(study, STUDIES, optimum_at(study, theta))


@pytest.fixture(scope="session")
def paper_records():
    return full_catalog("inas_znse_fluoride", 0.375)  # 0.375: both ligands swept there


@pytest.fixture(scope="session")
def quick_records():
    return full_catalog("quick", 0.5)


def pseudo_h_pair(cell: float, distance: float):
    """A pseudo-molecule H(0.75)-H(1.25) in a cubic box: 2 valence electrons exactly."""
    import numpy as np
    from ase import Atoms

    m = Atoms("HH", positions=[[0, 0, 0], [0, 0, distance]], cell=[cell] * 3, pbc=True)
    m.center()
    m.new_array("pseudo_h_charge", np.array([0.75, 1.25]))
    return m


DATA = ROOT / "tests" / "data"


def facetflow_cmd(*args: str) -> list[str]:
    """The facetflow command line as a subprocess argument list."""
    import sys

    return [sys.executable, "-m", "facetflow.cli", *args]


def run_cli(*args: str, timeout: float = 600, env: dict | None = None, cwd: Path = ROOT):
    """Run the facetflow command line in a subprocess from ``cwd`` (the repository root
    unless given), with this checkout's package first on the import path."""
    import os
    import subprocess

    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    full_env = {**os.environ, "PYTHONPATH": path, **(env or {})}
    return subprocess.run(facetflow_cmd(*args), capture_output=True, text=True,
                          timeout=timeout, env=full_env, cwd=cwd)


def said(phrase: str, text: str) -> bool:
    """Whether ``text`` contains ``phrase``, whatever the line breaks and runs of spaces in
    either (a message's wording is tested, not the console's layout)."""
    return " ".join(phrase.split()) in " ".join(text.split())


def variant_study(tmp_path: Path, source: Path, edit) -> Path:
    """A copy of study ``source`` changed by ``edit(dict)``, written under ``tmp_path``."""
    import yaml

    data = yaml.safe_load(source.read_text())
    edit(data)
    out = tmp_path / source.name
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """One finished run of studies/tiny.yaml (21 calculations, ~20 s); tests that
    change it work on copies (``copy_workdir``). It runs as a user types it from a
    directory of their own: no ``--work``, so in ``./work`` of a fresh current directory
    that is not the repository root; returns that work root."""
    cwd = tmp_path_factory.mktemp("tiny-cwd")
    proc = run_cli("run", str(STUDIES / "tiny.yaml"), "--no-pictures", "--no-progress",
                   cwd=cwd)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert (cwd / "work" / "tiny" / "report" / "summary.json").is_file()
    return cwd / "work"


def copy_workdir(src_root: Path, dst_root: Path, name: str = "tiny") -> Path:
    """Copy a work root (without its lock) so a test can change it freely."""
    import json
    import shutil

    shutil.copytree(src_root / name, dst_root / name,
                    ignore=shutil.ignore_patterns(".lock"))
    marker = dst_root / name / "store.json"  # the copy reads its own store, not the original's
    if marker.is_file():
        url = json.loads(marker.read_text())["url"]
        if url == str((src_root / name / "results.db").resolve()):
            marker.write_text(json.dumps({"url": str((dst_root / name / "results.db").resolve())}))
    return dst_root


def spec_problems(study_file: Path, edit, source: str = "study") -> list:
    """The problems ``parse_study`` reports for ``study_file`` changed by ``edit(dict)``
    (the test fails if the edited study is accepted)."""
    import yaml

    from facetflow.errors import SpecError
    from facetflow.study import parse_study

    data = yaml.safe_load(study_file.read_text())
    edit(data)
    with pytest.raises(SpecError) as exc:
        parse_study(data, source, study_file.parent)
    return exc.value.problems


def finished_run(tmp_path_factory, study: Path, name: str):
    """Run ``study`` to the end in a fresh work root: (work dir, summary dict, stdout)."""
    import json

    work = tmp_path_factory.mktemp(name)
    proc = run_cli("run", str(study), "--work", str(work), "--no-pictures", "--no-progress")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    wd = work / name
    return wd, json.loads((wd / "report" / "summary.json").read_text()), proc.stdout


@pytest.fixture(scope="session")
def zns_defects_run(tmp_path_factory):
    """One finished run of tests/data/zns_defects_tiny.yaml (CHGNet): (work dir, summary);
    shared by the defect tests and the data-set tests, which only read it."""
    wd, summary, _ = finished_run(tmp_path_factory, DATA / "zns_defects_tiny.yaml",
                                  "zns_defects_tiny")
    return wd, summary


def start_root_service(script: str) -> str:
    """Start a root service with ``scripts/<script> start`` (Slurm, PostgreSQL) and return
    its last output line (e.g. the database URL). Where it cannot start because this is
    not root and ``CI`` is not set, the test is skipped with the reason; in CI, and as
    root, a failure to start fails the test."""
    import os
    import subprocess

    proc = subprocess.run(["bash", str(ROOT / "scripts" / script), "start"],
                          capture_output=True, text=True, timeout=180)
    if proc.returncode != 0 and os.geteuid() != 0 and not os.environ.get("CI"):
        pytest.skip(f"scripts/{script} start needs root (not root here, CI not set): "
                    f"{proc.stderr.strip()[-300:]}")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    return lines[-1] if lines else ""


def stop_root_service(script: str) -> None:
    import subprocess

    subprocess.run(["bash", str(ROOT / "scripts" / script), "stop"], capture_output=True,
                   timeout=120)
