"""Engine settings are checked when the study is read: a wrong key or value is named
before anything runs, the presets themselves obey the same rules, and a study's
settings apply to its own engine only."""

import copy
from importlib import resources
from pathlib import Path

import pytest
import yaml

from facetflow.engines.presets import PURPOSES, settings_for
from facetflow.engines.settings import SETTINGS_MODELS, settings_problems
from facetflow.errors import SpecError
from facetflow.records.calc import ENGINE_NAMES
from facetflow.study import parse_study
from facetflow.workflows.plan import build_plan

ROOT = Path(__file__).resolve().parents[2]
QUICK = yaml.safe_load((ROOT / "studies" / "quick.yaml").read_text())


def test_every_engine_has_a_settings_model():
    assert set(SETTINGS_MODELS) == set(ENGINE_NAMES)


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
    from facetflow.engines.mlip import BATCHED
    from facetflow.engines.mlip_models import MODELS
    from facetflow.engines.optimize import OPTIMIZERS
    from facetflow.engines.settings import MlipSettings

    fields = MlipSettings.model_fields
    for name in MODELS:  # every registry model is a valid setting, any other name is not
        assert MlipSettings.model_validate({"model": name}).model == name
    with pytest.raises(ValueError, match="unknown model 'mace'"):
        MlipSettings.model_validate({"model": "mace"})
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


class _Stop(Exception):
    """Raised by a spy once it has seen what the engine would run with."""


def _slab_and_bulk(records):
    by_id = {r.id: r.atoms for r in records}
    return by_id["111_acetate_t0.500_c0"], by_id["ref_bulk_ZnSe"]


def test_mlip_with_empty_settings_runs_as_its_presets_say(quick_records, monkeypatch):
    """From Python, ``{}`` means the preset: a slab relaxes with the batched optimizer,
    step and initial Hessian of presets/mlip.yaml; a bulk reference relaxes its cell with
    the bulk fmax."""
    from facetflow.engines import get_engine, mlip

    seen: dict = {}

    def batched(name):
        def spy(structures, forces_fn, fmax, max_steps, on_done=None, **options):
            seen[name] = {"fmax": fmax, "max_steps": max_steps, **options}
            raise _Stop

        return spy

    def ase_relax(atoms, calc, fmax, max_steps, optimizer="FIRE", relax_cell=False):
        seen["ase"] = {"fmax": fmax, "max_steps": max_steps, "optimizer": optimizer,
                       "relax_cell": relax_cell}
        raise _Stop

    for name in mlip.BATCHED:
        monkeypatch.setitem(mlip.BATCHED, name, batched(name))
    monkeypatch.setattr(mlip, "relax_with_calculator", ase_relax)
    monkeypatch.setattr(mlip, "load_calculator", lambda model, device="cpu": (None, None))
    monkeypatch.setattr(mlip, "batch_forces", lambda *args, **kwargs: None)
    slab, bulk = _slab_and_bulk(quick_records)
    for atoms in (slab, bulk):
        with pytest.raises(_Stop):
            get_engine("mlip").run(atoms, "relax", {})
    p = settings_for("mlip", "slab")
    assert p["optimizer"] == "LBFGS"
    b = settings_for("mlip", "bulk")
    assert seen == {p["optimizer"]: {"fmax": p["fmax"], "max_steps": p["max_steps"],
                                     "maxstep": p["maxstep"], "h0": p["h0"]},
                    "ase": {"fmax": b["fmax"], "max_steps": b["max_steps"],
                            "optimizer": b["optimizer"], "relax_cell": True}}


def test_gpaw_with_empty_settings_runs_as_its_presets_say(monkeypatch):
    """A molecule with ``{}``: Gamma point and fixed occupations, as the molecule preset
    says (the engine's old fallbacks smeared by 0.05 eV with 3.5 k-points per Å^-1)."""
    from ase.build import molecule

    from facetflow.engines import get_engine, gpaw

    seen = {}

    def spy(atoms, s, beta, width, txt):
        seen.update(beta=beta, width=width, kpt_density=getattr(s, "kpt_density", None))
        raise _Stop

    monkeypatch.setattr(gpaw, "_calculator", spy)
    h2 = molecule("H2")
    h2.center(vacuum=5.0)
    eng = get_engine("gpaw")
    if not eng.available()[0]:
        pytest.skip(eng.available()[1])
    with pytest.raises(_Stop):
        eng.run(h2, "single", {})
    p = settings_for("gpaw", "molecule")
    assert seen == {"beta": p["mixer_beta"], "width": p["smearing"],
                    "kpt_density": p["kpt_density"]}


