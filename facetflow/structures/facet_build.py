"""What the structures of one facet share while they are built: the slab their
adsorbates go on, its binding-site grids, and how a record is made from atoms."""

from __future__ import annotations

from dataclasses import dataclass, field

from ase import Atoms

from facetflow.errors import Problem
from facetflow.records.structure import Role
from facetflow.records.study import FacetSpec
from facetflow.structures.built import BuiltStructure, build
from facetflow.structures.context import StudyContext
from facetflow.structures.coverage import Arrangement, SiteGrid, n_ligands_for
from facetflow.structures.electrons import electron_count
from facetflow.structures.ligands import Ligand
from facetflow.structures.sites import choose_mode
from facetflow.structures.slab import Slab


@dataclass(frozen=True)
class LigandArrangement:
    """One kept arrangement of a ligand sweep: its id, the ligand, coverage theta
    (ligands per surface cation), its index (0: most uniform), the site grid and the
    occupied sites."""

    id: str
    ligand: str
    theta: float
    index: int
    grid: SiteGrid
    sites: Arrangement


@dataclass
class FacetBuild:
    """One facet of a study being built. ``slab``: the ligand-free slab adsorbates go on
    (the shell-capped slab, else the bare one), named ``slab_id``; ``optimum``: ligand ->
    id of the arrangement at theta* (where binding structures are built)."""

    ctx: StudyContext
    spec: FacetSpec
    index: int
    slab: Slab
    slab_id: str
    optimum: dict[str, str]
    _grids: dict[tuple[str, str | None], SiteGrid] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.spec.label

    def grid(self, name: str, mode: str | None, path: str, replaces: str | None = None
             ) -> SiteGrid:
        """The binding sites of species ``name`` on the slab (one grid per species and
        replaced element; the facet's ``modes`` override ``mode``)."""
        if (name, replaces) not in self._grids:
            lig = self.ctx.ligands[name]
            chosen, sites = choose_mode(self.slab, lig, (self.spec.modes or {}).get(name)
                                        or mode, path=path, replaces=replaces)
            self._grids[name, replaces] = SiteGrid(self.slab, lig, chosen, sites)
        return self._grids[name, replaces]

    def ligands_at(self, theta: float, name: str, path: str, problems: list[Problem]
                   ) -> int | None:
        """Ligands ``name`` per face at coverage ``theta``; None (and a problem naming the
        coverages the supercell allows) when theta is not a multiple of 1 / surface
        cations or exceeds full coverage."""
        lig, slab = self.ctx.ligands[name], self.slab
        try:
            return n_ligands_for(theta, slab, lig)
        except ValueError as exc:
            allowed = [round(j / slab.n_surface_cations, 6)
                       for j in range(1, slab.n_surface_cations + 1)
                       if j * lig.footprint <= slab.n_surface_cations]
            problems.append(Problem(path, f"{exc} ({slab.n_surface_cations} surface cations "
                                    f"on {self.label})", theta,
                                    ", ".join(f"{a:g}" for a in allowed)))
            return None

    def slab_structure(self, structure_id: str, slab: Slab, role: Role | str, **fields
                       ) -> BuiltStructure:
        """The ligand-free slab ``slab`` (bare or capped) with the builder's notes."""
        return self._record(structure_id, slab, slab.atoms, role, [],
                            notes=list(slab.notes), **fields)

    def structure(self, structure_id: str, atoms: Atoms, role: Role | str,
                  species: list[Ligand], **fields) -> BuiltStructure:
        """A structure made on the facet's slab; ``species``: its adsorbates per face in
        the order of their ``ligand_id`` (their formal charges enter the electron count)."""
        return self._record(structure_id, self.slab, atoms, role, species, **fields)

    def _record(self, structure_id: str, slab: Slab, atoms: Atoms, role: Role | str,
                species: list[Ligand], **fields) -> BuiltStructure:
        charges = {face * len(species) + k: lig.charge
                   for face in range(slab.n_faces) for k, lig in enumerate(species)}
        return build(structure_id, atoms, {"symmetric": slab.symmetric}, role=role,
                     facet=self.spec.facet, termination=slab.termination,
                     symmetric=slab.symmetric, area_A2=slab.area, n_faces=slab.n_faces,
                     n_surface_cations=slab.n_surface_cations,
                     electron_count=self._electrons(slab, atoms, charges), **fields)

    def _electrons(self, slab: Slab, atoms: Atoms, charges: dict[int, int]) -> dict:
        """Electron counting (``structures.electrons``); ``charges``: formal charge of each
        adsorbate id (ids run over the top face, then the bottom)."""
        ox = dict(self.ctx.core.oxidation_states)
        if self.ctx.shell:
            ox.update(self.ctx.shell.oxidation_states)
        return electron_count(atoms, ox, set(slab.cations), set(slab.anions), charges,
                              slab.n_surface_cations, slab.n_faces, self.ctx.core.tetrahedral)
