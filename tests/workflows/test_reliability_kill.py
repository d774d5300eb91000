"""kill -9 at random points of the quick study, resumed each time: the final summary.json
is byte-for-byte the uninterrupted run's and no calculation is computed twice.

The kill points are random (seeded from the clock; the seed is printed, and
FACETFLOW_KILL_SEED replays one): a delay after the start of each attempt, so kills land
in start-up, structure building, the middle of a batched relaxation, between levels or
in the report. About 6 minutes on 2 cores (one uninterrupted run, five killed attempts,
one final run)."""

import json
import os
import random
import signal
import subprocess
import time

from conftest import STUDIES, facetflow_cmd, run_cli

QUICK = STUDIES / "quick.yaml"
ATTEMPTS = 5


def _done_counts(sdir) -> dict[str, int]:
    counts: dict[str, int] = {}
    path = sdir / "events.jsonl"
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                e = json.loads(line)
            except json.JSONDecodeError:  # a line cut by the kill
                continue
            if e.get("event") == "done":
                counts[e["hash"]] = counts.get(e["hash"], 0) + 1
    return counts


def test_random_kills_resume_to_the_same_summary(tmp_path):
    seed = int(os.environ.get("FACETFLOW_KILL_SEED", time.time_ns() % 2**31))
    print(f"kill seed {seed} (FACETFLOW_KILL_SEED={seed} replays it)")
    rng = random.Random(seed)

    ref = tmp_path / "ref"
    proc = run_cli("run", str(QUICK), "--work", str(ref), "--no-pictures", "--no-progress",
                   timeout=1800)
    assert proc.returncode == 0, proc.stderr
    expected = (ref / "quick" / "report" / "summary.json").read_bytes()
    n_calcs = json.loads((ref / "quick" / "run.json").read_text())["run"]

    work = tmp_path / "killed"
    sdir = work / "quick"
    kills = []
    for _ in range(ATTEMPTS):
        before = sum(_done_counts(sdir).values())
        # late enough to land in any stage, early enough that five attempts cannot finish
        # the study between them (it takes ~75 s; each attempt spends ~5 s starting)
        delay = rng.uniform(1.0, 16.0)
        p = subprocess.Popen(facetflow_cmd("run", str(QUICK), "--work", str(work),
                                           "--no-pictures", "--no-progress"),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
        try:
            p.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        else:
            assert p.returncode == 0
            break  # finished before its kill point: nothing left to interrupt
        kills.append((round(delay, 1), sum(_done_counts(sdir).values()) - before))
    print(f"kills (seconds after start, calculations finished in that attempt): {kills}")
    assert len(kills) >= ATTEMPTS - 1, "the study finished before it could be interrupted"

    final = run_cli("run", str(QUICK), "--work", str(work), "--no-pictures", "--no-progress",
                    timeout=1800)
    assert final.returncode == 0, final.stderr
    counts = _done_counts(sdir)
    assert len(counts) == n_calcs, "every calculation finished once"
    assert max(counts.values()) == 1, "a finished calculation was computed again"
    from facetflow.store import ResultStore

    store = ResultStore(sdir / "results.db")
    assert len(store.all()) == n_calcs and not store.problems
    got = (sdir / "report" / "summary.json").read_bytes()
    assert got == expected, "summary.json differs from the uninterrupted run's"
