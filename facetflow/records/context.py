"""``WORKDIR/study.json``: the resolved study as the analysis needs it (the study, its
compounds and ligands, the engine, the published findings to compare with), so a report is
rebuilt from the work directory alone. Written when a run prepares its work directory
(``facetflow.structures.context.analysis_context``), read by the analysis.

Units: lattice constant in Å, ligand charges in e, reaction coefficients per molecule.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from facetflow.jsonfile import write_json_atomic
from facetflow.records.study import Study

CONTEXT_SCHEMA = "facetflow.context/1"


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CompoundInfo(_Record):
    """What the analysis needs of a compound: species roles and its formula unit."""

    name: str = Field(description="name in the materials table (``ZnSe``)")
    structure: str = Field(description="crystal structure (``zincblende``, ...)")
    cations: list[str] = Field(description="cation elements")
    anion: str = Field(description="anion element")
    a: float = Field(description="lattice constant the structures were built at (Å)")
    formula_unit: dict[str, float] = Field(description="atoms of each element per formula "
                                                       "unit of the primitive cell")

    @property
    def species(self) -> list[str]:
        """Cations, then the anion."""
        return [*self.cations, self.anion]


class LigandInfo(_Record):
    """What the analysis needs of a ligand, additive or growth species."""

    symbols: list[str] = Field(description="elements of one unit (its composition)")
    kind: str = Field(description="X, L, Z, X2 or growth (covalent bond classification)")
    footprint: int = Field(description="surface cations one unit occupies")
    reference: dict[str, float] = Field(description="reaction giving its chemical "
                                                    "potential: reference key -> coefficient")
    charge: int = Field(description="formal charge of one unit (e)")


class EngineChoice(_Record):
    """The engine a plan was made for and the study's settings for it."""

    name: str = Field(description="engine name (``mlip``, ``vasp``, ...)")
    settings: dict = Field(default_factory=dict, description="the study's engine settings "
                                                             "(empty for another engine)")


class AnalysisContext(_Record):
    """``study.json``: the resolved study for the analysis."""

    schema_: str = Field(CONTEXT_SCHEMA, alias="schema",
                         description="schema name and version of this document")
    study: Study = Field(description="the validated study")
    core: CompoundInfo = Field(description="the core compound (at the study's lattice)")
    shell: CompoundInfo | None = Field(None, description="the shell compound")
    ligands: dict[str, LigandInfo] = Field(description="every ligand, additive and growth "
                                                       "species of the study, by name")
    engine: EngineChoice | None = Field(None, description="the engine of the plan")
    compare_with: dict | None = Field(None, description="published findings set beside "
                                                        "this run (``facetflow.findings``)")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @property
    def compounds(self) -> list[CompoundInfo]:
        """Core, then shell (when there is one)."""
        return [c for c in (self.core, self.shell) if c is not None]

    def compound(self, name: str) -> CompoundInfo | None:
        """The core or shell compound named ``name``."""
        return next((c for c in self.compounds if c.name == name), None)

    def write(self, path: Path) -> None:
        """Write atomically."""
        write_json_atomic(path, self.model_dump(mode="json", by_alias=True,
                                                exclude_none=False))


class ContextError(ValueError):
    """A ``study.json`` of another schema or not one at all."""


def read_context(path: Path) -> AnalysisContext:
    """``study.json`` at ``path``. A file without a ``schema`` key is the first version of
    this document (same layout); another schema is refused by name."""
    data = json.loads(Path(path).read_text())
    if not isinstance(data, dict):
        raise ContextError(f"{path}: not a facetflow study context")
    found = data.setdefault("schema", CONTEXT_SCHEMA)
    if found != CONTEXT_SCHEMA:
        raise ContextError(f"{path}: study context schema {found} is not {CONTEXT_SCHEMA} "
                           "(written by another facetflow version); run the study again")
    return AnalysisContext.model_validate(data)
