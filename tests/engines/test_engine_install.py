"""``facetflow engines --install NAME``: what each engine needs comes from one recipe, the
pinned versions from facetflow's own metadata (pyproject extras), and an engine that
cannot be installed is refused with what to do instead (exit 3)."""

import tomllib

from conftest import ROOT, said
from typer.testing import CliRunner

from facetflow.cli import EXIT_ENGINE, app
from facetflow.engines.install import NOT_INSTALLABLE, RECIPES, pinned
from facetflow.records.calc import ENGINE_NAMES

runner = CliRunner()


def test_every_engine_has_a_recipe_or_a_reason():
    assert set(RECIPES) | set(NOT_INSTALLABLE) == set(ENGINE_NAMES)


def test_gpaw_versions_come_from_the_pyproject_extra():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    assert pinned("gpaw") == extras["gpaw"]
    assert all("==" in r for r in pinned("gpaw"))


def test_vasp_and_unknown_engines_are_refused_with_the_fix():
    res = runner.invoke(app, ["engines", "--install", "vasp"])
    assert res.exit_code == EXIT_ENGINE
    assert said("PMG_VASP_PSP_DIR", res.output) and said("licensed", res.output)
    res = runner.invoke(app, ["engines", "--install", "gaussian"])
    assert res.exit_code == EXIT_ENGINE and said("known: mlip", res.output)


def test_an_installed_engine_installs_nothing_and_lists_the_table():
    res = runner.invoke(app, ["engines", "--install", "mlip"])
    assert res.exit_code == 0, res.output
    assert said("mlip: already installed", res.output) and "usable" in res.output
