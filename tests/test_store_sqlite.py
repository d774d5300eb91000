"""The SQLite results store: a read is reused only while the file is unchanged."""

import sqlite3

from ase.build import bulk

from facetflow.engines.base import CalcResult, atoms_to_dict
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
