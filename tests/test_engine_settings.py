"""Engine settings are checked when the study is read: a wrong key or value is named
before anything runs, the presets themselves obey the same rules, and a study's
settings apply to its own engine only."""

import copy
from importlib import resources
from pathlib import Path

import pytest
import yaml

from facetflow.engines import ENGINE_MODULES
from facetflow.engines.base import PURPOSES, settings_for
from facetflow.engines.settings import SETTINGS_MODELS, settings_problems
from facetflow.errors import SpecError
from facetflow.study import parse_study
from facetflow.workflows.plan import build_plan

ROOT = Path(__file__).resolve().parent.parent
QUICK = yaml.safe_load((ROOT / "studies" / "quick.yaml").read_text())


def test_every_engine_has_a_settings_model():
    assert set(SETTINGS_MODELS) == set(ENGINE_MODULES)


@pytest.mark.parametrize("engine", sorted(SETTINGS_MODELS))
def test_presets_obey_their_model(engine):
    text = resources.files("facetflow.presets").joinpath(f"{engine}.yaml").read_text()
    preset = yaml.safe_load(text)
    assert set(preset) <= {"common", *PURPOSES}
    for section, values in preset.items():
        assert settings_problems(engine, values or {}, f"{engine}.{section}") == [], section
    for purpose in PURPOSES:  # the merged settings an engine is given
        assert settings_problems(engine, settings_for(engine, purpose)) == []


def test_mlip_models_are_the_engines_models():
    from facetflow.engines.mlip import BATCHED, MODELS
    from facetflow.engines.optimize import OPTIMIZERS
    from facetflow.engines.settings import MlipSettings

    fields = MlipSettings.model_fields
    assert set(fields["model"].annotation.__args__[0].__args__) == set(MODELS)
    assert set(fields["optimizer"].annotation.__args__[0].__args__) == \
        set(OPTIMIZERS) | set(BATCHED)


@pytest.mark.parametrize("settings, path, says", [
    ({"fmax": 0}, "engine.settings.fmax", "greater than 0"),
    ({"fmax": "0.05"}, "engine.settings.fmax", "valid number"),
    ({"optimiser": "LBFGS"}, "engine.settings.optimiser", "not a setting of the mlip"),
    ({"optimizer": "SD"}, "engine.settings.optimizer", "'LBFGS', 'FIRE' or 'BFGS'"),
    ({"workers": 0}, "engine.settings.workers", "'auto' or a whole number"),
    ({"workers": True}, "engine.settings.workers", "valid integer"),
    ({"max_steps": 10.5}, "engine.settings.max_steps", "integer"),
    ({"device": "gpu"}, "engine.settings.device", "cpu, cuda, cuda:N or mps"),
    ({"slab": {"h0": "big"}}, "engine.settings.slab.h0", "'scaled' or 'fixed'"),
    ({"slab": 3}, "engine.settings.slab", "must be a mapping"),
])
def test_bad_mlip_settings_are_named(settings, path, says):
    data = copy.deepcopy(QUICK)
    data["engine"] = {"name": "mlip", "settings": settings}
    with pytest.raises(SpecError) as err:
        parse_study(data, "quick.yaml", ROOT / "studies")
    text = str(err.value)
    assert path in text and says in text, text
    assert [p.path for p in err.value.problems] == [path]


def test_an_unknown_key_lists_the_allowed_ones():
    problems = settings_problems("qe", {"ecut": 40})
    assert len(problems) == 1 and "ecutwfc" in problems[0].allowed
    assert settings_problems("qe", {"ecutwfc": 40, "slab": {"kpt_density": 2.0}}) == []
    assert settings_problems("vasp", {"incar": {"LREAL": "Auto"}, "ediffg": -0.02}) == []
    assert [p.path for p in settings_problems("vasp", {"ispin": 3, "isif": 9})] == \
        ["engine.settings.ispin", "engine.settings.isif"]


def test_study_settings_stay_with_their_engine(quick_records):
    data = copy.deepcopy(QUICK)
    data["engine"] = {"name": "mlip", "settings": {"fmax": 0.04, "workers": 1}}
    study = parse_study(data, "quick.yaml", ROOT / "studies")
    own = build_plan(study, quick_records)
    other = build_plan(study, quick_records, engine="gpaw")
    slab = next(n for n in own.nodes.values() if n.purpose == "slab")
    assert slab.settings["fmax"] == 0.04
    gslab = next(n for n in other.nodes.values() if n.purpose == "slab")
    assert "workers" not in gslab.settings  # an mlip setting does not leak into GPAW
    assert gslab.settings["fmax"] == settings_for("gpaw", "slab")["fmax"]
