"""The engine interface: what every engine module exposes as ``ENGINE``, and its errors.

An engine relaxes or single-points an ``ase.Atoms`` under named settings and returns a
``CalcResult`` (``facetflow.records.calc``: energy in eV, forces in eV/Å, the final
structure, ionic steps, SCF cycles, wall time in s, warnings and provenance). Relaxations
honour ``FixAtoms`` constraints; ``relax_cell`` relaxes the cell too (bulk references).

Settings are a mapping of setting: value. An engine resolves them against its presets
(``facetflow.engines.settings.resolve_settings``: the preset for the structure's purpose,
overridden by the mapping), so ``{}`` means exactly what ``presets/<engine>.yaml`` says.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np
from ase import Atoms
from ase.constraints import FixAtoms

from facetflow.errors import EngineUnavailable
from facetflow.records.calc import CalcResult, EngineIdentity

__all__ = ["CalcError", "CalcErrors", "Engine", "EngineUnavailable", "OnResult", "max_force",
           "each_in_turn", "plain_identity", "run_each"]

OnResult = Callable[[int, CalcResult], None]


class CalcError(RuntimeError):
    """A calculation failed (e.g. SCF never converged); the message names the fix."""


class CalcErrors(CalcError):
    """Some calculations of a ``run_many`` failed; ``failures`` maps each one's index in
    the input to its error message. The others' results were passed to ``on_result``."""

    def __init__(self, failures: Mapping[int, str]) -> None:
        self.failures = dict(sorted(failures.items()))
        super().__init__("; ".join(f"structure {i}: {e}" for i, e in self.failures.items()))


class Engine(Protocol):
    """What every engine module exposes as ``ENGINE``."""

    name: str

    def available(self) -> tuple[bool, str]:
        """(usable here, version string or the reason it is not)."""

    def identity(self, settings: Mapping[str, Any]) -> EngineIdentity:
        """The code and model versions that, with ``settings``, decide the numbers."""

    def run(self, atoms: Atoms, task: str, settings: Mapping[str, Any]) -> CalcResult:
        """Relax (``task='relax'``) or single-point (``'single'``) ``atoms``."""

    def run_many(self, structures: Sequence[Atoms], task: str, settings: Mapping[str, Any],
                 on_result: OnResult | None = None) -> list[CalcResult]:
        """``run`` for each structure; ``on_result(index, result)`` as each finishes.
        Failures are raised together at the end as ``CalcErrors``."""


def run_each(engine: Engine, structures: Sequence[Atoms], task: str,
             settings: Mapping[str, Any], on_result: OnResult | None = None
             ) -> list[CalcResult]:
    """``run_many`` for engines that compute one structure at a time: each in turn, the
    failed ones (``CalcError``) collected and raised as one ``CalcErrors`` at the end."""
    return each_in_turn(lambda atoms: engine.run(atoms, task, settings), structures,
                        on_result)


def each_in_turn(run_one: Callable[[Atoms], CalcResult], structures: Sequence[Atoms],
                 on_result: OnResult | None = None) -> list[CalcResult]:
    """``run_one`` on each structure in turn; ``on_result(index, result)`` as each
    finishes; the failed ones (``CalcError``) raised together as ``CalcErrors`` at the
    end, after the others have run."""
    results: list[CalcResult] = []
    failures: dict[int, str] = {}
    for i, atoms in enumerate(structures):
        try:
            result = run_one(atoms)
        except CalcError as exc:
            failures[i] = str(exc)
            continue
        results.append(result)
        if on_result is not None:
            on_result(i, result)
    if failures:
        raise CalcErrors(failures)
    return results


def plain_identity(engine: str) -> EngineIdentity:
    """The identity of an engine whose numbers are decided by its settings alone (the code
    version is not recorded in calculation hashes)."""
    return EngineIdentity(engine=engine)


def max_force(forces: np.ndarray, atoms: Atoms) -> float:
    """Largest force norm over the atoms that are free to move (eV/Å)."""
    f = np.asarray(forces).copy()
    for c in atoms.constraints:
        if isinstance(c, FixAtoms):
            f[c.index] = 0.0
    return float(np.linalg.norm(f, axis=1).max()) if len(f) else 0.0
