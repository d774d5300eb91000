"""Calculation engines behind one small interface (see ``base``).

The engines are ``facetflow.records.calc.ENGINE_NAMES``; engine ``name`` lives in the
module ``facetflow.engines.<name>`` as its ``ENGINE``. ``get_engine(name)`` returns it;
``engine_table()`` lists every engine with whether it can run here and, if not, why.
"""

from __future__ import annotations

from importlib import import_module

from facetflow.engines.base import Engine, EngineUnavailable
from facetflow.records.calc import ENGINE_NAMES

# derived from ENGINE_NAMES (kept for callers that want the module paths)
ENGINE_MODULES = {name: f"facetflow.engines.{name}" for name in ENGINE_NAMES}


def get_engine(name: str) -> Engine:
    """The ``ENGINE`` of engine ``name``; ``EngineUnavailable`` for an unknown name or an
    engine module that cannot be imported here."""
    if name not in ENGINE_NAMES:
        raise EngineUnavailable(name, f"unknown engine; known: {', '.join(ENGINE_NAMES)}")
    try:
        module = import_module(ENGINE_MODULES[name])
    except ModuleNotFoundError as exc:
        raise EngineUnavailable(name, f"not implemented in this version ({exc.name})") from exc
    return module.ENGINE


def engine_table() -> list[tuple[str, bool, str]]:
    """(name, usable here, reason or version) for every engine."""
    rows = []
    for name in ENGINE_NAMES:
        try:
            ok, why = get_engine(name).available()
        except EngineUnavailable as exc:
            ok, why = False, exc.reason
        rows.append((name, ok, why))
    return rows
