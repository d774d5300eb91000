"""The results store: one row per calculation, keyed by the calculation's content hash.

Backed by ASE's database (``ase.db``): an SQLite file by default (``work/<study>/results.db``)
or a PostgreSQL URL (``postgresql://user:password@host:port/db``) when many nodes write.
``ase db FILE`` browses it; every row has the key-value pairs

    calc_hash  the calculation's content hash (see ``facetflow.workflows.plan``)
    status     ``done`` or ``failed``
    label      the structure id(s) it was computed for (first one)
    engine     engine name; ``purpose`` bulk | slab | molecule; ``stage`` final | prerelax
    checksum   sha256 of the stored result record (verified on every read)

and in ``data``: ``result`` (a ``facetflow.records.calc.CalcResult`` as JSON: energy in eV,
forces in eV/Å, final structure, steps, SCF cycles, wall time, warnings, provenance),
``meta`` (study, node, host, timings) or, for a failed calculation, ``error``. A failed
row's ``meta.attempts`` counts the runs that tried it in a row (a rerun retries it until
``MAX_ATTEMPTS``; see ``workflows.workdir.pending_calculations``).

Writes are atomic: a row is replaced inside one database transaction, so a killed writer
leaves either the old row, the new row, or none, never half a row. On PostgreSQL, writers
of the same hash take a transaction-scoped advisory lock on it and so replace the row one
after the other (a unique index on calc_hash backs this up). A row whose checksum
does not match its content (hand-edited, corrupted) is reported and treated as missing,
so the calculation is recomputed instead of silently used.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.db import connect
from pydantic import ValidationError

from facetflow.records.calc import CalcResult, dict_to_atoms


def _canonical(obj):
    """-0.0 as 0.0 (PostgreSQL's JSONB keeps no negative zero), tuples as lists."""
    if isinstance(obj, float):
        return obj + 0.0
    if isinstance(obj, dict):
        return {k: _canonical(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_canonical(v) for v in obj]
    return obj


def checksum(payload: dict) -> str:
    """sha256 of a JSON payload in canonical form (sorted keys, no negative zero)."""
    text = json.dumps(_canonical(payload), sort_keys=True, default=float,
                      separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class StoredCalc:
    """One row of the store, checked."""

    calc_hash: str
    status: str
    label: str
    result: CalcResult | None = None
    error: str | None = None
    meta: dict = field(default_factory=dict)
    checksum: str = ""  # of the row's result and error, verified when it was read


MAX_ATTEMPTS = 2  # a failed calculation is tried this often before runs leave it alone


def failed_attempts(stored: StoredCalc) -> int:
    """How often in a row the calculation of ``stored`` has failed (0: it is done)."""
    if stored.status != "failed":
        return 0
    return int(stored.meta.get("attempts", 1))


@dataclass(frozen=True)
class StoreProblem:
    """A row that could not be used (it is treated as missing, so it is recomputed)."""

    calc_hash: str
    reason: str


def resolve_url(url: str | os.PathLike) -> str:
    """A PostgreSQL URL as given, anything else as an absolute SQLite file path."""
    text = str(url)
    if text.startswith(("postgresql://", "postgres://")):
        return text
    return str(Path(text).expanduser().resolve())


def workdir_store_url(workdir: str | os.PathLike) -> str:
    """The store a work directory's runs wrote to: the URL in ``WORKDIR/store.json``
    (written by every run), else ``WORKDIR/results.db``."""
    marker = Path(workdir) / "store.json"
    if marker.is_file():
        return json.loads(marker.read_text())["url"]
    return str(Path(workdir) / "results.db")


class ResultStore:
    """The store at ``url`` (SQLite path or PostgreSQL URL). Cheap to create; opens a
    connection per operation, so it is safe to use from several processes."""

    def __init__(self, url: str | os.PathLike) -> None:
        self.url = resolve_url(url)
        if not self.is_postgres:
            Path(self.url).parent.mkdir(parents=True, exist_ok=True)
        self._problems: dict[StoreProblem, None] = {}  # an ordered set
        if self.is_postgres:
            _init_postgres(self._db())

    @property
    def problems(self) -> list[StoreProblem]:
        """The unusable rows this store object has read, each once, in order found."""
        return list(self._problems)

    def _note(self, problems: list[StoreProblem]) -> None:
        self._problems.update(dict.fromkeys(problems))

    @property
    def is_postgres(self) -> bool:
        return self.url.startswith(("postgresql://", "postgres://"))

    def _db(self):
        if self.is_postgres:
            return _postgres_class()(self.url)
        return connect(self.url, type="db", use_lock_file=False)

    def __repr__(self) -> str:  # never print a password
        shown = self.url.split("@")[-1] if self.is_postgres else self.url
        return f"ResultStore({shown!r})"

    # -- writing -------------------------------------------------------------------
    def put(self, calc_hash: str, result: CalcResult, label: str, meta: dict) -> None:
        """Store a finished calculation (replaces any row with the same hash)."""
        payload = result.to_dict()
        atoms = dict_to_atoms(payload["structure"])
        atoms.calc = SinglePointCalculator(atoms, energy=result.energy,
                                           forces=result.forces)
        self._replace(calc_hash, atoms, "done", label, meta, result=payload)

    def put_failed(self, calc_hash: str, label: str, error: str, meta: dict,
                   structure: dict | None = None) -> None:
        """Record a calculation that failed, with its error message and the number of
        consecutive failed attempts (``meta.attempts``: one more than a failed row's)."""
        atoms = dict_to_atoms(structure) if structure else None
        before = self.get(calc_hash)
        attempts = 1 + (failed_attempts(before) if before is not None else 0)
        self._replace(calc_hash, atoms, "failed", label, {**meta, "attempts": attempts},
                      error=error)

    def _replace(self, calc_hash: str, atoms, status: str, label: str, meta: dict,
                 result: dict | None = None, error: str | None = None) -> None:
        meta = {**meta, "host": socket.gethostname(), "pid": os.getpid(),
                "stored_at": time.time()}
        data = {"result": result, "error": error, "meta": meta}
        kvp = {"calc_hash": calc_hash, "status": status, "label": label,
               "engine": meta.get("engine", ""), "purpose": meta.get("purpose", ""),
               "stage": meta.get("stage", "final"),
               "checksum": checksum({"result": result, "error": error})}
        if meta.get("study"):
            kvp["study"] = meta["study"]
        # a writer outside facetflow's advisory lock may store the hash first
        retry_on = _unique_violation() if self.is_postgres else ()
        for attempt in range(3):
            db = self._db()
            try:
                with db:  # one transaction: the old row goes and the new one comes together
                    if self.is_postgres:  # writers of one hash queue up here, till commit
                        db.connection.cursor().execute(
                            "SELECT pg_advisory_xact_lock(hashtext(?))", (calc_hash,))
                    old = [row.id for row in db.select(calc_hash=calc_hash)]
                    if old:
                        db.delete(old)
                    db.write(atoms if atoms is not None else Atoms(), key_value_pairs=kvp,
                             data=data)
                return
            except retry_on:
                if attempt == 2:
                    raise
                time.sleep(0.1 * (attempt + 1))

    # -- reading -------------------------------------------------------------------
    def get(self, calc_hash: str) -> StoredCalc | None:
        """The checked row for ``calc_hash``, or None (absent or failing its checksum)."""
        rows = list(self._db().select(calc_hash=calc_hash))
        if not rows:
            return None
        problems: list[StoreProblem] = []
        stored = _check(rows[-1], problems)
        self._note(problems)
        return stored

    def all(self, status: str | None = None) -> dict[str, StoredCalc]:
        """Every checked row by hash (optionally only ``status``).

        An SQLite store unchanged since the last ``all()`` of this process (same file
        change counter, size and modification time; see ``_sqlite_stamp``) is not read
        and checked again: a rerun reads the store several times (pending calculations,
        theta*, analysis) and each full read costs about 5 ms a row."""
        stamp = None if self.is_postgres else _sqlite_stamp(self.url)
        if stamp is not None:
            rows, problems = _checked_rows(self.url, stamp)
        else:
            rows, problems = self._read_checked()
        self._note(problems)
        return {h: s for h, s in rows.items() if status is None or s.status == status}

    def _read_checked(self) -> tuple[dict[str, StoredCalc], list[StoreProblem]]:
        problems: list[StoreProblem] = []
        out: dict[str, StoredCalc] = {}
        for row in self._db().select():
            stored = _check(row, problems)
            if stored is not None:
                out[stored.calc_hash] = stored
        return out, problems

    def hashes(self) -> dict[str, str]:
        """hash -> status for every row (checksums not verified; cheap)."""
        return {row.calc_hash: row.status for row in self._db().select(include_data=False)}


def _check(row, problems: list[StoreProblem]) -> StoredCalc | None:
    """The row as a ``StoredCalc``, or None with the reason added to ``problems``."""
    try:
        data = dict(row.data or {})
    except (ValueError, TypeError):  # undecodable JSON or not a mapping: a corrupted row
        data = {"corrupted": True}
    result, error = data.get("result"), data.get("error")
    if row.get("checksum") != checksum({"result": result, "error": error}):
        problems.append(StoreProblem(row.calc_hash, "checksum mismatch: the row was "
                                     "changed after it was written; recomputing"))
        return None
    if row.status == "done" and result is None:
        problems.append(StoreProblem(row.calc_hash, "done without a result"))
        return None
    try:
        record = CalcResult.from_dict(result) if result else None
    except ValidationError as exc:
        problems.append(StoreProblem(row.calc_hash, "result is not a CalcResult of this "
                                     f"facetflow ({exc.error_count()} field errors); "
                                     "recomputing"))
        return None
    return StoredCalc(calc_hash=row.calc_hash, status=row.status, label=row.label,
                      result=record, error=error, meta=data.get("meta") or {},
                      checksum=row.get("checksum") or "")


def _sqlite_stamp(path: str) -> tuple | None:
    """What changes whenever an SQLite database file is written: the file change counter
    in its header (bytes 24-27, bumped by every committed transaction), the file's size
    and modification time, and those of a write-ahead log. None if there is no file."""
    try:
        with open(path, "rb") as fh:
            header = fh.read(28)
        st = os.stat(path)
    except OSError:
        return None
    wal = Path(path + "-wal")
    wal_st = wal.stat() if wal.exists() else None
    return (header[24:28], st.st_size, st.st_mtime_ns, st.st_ino,
            (wal_st.st_size, wal_st.st_mtime_ns) if wal_st else None)


@functools.lru_cache(maxsize=4)
def _checked_rows(url: str, stamp: tuple) -> tuple[dict[str, StoredCalc], list[StoreProblem]]:
    """The checked rows of the SQLite store ``url`` in the state ``stamp`` (cached: the
    same state is read once per process)."""
    return ResultStore(url)._read_checked()


@functools.cache
def _postgres_class():
    # ase-db-backends (and psycopg2) only for PostgreSQL stores
    from ase_db_backends.postgresql import Connection, PostgreSQLDatabase

    class SessionSafePostgreSQL(PostgreSQLDatabase):
        """ase-db-backends reads a new row's id as the sequence's ``last_value``, which
        all sessions share, so two writers at once could attach key-value and species
        rows to each other's rows; ``currval`` is this session's own."""

        def get_last_id(self, cur):
            cur.execute("SELECT currval('systems_id_seq')")
            return int(cur.fetchone()[0])

        def _connect(self):
            # its connection wrapper has no rollback, which a failed transaction needs
            con = super()._connect()
            if isinstance(con, Connection):
                con.rollback = con.con.rollback
            return con

    return SessionSafePostgreSQL


def _init_postgres(db) -> None:
    """Create the tables once (under an advisory lock: many nodes may start together) and a
    unique index on calc_hash, so two rows for one calculation can never coexist."""
    import psycopg2

    con = psycopg2.connect(db.filename)
    try:
        with con, con.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(7151)")
            try:
                db.count()  # creates the tables if they are missing
                cur.execute("CREATE UNIQUE INDEX IF NOT EXISTS facetflow_calc_hash ON systems "
                            "((key_value_pairs->>'calc_hash'))")
            finally:
                cur.execute("SELECT pg_advisory_unlock(7151)")
    finally:
        con.close()


def _unique_violation() -> type[Exception]:
    """PostgreSQL's error for a second row with the same calc_hash (the unique index)."""
    from psycopg2.errors import UniqueViolation  # only for PostgreSQL stores

    return UniqueViolation
