"""The results store on a real PostgreSQL server (Debian's postgresql, started by
scripts/postgres.sh): a study run into it, reruns that reuse it, concurrent writers."""

import multiprocessing as mp
import subprocess

import pytest
from conftest import STUDIES, run_cli, start_root_service, stop_root_service

pytestmark = pytest.mark.root_service


@pytest.fixture(scope="module")
def pg_url():
    url = start_root_service("postgres.sh")
    import psycopg2

    con = psycopg2.connect(url)  # an empty database for this module
    with con, con.cursor() as cur:
        cur.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    con.close()
    yield url
    stop_root_service("postgres.sh")


def _result(energy: float):
    from ase.build import bulk

    from facetflow.records.calc import CalcResult, atoms_to_dict

    return CalcResult(engine="mlip", task="relax", converged=True, energy=energy,
                      forces=[[0.0, 0.0, 0.0]], structure=atoms_to_dict(bulk("Cu")))


def _writer(url: str, worker: int, n: int) -> None:
    from facetflow.store import ResultStore

    store = ResultStore(url)
    for i in range(n):
        store.put(f"w{worker}-{i}", _result(-float(worker * 100 + i)), f"w{worker}", {})
        store.put("shared", _result(-1.0), f"w{worker}", {})
    for _ in range(2 * n):  # contention on one hash: without the per-hash lock this failed
        store.put("shared", _result(-1.0), f"w{worker}", {})


def test_concurrent_writers_keep_rows_apart(pg_url):
    from facetflow.store import ResultStore

    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(pg_url, w, 15)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    store = ResultStore(pg_url)
    rows = store.all()
    assert not store.problems
    for w in range(4):
        for i in range(15):
            got = rows[f"w{w}-{i}"]
            assert got.label == f"w{w}" and got.result.energy == -float(w * 100 + i)
    assert sum(1 for h in store.hashes() if h == "shared") == 1
    import psycopg2

    con = psycopg2.connect(pg_url)
    with con, con.cursor() as cur:
        cur.execute("SELECT count(*) FROM systems WHERE key_value_pairs->>'calc_hash' = "
                    "'shared'")
        assert cur.fetchone()[0] == 1  # one row per calculation, ever
    con.close()


def test_study_into_postgres_and_rerun(pg_url, tmp_path):
    work = tmp_path / "work"
    args = ("run", str(STUDIES / "tiny.yaml"), "--work", str(work), "--no-pictures",
            "--no-progress", "--store", pg_url)
    first = run_cli(*args)
    assert first.returncode == 0, first.stderr
    assert "21 run" in first.stdout
    assert "facetflow:facetflow@" not in first.stdout + first.stderr  # no password shown
    second = run_cli(*args)
    assert second.returncode == 0 and "0 run, 21 reused" in second.stdout
    listing = subprocess.run(["ase", "db", pg_url, "study=tiny", "-n"], capture_output=True,
                             text=True, timeout=120)
    assert listing.returncode == 0 and "21 rows" in listing.stdout
    report = run_cli("report", str(work / "tiny"))
    assert report.returncode == 0, report.stderr
