"""The SQLite results store: a read is reused only while the file is unchanged; a bad row
is reported once; only PostgreSQL's unique violations are retried."""

import sqlite3

import pytest
from ase.build import bulk

from facetflow.records.calc import CalcResult, atoms_to_dict
from facetflow.store import ResultStore


def _result(energy: float) -> CalcResult:
    return CalcResult(engine="mlip", task="relax", converged=True, energy=energy,
                      forces=[[0.0, 0.0, 0.0]], structure=atoms_to_dict(bulk("Cu")))


def test_repeated_reads_see_every_change(tmp_path):
    url = tmp_path / "results.db"
    writer, reader = ResultStore(url), ResultStore(url)
    writer.put("a", _result(-1.0), "a", {})
    first = reader.all()
    assert reader.all() == first and first["a"].result.energy == -1.0
    # a write through another store object: seen at once
    writer.put("a", _result(-2.0), "a", {})
    writer.put("b", _result(-3.0), "b", {})
    again = reader.all()
    assert again["a"].result.energy == -2.0 and set(again) == {"a", "b"}
    assert set(reader.all(status="done")) == {"a", "b"} and reader.all(status="failed") == {}
    # a row changed behind the store's back (same length, old checksum) after a read
    con = sqlite3.connect(url)
    (rid, data), = con.execute("SELECT id, data FROM systems WHERE key_value_pairs LIKE "
                               "'%\"calc_hash\": \"b\"%'")
    i = data.index(b'"energy":-') + len(b'"energy":-')
    con.execute("UPDATE systems SET data = ? WHERE id = ?",
                (data[:i] + b"4" + data[i + 1:], rid))
    con.commit()
    con.close()
    fresh = ResultStore(url)
    assert set(fresh.all()) == {"a"}
    assert [p.calc_hash for p in fresh.problems] == ["b"]
    assert "checksum mismatch" in fresh.problems[0].reason


def _corrupt(url, calc_hash: str) -> None:
    """Change a stored energy behind the store's back (same length, old checksum)."""
    con = sqlite3.connect(url)
    (rid, data), = con.execute("SELECT id, data FROM systems WHERE key_value_pairs LIKE "
                               f"'%\"calc_hash\": \"{calc_hash}\"%'")
    i = data.index(b'"energy":-') + len(b'"energy":-')
    con.execute("UPDATE systems SET data = ? WHERE id = ?",
                (data[:i] + b"7" + data[i + 1:], rid))
    con.commit()
    con.close()


def test_a_bad_row_is_reported_once_however_often_it_is_read(tmp_path):
    url = tmp_path / "results.db"
    store = ResultStore(url)
    store.put("a", _result(-1.0), "a", {})
    store.put("b", _result(-2.0), "b", {})
    _corrupt(url, "b")
    for _ in range(3):  # the second and third reads come from the cache of the first
        assert set(store.all()) == {"a"}
    assert store.get("b") is None
    assert [p.calc_hash for p in store.problems] == ["b"]


def test_only_postgres_unique_violations_are_retried(tmp_path, monkeypatch):
    """A write that fails for another reason (here an SQLite integrity error, whose class
    name the store once took for PostgreSQL's) is raised at once, not retried."""
    import psycopg2.errors

    from facetflow import store as store_module

    assert store_module._unique_violation() is psycopg2.errors.UniqueViolation
    store = ResultStore(tmp_path / "results.db")
    calls = []

    def broken_db():
        calls.append(1)
        raise sqlite3.IntegrityError("constraint failed")

    monkeypatch.setattr(store, "_db", broken_db)
    with pytest.raises(sqlite3.IntegrityError):
        store.put("a", _result(-1.0), "a", {})
    assert calls == [1]


def test_a_result_of_another_schema_is_a_problem_not_a_crash(tmp_path):
    """A row with a valid checksum whose result is not a CalcResult (another version
    wrote it) is reported and recomputed."""
    store = ResultStore(tmp_path / "results.db")
    store.put("a", _result(-1.0), "a", {})
    store._replace("old", None, "done", "old", {}, result={"energy": "low"})
    assert set(store.all()) == {"a"}
    assert [p.calc_hash for p in store.problems] == ["old"]
    assert "not a CalcResult" in store.problems[0].reason