def test_resolved_settings_are_the_presets_overridden():
    from facetflow.engines.settings import resolve_settings

    s = resolve_settings("mlip", "bulk", {"fmax": 0.04, "slab": {"fmax": 0.1}})
    assert s.fmax == 0.04 and s.relax_cell is True and s.optimizer == "LBFGS"
    assert resolve_settings("mlip", "slab", {"slab": {"fmax": 0.1}}).fmax == 0.1
    with pytest.raises(SpecError, match="settings.optimiser: not a setting"):
        resolve_settings("mlip", "slab", {"optimiser": "FIRE"})


@pytest.mark.parametrize("engine", sorted(SETTINGS_MODELS))
def test_each_key_has_one_source_of_its_default(engine):
    """A key's value for every purpose comes from the preset's common section or from the
    model, never both (so the two cannot contradict each other); purpose sections make
    the exceptions."""
    from facetflow.engines.presets import common_keys

    model = SETTINGS_MODELS[engine]
    in_model = {k for k, f in model.model_fields.items() if f.default is not None}
    assert not in_model & common_keys(engine)


def test_non_physical_settings_stay_out_of_hashes():
    from facetflow.engines.settings import non_physical_settings, physical_settings

    assert non_physical_settings() == {
        "workdir", "command", "threads", "workers", "device", "batch_atoms", "walltime",
        "max_errors", "pseudo_dir", "ld1_command", "data_dir"}
    assert non_physical_settings("mlip") == {"workdir", "threads", "workers", "device",
                                             "batch_atoms"}
    s = settings_for("vasp", "slab")
    moved = {**s, "workdir": "/scratch/elsewhere", "walltime": 3600, "max_errors": 3}
    assert physical_settings(moved, "vasp") == physical_settings(s, "vasp")
    assert physical_settings({**s, "encut": 500}) != physical_settings(s)


def test_the_plan_hashes_without_every_non_physical_setting():
    """The plan's hash leaves out every key the settings models mark non-physical."""
    from facetflow.engines.settings import non_physical_settings
    from facetflow.records import plan

    assert non_physical_settings() <= plan.NON_PHYSICAL_SETTINGS


def test_settings_resolved_by_the_caller_are_not_guessed_again(tmp_path):
    """Bulk indium (atoms 3.25 Å apart) looks like a molecule to ``purpose_of``; settings
    resolved for bulk (as the plan's are) stay bulk settings, while ``{}`` is completed
    from the guessed purpose. VASP then writes a k-point mesh, not the Gamma point."""
    from ase.build import bulk
    from pymatgen.io.vasp.inputs import Kpoints

    from facetflow.engines.presets import purpose_of
    from facetflow.engines.settings import run_settings
    from facetflow.engines.vasp import _input_purpose, write_inputs

    indium = bulk("In", "bct", a=3.25, c=4.95)
    assert purpose_of(indium) == "molecule"
    s = run_settings("vasp", indium, settings_for("vasp", "bulk"))
    assert s.gamma_only is False and s.isif == 3
    assert run_settings("vasp", indium, {}).gamma_only is True
    assert run_settings("cp2k", indium, settings_for("cp2k", "bulk")).periodic == "XYZ"
    assert run_settings("cp2k", indium, {}).periodic == "NONE"
    write_inputs(indium, s, _input_purpose(indium, s), tmp_path)
    assert Kpoints.from_file(tmp_path / "KPOINTS").kpts[0][0] > 1


def test_gpaw_settings_that_cannot_run_are_refused_up_front(tmp_path):
    """An LCAO basis gpaw-data does not ship (a reduction such as sz(dzp) is fine), and a
    cell relaxation in LCAO mode (no stress tensor) for a purpose the study computes."""
    from conftest import ROOT, variant_study

    from facetflow.errors import SpecError
    from facetflow.study import load_study

    tiny = ROOT / "tests" / "data" / "gpaw_tiny.yaml"

    def with_settings(**settings):
        return variant_study(tmp_path, tiny, lambda d: d["engine"]["settings"].update(settings))

    load_study(with_settings(basis="sz(dzp)"))
    with pytest.raises(SpecError, match=r"engine.settings.basis: LCAO basis set not in the "
                                        r"installed gpaw-data \(got 'szp'\)"):
        load_study(with_settings(basis="szp"))

    def with_bulk(d):
        d["workflow"].update(bulk_references=True)
        d["engine"]["settings"]["bulk"] = {"relax_cell": True}

    with pytest.raises(SpecError, match="engine.settings.bulk.relax_cell: GPAW's LCAO mode "
                                        "has no stress tensor"):
        load_study(variant_study(tmp_path, tiny, with_bulk))
