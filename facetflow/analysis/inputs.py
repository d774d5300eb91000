"""What every step of the summary reads: the work directory's structure records and
energies (eV), the study context, and the structures found missing so far."""

from __future__ import annotations

from dataclasses import dataclass, field

from facetflow.analysis.data import WorkData
from facetflow.records.context import AnalysisContext
from facetflow.records.plan import PlannedStructure
from facetflow.records.structure import Role
from facetflow.records.study import Study


@dataclass
class SummaryInputs:
    """A work directory's records and energies and its study context. ``energy`` notes
    each structure whose energy is asked for but missing (``missing``, with the reason)."""

    wd: WorkData
    ctx: AnalysisContext
    missing: list[dict] = field(default_factory=list)
    _missing_ids: set[str] = field(default_factory=set)

    @property
    def records(self) -> dict[str, PlannedStructure]:
        return self.wd.records

    @property
    def study(self) -> Study:
        return self.ctx.study

    def energy(self, sid: str | None) -> float | None:
        """Final energy (eV) of a structure of the plan; None when it is not in the plan
        or not computed (then noted in ``missing``)."""
        if sid is None or sid not in self.records:
            return None
        e = self.wd.energy(sid)
        if e is None and sid not in self._missing_ids:
            self._missing_ids.add(sid)
            self.missing.append({"structure": sid, "reason": self.wd.why_missing(sid)})
        return e

    def structure(self, sid: str) -> dict:
        """The initial structure of a structure's calculation (``atoms_to_dict``)."""
        return self.wd.plan.nodes[self.records[sid].calc].structure

    def of_role(self, role: Role, label: str | None = None) -> list[str]:
        """Ids of the structures of ``role`` (on facet ``label`` when given), in plan
        order."""
        return [sid for sid, r in self.records.items() if r.role == role and
                (label is None or r.facet_label == label)]

    def slab(self, label: str, role: Role) -> str | None:
        """Id of the facet's bare (``Role.BARE``) or shell-capped (``Role.SHELL``) slab."""
        found = self.of_role(role, label)
        return found[0] if found else None

    def identity(self) -> str | None:
        """Engine identities of the plan's final calculations, joined."""
        idents = {n.identity for n in self.wd.plan.nodes.values() if n.stage == "final"}
        return ", ".join(sorted(idents)) if idents else None
