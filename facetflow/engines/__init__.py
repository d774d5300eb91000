"""Calculation engines behind one small interface (see ``base``).

``get_engine(name)`` returns the engine module's ``Engine``; ``engine_table()`` lists every
engine with whether it can run here and, if not, why.
"""

from __future__ import annotations

from importlib import import_module

from facetflow.engines.base import Engine, EngineUnavailable

ENGINE_MODULES = {"mlip": "facetflow.engines.mlip", "vasp": "facetflow.engines.vasp",
                  "qe": "facetflow.engines.qe", "cp2k": "facetflow.engines.cp2k",
                  "gpaw": "facetflow.engines.gpaw"}


def get_engine(name: str) -> Engine:
    if name not in ENGINE_MODULES:
        raise EngineUnavailable(name, f"unknown engine; known: {', '.join(ENGINE_MODULES)}")
    try:
        module = import_module(ENGINE_MODULES[name])
    except ModuleNotFoundError as exc:
        raise EngineUnavailable(name, f"not implemented in this version ({exc.name})") from exc
    return module.ENGINE


def engine_table() -> list[tuple[str, bool, str]]:
    """(name, usable here, reason or version) for every engine."""
    rows = []
    for name in ENGINE_MODULES:
        try:
            eng = get_engine(name)
            ok, why = eng.available()
        except EngineUnavailable as exc:
            ok, why = False, exc.reason
        rows.append((name, ok, why))
    return rows
