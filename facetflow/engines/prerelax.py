"""Pre-relaxation: relax with the embedded ML potential first, then with DFT from there.

``relax_with_prerelax`` is what ``prerelax: mlip`` in a study's engine section means. The
DFT result records the pre-relaxation's steps and wall time in its provenance.
"""

from __future__ import annotations

from ase import Atoms

from facetflow.engines import get_engine
from facetflow.engines.presets import settings_for
from facetflow.records.calc import CalcResult


def relax_with_prerelax(atoms: Atoms, engine: str, settings: dict, purpose: str,
                        prerelax: str | None = "mlip", prerelax_settings: dict | None = None
                        ) -> CalcResult:
    """Relax ``atoms`` with ``engine``; with ``prerelax`` first relax with that engine
    (fixed atoms stay fixed) and start the DFT relaxation from its geometry."""
    start = atoms
    pre: CalcResult | None = None
    if prerelax:
        pre = get_engine(prerelax).run(atoms, "relax",
                                       settings_for(prerelax, purpose, prerelax_settings))
        start = atoms.copy()
        start.positions = pre.atoms().positions
        start.cell = pre.atoms().cell
    result = get_engine(engine).run(start, "relax", settings)
    if pre is not None:
        result.provenance["prerelax"] = {"engine": prerelax, "steps": pre.steps,
                                         "wall_time": pre.wall_time, "energy": pre.energy,
                                         "model": pre.provenance.get("model")}
    return result
