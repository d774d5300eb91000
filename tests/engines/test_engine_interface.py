"""The engine interface: every engine declares what callers use (no probing), one
registry of engines, failures of a batch named per structure, imports one way."""

import ast
from pathlib import Path

import pytest
from ase.build import bulk

from facetflow.engines import ENGINE_MODULES, engine_table, get_engine
from facetflow.engines.base import CalcError, CalcErrors, EngineUnavailable, run_each
from facetflow.records.calc import ENGINE_NAMES, CalcResult, EngineIdentity, atoms_to_dict

PACKAGE = Path(__file__).resolve().parents[2] / "facetflow"


@pytest.mark.parametrize("name", ENGINE_NAMES)
def test_every_engine_has_the_whole_interface(name):
    eng = get_engine(name)
    assert eng.name == name
    for method in ("available", "run", "run_many", "identity"):
        assert callable(getattr(type(eng), method, None)), f"{name} lacks {method}"
    ident = eng.identity({})
    assert isinstance(ident, EngineIdentity) and ident.engine == name


def test_one_registry():
    assert [row[0] for row in engine_table()] == list(ENGINE_NAMES)
    assert set(ENGINE_MODULES) == set(ENGINE_NAMES)
    with pytest.raises(EngineUnavailable, match="unknown engine"):
        get_engine("nwchem")


def test_identity_keys_are_the_hashed_text():
    """The text in calculation hashes: package, version and model for the ML potential,
    the engine name for the DFT codes (their versions are pinned, not hashed)."""
    from importlib import metadata

    assert get_engine("mlip").identity({}).key == \
        f"chgnet {metadata.version('chgnet')} chgnet"
    assert get_engine("mlip").identity({"model": "sevennet-0"}).key == \
        f"sevenn {metadata.version('sevenn')} sevennet-0"
    assert get_engine("gpaw").identity({}).key == "gpaw"


class _HalfBroken:
    """An engine whose second calculation fails."""

    name = "fake"

    def run(self, atoms, task, settings):
        if len(atoms) == 2:
            raise CalcError("SCF did not converge")
        return CalcResult(engine="fake", task=task, converged=True, energy=-float(len(atoms)),
                          forces=[[0.0, 0.0, 0.0]] * len(atoms),
                          structure=atoms_to_dict(atoms))


def test_a_failed_structure_does_not_stop_the_others():
    structures = [bulk("Cu"), bulk("NaCl", "rocksalt", a=5.6), bulk("Al")]
    seen = []
    with pytest.raises(CalcErrors) as err:
        run_each(_HalfBroken(), structures, "single", {}, lambda i, r: seen.append(i))
    assert seen == [0, 2]
    assert err.value.failures == {1: "SCF did not converge"}
    assert "structure 1: SCF did not converge" in str(err.value)


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def test_store_and_workers_import_no_engine():
    """The store sits above the engines only through records; the worker pool runs any
    job function and imports no engine (no mlip <-> workers cycle)."""
    assert not {m for m in _imports(PACKAGE / "store.py") if m.startswith("facetflow.engines")}
    workers = _imports(PACKAGE / "engines" / "workers.py")
    assert {m for m in workers if m.startswith("facetflow.")} <= {"facetflow.engines.base",
                                                                   "facetflow.records.calc"}
    calc = _imports(PACKAGE / "records" / "calc.py")
    # the calculation record stands on plain records only (its optional electronic part)
    assert {m for m in calc if m.startswith("facetflow.")} <= {"facetflow.records.electronic"}
    assert not {m for m in _imports(PACKAGE / "records" / "electronic.py")
                if m.startswith("facetflow.")}
