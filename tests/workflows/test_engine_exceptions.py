"""An exception inside an engine that is not a ``CalcError`` (a missing file, a bug in one
structure) is stored as a failed calculation with its type, like an engine's own failure:
not left pending, the rest of the batch goes on, and a rerun tries it again."""

import pytest
from conftest import STUDIES

from facetflow.records.calc import CalcResult, atoms_to_dict
from facetflow.store import ResultStore
from facetflow.workflows.tasks import _Batch, _ready_groups, _run_each, _run_together


class _Broken:
    """An engine whose calculations raise ``exc`` for every structure named in ``bad``."""

    def __init__(self, bad: set[int], exc: Exception) -> None:
        self.bad, self.exc = bad, exc

    def run(self, atoms, task, settings) -> CalcResult:
        if len(atoms) in self.bad:
            raise self.exc
        return CalcResult(engine="stub", task=task, converged=True,
                          energy=-1.0 * len(atoms), forces=[[0.0] * 3] * len(atoms),
                          structure=atoms_to_dict(atoms))

    def run_many(self, structures, task, settings, on_result=None):
        raise self.exc


@pytest.fixture(scope="module")
def quick_plan(quick_records):
    from facetflow.study import load_study
    from facetflow.workflows.plan import build_plan

    return build_plan(load_study(STUDIES / "quick.yaml"), quick_records)


def _molecules(plan, store):
    batch = _Batch(plan, store, None)
    refs = [h for h, n in plan.nodes.items() if n.purpose == "molecule"][:2]
    items = [item for group in _ready_groups(batch, refs).values() for item in group]
    return batch, items


def test_a_non_calc_error_is_stored_as_failed_and_retried(quick_plan, tmp_path):
    store = ResultStore(tmp_path / "results.db")
    batch, items = _molecules(quick_plan, store)
    sizes = [len(a) for _, a in items]
    assert len(set(sizes)) == 2
    _run_each(batch, _Broken({sizes[0]}, FileNotFoundError("model.pth: no such file")),
              items)
    first, second = (store.get(node.hash) for node, _ in items)
    assert first.status == "failed" and "FileNotFoundError: model.pth" in first.error
    assert second.status == "done"  # the other structure went on
    assert batch.counts.failed == 1 and batch.counts.run == 1
    # a rerun tries the failed one again, and reuses the finished one
    again, items = _molecules(quick_plan, store)
    assert [node.hash for node, _ in items] == [items[0][0].hash]
    assert again.counts.reused == 1


def test_a_batch_that_raises_stores_each_structure_as_failed(quick_plan, tmp_path):
    store = ResultStore(tmp_path / "results.db")
    batch, items = _molecules(quick_plan, store)
    _run_together(batch, _Broken(set(), KeyError("species")), "relax", items)
    rows = [store.get(node.hash) for node, _ in items]
    assert all(r.status == "failed" and r.error == "KeyError: 'species'" for r in rows)
    assert batch.counts.failed == len(items) == 2


def test_a_calculation_that_failed_twice_is_left_alone_until_asked(quick_plan, tmp_path):
    """A run retries a failure once (it may have been the machine's); after the second
    failure in a row runs leave it alone, unless --retry-failed; the rest still runs."""
    from facetflow.workflows.workdir import pending_calculations

    store = ResultStore(tmp_path / "results.db")
    broken = _Broken(set(), FileNotFoundError("model.pth: no such file"))
    batch, items = _molecules(quick_plan, store)
    broken.bad = {len(items[0][1])}
    failing = items[0][0].hash
    _run_each(batch, broken, items[:1])
    assert store.get(failing).meta["attempts"] == 1
    assert failing in pending_calculations(quick_plan, store)  # tried once more
    _run_each(_Batch(quick_plan, store, None), broken, items[:1])
    assert store.get(failing).meta["attempts"] == 2
    pending = pending_calculations(quick_plan, store)
    assert failing not in pending and len(pending) == len(quick_plan.nodes) - 1
    assert failing in pending_calculations(quick_plan, store, retry_failed=True)
    # a success resets the count; a later failure starts again from one
    _run_each(_Batch(quick_plan, store, None), _Broken(set(), KeyError("x")), items[:1])
    assert store.get(failing).status == "done"
    store.put_failed(failing, "x", "again", {})
    assert store.get(failing).meta["attempts"] == 1
