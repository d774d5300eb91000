"""Calibration of an ML model's error bars from a reference data set
(``analysis.calibration``): ``facetflow dataset score`` writes a model's values of a data
set's reactions at the data set's own frames, and the binding residuals ML - reference by
species family set the calibration noise. Here the "reference" is a CHGNet run of the tiny
study exported as a data set and the scored model SevenNet-0, so the residuals are real
model differences at identical geometries."""

import json

import numpy as np
import pytest
from conftest import STUDIES, run_cli, said


@pytest.fixture(scope="module")
def scored(tiny_run, tmp_path_factory):
    from facetflow.analysis.dataset import export_dataset

    out = tmp_path_factory.mktemp("tiny-set")
    export_dataset([tiny_run / "tiny"], out, engines=("mlip",))
    proc = run_cli("dataset", "score", str(out), "--model", "sevennet-0")
    assert proc.returncode == 0, proc.stderr
    assert said("sevennet-0:", proc.stdout)
    return out, json.loads((out / "reactions.json").read_text()), json.loads(
        (out / "scores" / "sevennet-0.json").read_text())


def test_scores_apply_the_data_sets_coefficients_to_the_models_frame_energies(scored):
    from ase.io import read

    out, doc, scores = scored
    frames = read(out / "frames.extxyz", ":")
    assert set(scores["frames"]) == {a.info["calc_hash"] for a in frames}
    assert doc["reactions"] and set(scores["reactions"]) == {r["id"] for r in doc["reactions"]}
    for r in doc["reactions"]:
        mine = sum(c * scores["frames"][h] for h, c in r["coefficients"].items())
        assert scores["reactions"][r["id"]] == pytest.approx(mine, abs=1e-9)
    # another model than the data set's: its energies differ
    assert any(abs(scores["reactions"][r["id"]] - r["energy_eV"]) > 0.01
               for r in doc["reactions"])


def test_binding_residuals_by_family_set_the_calibration_noise(scored):
    from facetflow.analysis.calibration import dataset_residuals
    from facetflow.analysis.uncertainty import calibration_noise
    from facetflow.engines import get_engine

    out, doc, scores = scored
    identity = get_engine("mlip").identity({"model": "sevennet-0"}).key
    got, why = dataset_residuals(out, "sevennet-0", identity)
    assert why is None and set(got) >= {"ligand", "additive"}
    for family, values in got.items():
        expect = [scores["reactions"][r["id"]] - r["energy_eV"] for r in doc["reactions"]
                  if r["kind"] == "binding" and r["role"] == family]
        assert values == pytest.approx(expect)
    sigma, source = calibration_noise({"engine": {"name": "mlip"}}, [], (got, None))
    assert source["used"] and "calibration data set" in source["note"]
    for family, values in got.items():
        assert sigma[family] == pytest.approx(np.sqrt(np.mean(np.square(values))))
    # scores made with another engine identity, or no scores at all: not used, and why
    none, why = dataset_residuals(out, "sevennet-0", "mlip:someone-else")
    assert none == {} and "this run's engine is mlip:someone-else" in why
    none, why = dataset_residuals(out, "sevennet-l3i5", None)
    assert none == {} and "facetflow dataset score" in why
    sigma, source = calibration_noise({"engine": {"name": "mlip"}}, [], ({}, why))
    assert sigma == {} and not source["used"] and "dataset score" in source["note"]


def test_calibration_studies_choose_the_residuals_that_count(scored, tmp_path):
    """analysis.calibration_studies: only the named studies' reactions count; a name
    that is not a study of the data set is refused up front, naming the ones there are."""
    from conftest import variant_study

    from facetflow.analysis.calibration import dataset_residuals

    out, doc, scores = scored
    (name,) = {r["study"] for r in doc["reactions"]}
    every, _ = dataset_residuals(out, "sevennet-0", None)
    assert dataset_residuals(out, "sevennet-0", None, [name])[0] == every
    none, why = dataset_residuals(out, "sevennet-0", None, ["elsewhere"])
    assert none == {} and why.endswith("of elsewhere")
    study = variant_study(tmp_path, STUDIES / "quick.yaml",
                          lambda d: d.setdefault("analysis", {}).update(
                              calibration=str(out), calibration_studies=["elsewhere"]))
    proc = run_cli("validate", str(study))
    text = proc.stderr + proc.stdout
    assert proc.returncode == 2 and said("analysis.calibration_studies.0", text)
    assert said("not a study of the data set", text) and name in text


def test_a_calibration_folder_without_a_data_set_is_refused(tmp_path):
    from conftest import variant_study

    study = variant_study(tmp_path, STUDIES / "quick.yaml",
                          lambda d: d.setdefault("analysis", {}).update(
                              calibration="no_such_set"))
    proc = run_cli("validate", str(study))
    assert proc.returncode == 2
    assert said("analysis.calibration", proc.stderr + proc.stdout)
    assert said("no reactions.json", proc.stderr + proc.stdout)


def test_scoring_the_calibration_set_redraws_the_report(tiny_run, scored, tmp_path):
    """The report of an unchanged store is reused, but scores written to the study's
    calibration data set change its error bars: the rerun's report takes them up."""
    import shutil

    from facetflow.analysis.report import write_report

    out, _doc, _scores = scored
    wd = tmp_path / "tiny"
    shutil.copytree(tiny_run / "tiny", wd)
    ctx = json.loads((wd / "study.json").read_text())
    ctx["study"].setdefault("analysis", {})["calibration"] = str(out)
    (wd / "study.json").write_text(json.dumps(ctx))

    def calibration():
        summary = json.loads(write_report(wd, figures=False).read_text())
        return summary["uncertainty"]["sources"]["calibration"]

    before = calibration()  # the set has SevenNet-0 scores only; the run is CHGNet
    assert not before["used"] and "no scores of chgnet" in before["note"]
    assert run_cli("dataset", "score", str(out), "--model", "chgnet").returncode == 0
    after = calibration()
    assert after["used"] and "calibration data set" in after["note"]
