"""Malformed studies, generated: each gives a clear error naming the field, exit code 2
from `facetflow run`, and nothing is written (no work directory appears)."""

import copy
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from facetflow.cli import app

ROOT = Path(__file__).resolve().parents[2]
QUICK = yaml.safe_load((ROOT / "studies" / "quick.yaml").read_text())
runner = CliRunner()


def _set(d, path, value):
    *head, last = path
    for k in head:
        d = d[k]
    d[last] = value


def _delete(d, path):
    *head, last = path
    for k in head:
        d = d[k]
    del d[last]


# (what is changed, the field path the error must name, the change)
MUTATIONS = [
    ("name", lambda d: _delete(d, ["name"])),
    ("name", lambda d: _set(d, ["name"], "has spaces/and slashes")),
    ("core", lambda d: _delete(d, ["core"])),
    ("core.material", lambda d: _set(d, ["core", "material"], "Unobtainium")),
    ("core.material", lambda d: _set(d, ["core", "material"], 42)),
    ("shell.material", lambda d: _set(d, ["shell", "material"], "NotAShell")),
    ("shell.monolayers", lambda d: _set(d, ["shell", "monolayers"], -1)),
    ("slab.monolayers", lambda d: _set(d, ["slab", "monolayers"], 0)),
    ("slab.vacuum", lambda d: _set(d, ["slab", "vacuum"], -5.0)),
    ("slab.vacuum", lambda d: _set(d, ["slab", "vacuum"], "lots")),
    ("facets", lambda d: _set(d, ["facets"], [])),
    ("facets.0.miller", lambda d: _set(d, ["facets", 0, "miller"], [0, 0, 0])),
    ("facets.0.miller", lambda d: _set(d, ["facets", 0, "miller"], [1, 0])),
    ("facets.0.supercell", lambda d: _set(d, ["facets", 0, "supercell"], [0, 2])),
    ("facets.1.termination", lambda d: _set(d, ["facets", 1, "termination"], "Xx")),
    ("facets.0.growth_species", lambda d: _set(d, ["facets", 0, "growth_species"],
                                               ["Kryptonite"])),
    ("facets", lambda d: d["facets"].append(copy.deepcopy(d["facets"][0]))),
    ("ligands.0.name", lambda d: _set(d, ["ligands", 0, "name"], "unknownate")),
    ("ligands.0.coverages", lambda d: _set(d, ["ligands", 0, "coverages"], [1.5])),
    ("ligands.0.coverages", lambda d: _set(d, ["ligands", 0, "coverages"], [-0.25])),
    ("ligands.0.coverages", lambda d: _set(d, ["ligands", 0, "coverages"], [0.3])),
    ("ligands.0.coverages", lambda d: _set(d, ["ligands", 0, "coverages"], "half")),
    ("variants.0.replace_with", lambda d: _set(d, ["variants", 0, "replace_with"], "Xe2")),
    ("engine.name", lambda d: _set(d, ["engine", "name"], "gaussian")),
    ("engine.prerelax", lambda d: _set(d, ["engine", "prerelax"], "vasp")),
    ("conditions.temperature_C", lambda d: _set(d, ["conditions", "temperature_C"], -400)),
    ("conditions.limit", lambda d: _set(d, ["conditions", "limit"], "Se-rich-ish")),
    ("enumeration.max_configurations", lambda d: _set(d, ["enumeration",
                                                          "max_configurations"], 0)),
    ("workflow.batch_size", lambda d: _set(d, ["workflow"], {"batch_size": 0})),
    ("workflow.starts", lambda d: _set(d, ["workflow"], {"starts": 0})),
    ("workflow.start_rotation", lambda d: _set(d, ["workflow"], {"start_rotation": -10})),
    ("analysis.delta_mu", lambda d: _set(d, ["analysis"], {"delta_mu": {"Zn": [0.0, -1.0]}})),
    ("analysis.delta_mu.Xx", lambda d: _set(d, ["analysis"], {"delta_mu": {"Xx": [-1, 0]}})),
    ("engine.settings.fmax", lambda d: _set(d, ["engine", "settings"], {"fmax": -0.05})),
    ("engine.settings.optimiser", lambda d: _set(d, ["engine", "settings"],
                                                 {"optimiser": "LBFGS"})),
    ("engine.settings.workers", lambda d: _set(d, ["engine", "settings"], {"workers": 0})),
    ("engine.settings.slab.max_steps", lambda d: _set(d, ["engine", "settings"],
                                                      {"slab": {"max_steps": "many"}})),
    ("colour", lambda d: _set(d, ["colour"], "blue")),  # unknown key
    ("facets.0.spin", lambda d: _set(d, ["facets", 0, "spin"], True)),
]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(picks=st.lists(st.sampled_from(range(len(MUTATIONS))), min_size=1, max_size=3,
                      unique=True))
def test_malformed_study_is_refused_and_writes_nothing(tmp_path, picks):
    data = copy.deepcopy(QUICK)
    applied = []
    for i in picks:
        try:
            MUTATIONS[i][1](data)
            applied.append(i)
        except (KeyError, IndexError, TypeError):  # an earlier change removed its target
            continue
    picks = applied
    import tempfile

    case = Path(tempfile.mkdtemp(dir=tmp_path, prefix="case-"))
    study = case / "study.yaml"
    study.write_text(yaml.safe_dump(data))
    work = case / "work"
    res = runner.invoke(app, ["run", str(study), "--work", str(work), "--no-pictures",
                              "--no-progress"])
    assert res.exit_code == 2, res.output
    assert "error" in res.output
    named = [MUTATIONS[i][0] for i in picks]
    assert any(n.split(".")[0] in res.output for n in named), (named, res.output)
    assert not work.exists()  # nothing written
    assert sorted(p.name for p in case.iterdir()) == ["study.yaml"]


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(min_size=0, max_size=200))
def test_garbage_files_are_refused(tmp_path, text):
    import tempfile

    case = Path(tempfile.mkdtemp(dir=tmp_path, prefix="garbage-"))
    study = case / "garbage.yaml"
    study.write_text(text)
    work = case / "work"
    res = runner.invoke(app, ["run", str(study), "--work", str(work), "--no-progress"])
    assert res.exit_code == 2, res.output
    assert not work.exists()


def test_bad_queue_adapter_is_refused_before_anything_is_written(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("x: 1\n")
    for qadapter, says in ((tmp_path / "missing.yaml", "cannot read it"),
                           (bad, "not a FireWorks file")):
        work = tmp_path / "work"
        res = runner.invoke(app, ["submit", str(ROOT / "studies" / "quick.yaml"),
                                  "--qadapter", str(qadapter), "--work", str(work)])
        assert res.exit_code == 2, res.output
        assert "--qadapter" in res.output and says in res.output
        assert not work.exists()
