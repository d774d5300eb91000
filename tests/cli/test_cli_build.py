"""`facetflow build`: manifest, files, and clear errors with nothing written on bad input."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import said
from typer.testing import CliRunner

from facetflow.cli import app
from facetflow.records.structure import ManifestError, read_manifest

ROOT = Path(__file__).resolve().parents[2]
QUICK = yaml.safe_load((ROOT / "studies" / "quick.yaml").read_text())
runner = CliRunner()



def write_study(tmp_path: Path, data: dict, name: str = "study.yaml") -> Path:
    p = tmp_path / name
    p.write_text(yaml.safe_dump(data))
    return p


def test_build_quick_writes_manifest_and_files(tmp_path):
    out = tmp_path / "build"
    res = runner.invoke(app, ["build", str(ROOT / "studies" / "quick.yaml"), "--out", str(out)])
    assert res.exit_code == 0, res.output
    manifest = read_manifest(out / "manifest.json")  # refuses another schema
    assert manifest.study == "quick"
    entries = manifest.structures
    assert len(entries) > 20
    roles = {e.role for e in entries}
    # binding structures wait for theta* (built in the run's second stage), and the
    # command says so
    assert roles == {"bare", "shell", "ligands", "variant", "reference", "passivation"}
    assert "theta*" in res.output
    from ase.io import read

    for e in entries:
        atoms = read(out / e.file)
        assert len(atoms) == e.n_atoms
        assert atoms.get_chemical_formula() == e.formula
        assert (out / e.picture).stat().st_size > 1000
        if e.facet_label == "111":
            assert e.pseudo_h == {"0.75": 4}
    # a second build into the same folder replaces it cleanly
    res = runner.invoke(app, ["build", str(ROOT / "studies" / "quick.yaml"), "--out", str(out),
                              "--no-pictures"])
    assert res.exit_code == 0
    again = read_manifest(out / "manifest.json").structures
    assert [e.sha256 for e in again] == [e.sha256 for e in entries]
    assert not (out / "pictures").exists() or not any((out / "pictures").iterdir())


def test_manifest_of_another_schema_is_refused(tmp_path):
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"version": 1, "structures": []}))
    with pytest.raises(ManifestError, match="version 1 is not facetflow.manifest/2"):
        read_manifest(path)


def mutate(**changes) -> dict:
    data = json.loads(json.dumps(QUICK))
    for path, value in changes.items():
        node = data
        keys = path.split("__")
        for k in keys[:-1]:
            node = node[int(k)] if k.isdigit() else node[k]
        last = keys[-1]
        if last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value
    return data


BAD = {
    "unknown material": (mutate(core__material="Unobtainium"), "core.material"),
    "zero miller": (mutate(facets__0__miller=[0, 0, 0]), "facets.0.miller"),
    "coverage above 1": (mutate(ligands__0__coverages=[0.5, 1.5]), "ligands.0.coverages.1"),
    "coverage not representable": (mutate(ligands__0__coverages=[0.3]), "ligands.0.coverages"),
    "unknown ligand": (mutate(ligands__0__name="oleate"), "ligands.0.name"),
    "typo field": (mutate(slab__monolayer=4), "slab.monolayer"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_invalid_study_clear_error_nothing_written(tmp_path, case):
    data, field = BAD[case]
    study = write_study(tmp_path, data)
    out = tmp_path / "out"
    res = runner.invoke(app, ["build", str(study), "--out", str(out)])
    assert res.exit_code == 2
    assert field in res.output, res.output
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["study.yaml"]


def test_custom_ligand_without_anchors(tmp_path):
    xyz = ROOT / "tests" / "data" / "propanoate.xyz"
    (tmp_path / "lig.xyz").write_text(xyz.read_text())
    data = mutate()
    data["custom_ligands"] = [{"name": "propanoate", "file": "lig.xyz", "anchors": []}]
    data["ligands"] = [{"name": "propanoate", "coverages": [0.5]}]
    study = write_study(tmp_path, data)
    res = runner.invoke(app, ["build", str(study), "--out", str(tmp_path / "out")])
    assert res.exit_code == 2
    assert "custom_ligands.0.anchors" in res.output
    assert not (tmp_path / "out").exists()


def test_custom_ligand_study_builds(tmp_path):
    xyz = ROOT / "tests" / "data" / "propanoate.xyz"
    (tmp_path / "lig.xyz").write_text(xyz.read_text())
    data = mutate()
    data["facets"] = [data["facets"][0]]
    data["custom_ligands"] = [{"name": "propanoate", "file": "lig.xyz", "anchors": [0, 1],
                               "reference": {"CH3COOH": 1}}]
    data["ligands"] = [{"name": "propanoate", "coverages": [0.5]}]
    study = write_study(tmp_path, data)
    out = tmp_path / "out"
    res = runner.invoke(app, ["build", str(study), "--out", str(out), "--no-pictures"])
    assert res.exit_code == 0, res.output
    entries = read_manifest(out / "manifest.json").structures
    assert any(e.ligand == "propanoate" and e.role == "ligands" for e in entries)


def test_console_script_exit_code(tmp_path):
    study = write_study(tmp_path, mutate(core__material="Xx"))
    proc = subprocess.run([sys.executable, "-m", "facetflow.cli", "validate", str(study)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert said("unknown material", proc.stderr)


def test_run_rejects_unknown_engine_before_writing(tmp_path):
    res = runner.invoke(app, ["run", str(ROOT / "studies" / "quick.yaml"), "--work",
                              str(tmp_path / "w"), "--engine", "nonesuch"])
    assert res.exit_code == 2 and "--engine" in res.output
    assert not (tmp_path / "w").exists()
