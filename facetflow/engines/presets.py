"""Preset settings per engine and purpose, from ``facetflow/presets/<engine>.yaml``.

A preset file has a ``common`` section and one per purpose: ``bulk`` (periodic references,
cell relaxed), ``slab`` (facetflow slabs: they carry a ``region`` array) and ``molecule``
(isolated molecules in a box). ``settings_for`` merges common, purpose and the study's
overrides, in that order; ``purpose_of`` tells a structure's purpose when no plan says.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import yaml
from ase import Atoms

PURPOSES = ("bulk", "slab", "molecule")
MOLECULE_CUTOFF = 3.0  # Å: a structure with no periodic neighbour this close is a molecule


@cache
def _preset_file(engine: str) -> dict:
    path = resources.files("facetflow.presets").joinpath(f"{engine}.yaml")
    return yaml.safe_load(path.read_text()) if path.is_file() else {}


def common_keys(engine: str) -> frozenset[str]:
    """The keys of ``engine``'s ``common`` preset section: every ``settings_for`` result
    holds them."""
    return frozenset(_preset_file(engine).get("common", {}))


def settings_for(engine: str, purpose: str, overrides: Mapping[str, Any] | None = None
                 ) -> dict:
    """Preset settings of ``engine`` for ``purpose`` merged with ``overrides``.

    ``overrides`` may hold plain keys (applied to every purpose) and per-purpose
    mappings under the purpose's name.
    """
    if purpose not in PURPOSES:
        raise ValueError(f"purpose must be one of {PURPOSES}, got {purpose!r}")
    presets = _preset_file(engine)
    merged = dict(presets.get("common", {}))
    merged.update(presets.get(purpose, {}))
    overrides = overrides or {}
    merged.update({k: v for k, v in overrides.items() if k not in PURPOSES})
    merged.update(overrides.get(purpose, {}) or {})
    return merged


def purpose_of(atoms: Atoms) -> str:
    """``slab`` for facetflow slabs (they carry a ``region`` array), ``molecule`` for a
    structure with no periodic neighbours within ``MOLECULE_CUTOFF``, else ``bulk``."""
    if "region" in atoms.arrays:
        return "slab"
    from ase.neighborlist import neighbor_list  # imports scipy (0.3 s): only when needed

    i, _j, shifts = neighbor_list("ijS", atoms, MOLECULE_CUTOFF)
    return "bulk" if len(i) and np.any(shifts) else "molecule"
