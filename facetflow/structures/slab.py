"""Facet slabs: a window of atomic planes with explicit terminations, an optional
epitaxial shell, pseudo-hydrogen on a passivated bottom face, fixed bottom (or central)
monolayers and vacuum.

Conventions
-----------
* A *monolayer* (ML) is the smallest stoichiometric block of planes along the normal:
  one cation plus one anion plane on zincblende {100}/{111}, one mixed plane on {110}.
* Symmetric slabs (non-polar {110}, and polar {100} with the same termination on both
  faces) have two identical faces; a polar symmetric slab holds one extra plane, so an
  8-ML cation-terminated {100} slab has 9 cation and 8 anion planes (non-stoichiometric).
* Asymmetric slabs (polar {111}) have one active top face; every bond cut at the bottom
  is capped by a pseudo-hydrogen of charge (8 - v)/4 of the atom it caps, placed along
  the missing bond at the sum of covalent radii.
* ``termination`` names the outermost plane of the model (the shell's, when there is one):
  ``cation``, ``anion``, ``stoichiometric`` or a plane formula such as ``PbI2``.
  Among the cuts that give it, the one that breaks the fewest bonds is taken.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from ase import Atoms
from ase.build import make_supercell
from ase.constraints import FixAtoms

from facetflow.errors import SpecError, StructureError
from facetflow.structures import REGION_CORE, REGION_PSEUDO_H, REGION_SHELL
from facetflow.structures.materials import Compound, pseudo_h_charge
from facetflow.structures.planes import (
    PlaneStack,
    miller_text,
    plane_stack,
    reduced_formula,
    three_index,
)
from facetflow.structures.shell import spacing_factor, species_map
from facetflow.structures.symmetry import face_swap_kind, face_swap_operation, is_involution
from facetflow.structures.terminations import (
    available_terminations,
    default_termination,
    plane_matches,
)
from facetflow.structures.topology import cation_anion_bonds, covalent_radius


@dataclass
class SlabRequest:
    """What to build. Lengths in Å; ``supercell`` is a 2x2 integer matrix on the reduced
    1x1 surface cell (a1 the shorter vector)."""

    compound: Compound
    miller: tuple[int, ...]  # (h, k, l), or (h, k, i, l) on hexagonal cells
    monolayers: int = 8
    supercell: tuple[tuple[int, int], tuple[int, int]] = ((1, 0), (0, 1))
    vacuum: float = 15.0
    termination: str | None = None
    bottom_termination: str | None = None
    symmetric: bool = True
    shell: Compound | None = None
    shell_monolayers: int = 0
    fixed_monolayers: int | None = None
    passivate_bottom: bool = True
    passivate_both: bool = False  # pseudo-H on both faces (passivated-face references)


@dataclass
class Slab:
    """A built slab and what downstream code needs to know about it."""

    atoms: Atoms
    miller: tuple[int, ...]
    symmetric: bool
    termination: str
    bottom_termination: str
    n_planes: int
    area: float
    surface_indices: list[int]
    n_surface_cations: int
    cations: tuple[str, ...]
    anions: tuple[str, ...]
    vacuum: float = 15.0
    notes: list[str] = field(default_factory=list)

    @property
    def n_faces(self) -> int:
        """Faces that carry the surface of interest: 2 for symmetric slabs, 1 otherwise."""
        return 2 if self.symmetric else 1


@dataclass
class FacetSlabs:
    """The bare core slab and the shell-capped slab cut from the same window of planes.

    The core atoms of both are identical, so E(capped) - E(bare) isolates the shell
    (paper eq. 3).
    """

    bare: Slab
    capped: Slab | None
    stack_block: int


@dataclass
class _Cutting:
    """The plane stack a facet's slabs are cut from, and what every cut is checked
    against: the requested termination of the outer material (``mapping`` turns core
    species into the shell's), the bonds between planes, the shell's planes per face."""

    req: SlabRequest
    stack: PlaneStack
    bonds: dict
    mapping: dict[str, str]
    shell: Compound | None
    termination: str
    n_shell: int
    margin: int

    @property
    def outer(self) -> Compound:
        return self.shell or self.req.compound

    def outer_plane_matches(self, k: int) -> bool:
        """Whether plane ``k`` (in the outer material's species) has the termination."""
        outer = self.outer
        syms = [self.mapping.get(x, x) for x in self.stack.planes[k].symbols]
        return plane_matches(syms, self.termination, set(outer.cations), {outer.anion},
                        outer.species)


def build_facet_slabs(req: SlabRequest, path: str = "facet") -> FacetSlabs:
    """Cut the bare and (if ``req.shell``) shell-capped slabs of one facet: the window of
    ``monolayers`` (or one plane more or less) with the requested termination that breaks
    the fewest bonds and, for a symmetric slab, has a face-swapping symmetry."""
    core = req.compound
    shell = req.shell if req.shell_monolayers > 0 else None
    b = plane_stack(core, req.miller, 8).block
    n_shell = req.shell_monolayers * b if shell else 0
    margin = n_shell + 4
    stack = plane_stack(core, req.miller, req.monolayers * b + 1 + 2 * margin + 30)
    cut = _Cutting(req, stack, _stack_bonds(stack, core),
                   species_map(core, shell) if shell else {}, shell,
                   req.termination or default_termination(core, req.miller, shell),
                   n_shell, margin)
    found, matched_any = None, False
    n = req.monolayers * b
    # the requested planes or one more, an involution of the supercell first; one fewer last
    for length, involution in ((n, True), (n + 1, True), (n, False), (n + 1, False),
                               (n - 1, True), (n - 1, False)):
        candidates = _candidates(cut, length)
        matched_any |= bool(candidates)
        found = _first_symmetric(cut, candidates, length, involution)
        if found:
            break
    if not matched_any:
        raise SpecError.single(f"{path}.termination", "no slab of this facet has that "
                               "termination", cut.termination,
                               available_terminations(core, req.miller, shell))
    if found is None:
        raise StructureError(
            f"{path}: no symmetric slab of {core.name} {miller_text(core, req.miller)} with "
            f"termination {cut.termination!r}, {req.monolayers} ML and supercell "
            f"{req.supercell} exists: {_symmetry_hint(cut, b)}")
    s, length, capped = found
    if length != req.monolayers * b:
        capped.notes.append(
            f"{length} core planes for {req.monolayers} ML ({b} plane(s) per ML): the "
            "nearest count that gives the requested termination on both faces related by "
            "a symmetry of the slab")
    bare = _assemble(cut, _Window.of(s, length, 0, req.symmetric)) if shell else capped
    bare.notes = list(capped.notes)
    return FacetSlabs(bare=bare, capped=capped if shell else None, stack_block=b)


def _candidates(cut: _Cutting, length: int) -> list[tuple[int, int]]:
    """(bonds cut, first core plane) of every window of ``length`` core planes whose
    outer planes have the requested terminations."""
    req, core = cut.req, cut.req.compound
    out: list[tuple[int, int]] = []
    for s in range(cut.margin, cut.margin + 24):
        w = _Window.of(s, length, cut.n_shell, req.symmetric)
        if w.hi + 4 > len(cut.stack):
            break
        if not cut.outer_plane_matches(w.hi - 1):
            continue
        if req.symmetric and not cut.outer_plane_matches(w.lo):
            continue
        if not req.symmetric and req.bottom_termination and not plane_matches(
                cut.stack.planes[s].symbols, req.bottom_termination, set(core.cations),
                {core.anion}, core.species):
            continue
        out.append((_cut_bonds(cut.bonds, w.lo, w.hi), s))
    return out


def _first_symmetric(cut: _Cutting, candidates: list[tuple[int, int]], length: int,
                     involution: bool) -> tuple[int, int, Slab] | None:
    """The candidate cutting fewest bonds whose slab, if symmetric slabs are asked for,
    has a face-swapping operation: (first core plane, length, the capped slab). With
    ``involution`` only an operation that is an involution of the supercell counts (it
    maps the decorated slab onto itself as a whole), else any isometry swapping the
    faces. A slab passivated on both faces (a pseudo-H reference, whose faces need only
    the same termination) falls back to the first candidate when none has one, as on the
    polar (0001) of wurtzite."""
    first = None
    for _cut, s in sorted(candidates):
        capped = _assemble(cut, _Window.of(s, length, cut.n_shell, cut.req.symmetric))
        if not cut.req.symmetric:
            return s, length, capped
        op = face_swap_operation(capped.atoms)
        if op is not None and (is_involution(op) or not involution):
            return s, length, capped
        first = first or (s, length, capped)
    return first if cut.req.passivate_both and not involution else None


HINT_SUPERCELLS = (((1, 0), (0, 1)), ((2, 0), (0, 1)), ((1, 0), (0, 2)), ((2, 0), (0, 2)),
                   ((3, 0), (0, 2)), ((1, 1), (-1, 1)), ((2, 2), (-2, 2)))


def _symmetry_hint(cut: _Cutting, block: int) -> str:
    """What relates the faces of the facet's 1x1 slab (inversion, mirror, glide, two-fold
    rotation or screw) and which small supercells keep it; or that none does."""
    kinds: set[str] = set()
    kept: list[str] = []
    for length in (cut.req.monolayers * block, cut.req.monolayers * block + 1,
                   cut.req.monolayers * block - 1):
        for _n, s in sorted(_candidates(cut, length)):
            for sc in HINT_SUPERCELLS:
                trial = replace(cut, req=replace(cut.req, supercell=sc))
                atoms = _assemble(trial, _Window.of(s, length, cut.n_shell, True)).atoms
                op = face_swap_operation(atoms)
                if op is not None:
                    kinds.add(face_swap_kind(op, atoms.cell[:]))
                    kept.append(str([list(r) for r in sc]))
            if kept:
                break
        if kept:
            break
    if not kinds:
        return ("no operation of the slab swaps its faces at this thickness or one plane "
                "more or less, in any of the small supercells tried (a polar stacking along "
                "the normal, as (0001) of wurtzite); use symmetric: false (pseudo-H "
                "passivated bottom) or another termination")
    return (f"the faces of this facet are related by a {' or '.join(sorted(kinds))}, which "
            f"maps the supercell lattice onto itself only for some supercells (of those "
            f"tried: {', '.join(kept)}); use one of them, symmetric: false (pseudo-H "
            "passivated bottom) or another termination")


def _stack_bonds(stack: PlaneStack, compound: Compound) -> dict:
    """Cation-anion bonds of the 1x1 stack: per bond the two plane indices, atom keys and
    the bond vector (from the first atom)."""
    symbols, positions, plane_of, index_in_plane = [], [], [], []
    for k, p in enumerate(stack.planes):
        for i, (sym, pos) in enumerate(zip(p.symbols, p.positions, strict=True)):
            symbols.append(sym)
            positions.append(pos)
            plane_of.append(k)
            index_in_plane.append(i)
    cell = np.array([stack.cell2d[0], stack.cell2d[1], [0, 0, 1000.0]])
    atoms = Atoms(symbols, positions=positions, cell=cell, pbc=(True, True, False))
    i, j, vec = cation_anion_bonds(atoms, set(compound.cations), {compound.anion})
    plane_of = np.array(plane_of)
    return {"i": i, "j": j, "vec": vec, "pi": plane_of[i], "pj": plane_of[j],
            "ii": np.array(index_in_plane)[i], "ij": np.array(index_in_plane)[j]}


def _cut_bonds(bonds: dict, lo: int, hi: int) -> int:
    ins_i = (bonds["pi"] >= lo) & (bonds["pi"] < hi)
    ins_j = (bonds["pj"] >= lo) & (bonds["pj"] < hi)
    return int(np.count_nonzero(ins_i ^ ins_j))


@dataclass(frozen=True)
class _Window:
    """Planes ``lo`` .. ``hi - 1`` of the stack, the core being ``core_lo`` .. ``core_hi
    - 1`` (shell planes above it, and below it on a symmetric slab)."""

    lo: int
    hi: int
    core_lo: int
    core_hi: int

    @classmethod
    def of(cls, s: int, length: int, n_shell: int, symmetric: bool) -> _Window:
        return cls(s - (n_shell if symmetric else 0), s + length + n_shell, s, s + length)

    @property
    def has_shell(self) -> bool:
        return self.hi - self.lo > self.core_hi - self.core_lo


@dataclass
class _Columns:
    """Per-atom data of a slab being assembled."""

    symbols: list[str] = field(default_factory=list)
    positions: list = field(default_factory=list)
    region: list[int] = field(default_factory=list)
    plane: list[int] = field(default_factory=list)
    pseudo_h: list[float] = field(default_factory=list)

    def add(self, symbol: str, position, region: int, plane: int, charge: float) -> None:
        self.symbols.append(symbol)
        self.positions.append(position)
        self.region.append(region)
        self.plane.append(plane)
        self.pseudo_h.append(charge)


def _assemble(cut: _Cutting, w: _Window) -> Slab:
    """The slab of window ``w`` (with the shell's planes when it has them): planes at
    their heights, pseudo-H on passivated faces, the supercell, fixed atoms."""
    req, stack = cut.req, cut.stack
    shell = cut.shell if w.has_shell else None
    z_new = _plane_heights(stack, w, spacing_factor(req.compound, shell, three_index(req.miller))
                           if shell else 1.0)
    cols = _Columns()
    for k in range(w.lo, w.hi):
        p = stack.planes[k]
        in_shell = not (w.core_lo <= k < w.core_hi)
        for sym, pos in zip(p.symbols, p.positions, strict=True):
            cols.add(cut.mapping.get(sym, sym) if in_shell else sym, [pos[0], pos[1], z_new[k]],
                     REGION_SHELL if in_shell else REGION_CORE, k - w.lo, 0.0)
    for face in _passivated_faces(req):
        _add_pseudo_hydrogen(cols, cut, w, z_new, face)
    atoms = _supercell(cols, stack, req)
    atoms.set_constraint(FixAtoms(indices=_fixed_indices(
        atoms, req, w.core_lo - w.lo, w.core_hi - w.lo, stack.block)))
    return _described(atoms, req, shell, w.hi - w.lo)


def _plane_heights(stack: PlaneStack, w: _Window, factor: float) -> dict[int, float]:
    """Height (Å) of each plane of the window: the stack's, with the spacings of shell
    planes scaled by ``factor`` (half of it at the core-shell interface)."""
    z_new = {k: stack.planes[k].z for k in range(w.lo, w.hi)}
    for k in range(w.core_hi, w.hi):  # shell above the core
        gap = stack.planes[k].z - stack.planes[k - 1].z
        f = (1 + factor) / 2 if k == w.core_hi else factor
        z_new[k] = z_new[k - 1] + gap * f
    for k in range(w.core_lo - 1, w.lo - 1, -1):  # shell below (symmetric slabs)
        gap = stack.planes[k + 1].z - stack.planes[k].z
        f = (1 + factor) / 2 if k == w.core_lo - 1 else factor
        z_new[k] = z_new[k + 1] - gap * f
    return z_new


def _passivated_faces(req: SlabRequest) -> list[str]:
    """The faces capped by pseudo-H: the bottom of an asymmetric slab, or both."""
    faces = []
    if (not req.symmetric and req.passivate_bottom) or req.passivate_both:
        faces.append("bottom")
    if req.passivate_both:
        faces.append("top")
    if faces and not req.compound.tetrahedral:
        raise SpecError.single("facet.symmetric", "pseudo-hydrogen passivation needs a "
                               "tetrahedral (zincblende/wurtzite) material; use a "
                               "symmetric slab", req.compound.structure)
    return faces


def _add_pseudo_hydrogen(cols: _Columns, cut: _Cutting, w: _Window, z_new: dict[int, float],
                         face: str) -> None:
    """A pseudo-H of charge (8 - v)/4 on every bond from a kept atom to an atom outside
    the window on ``face``, along the bond at the sum of covalent radii."""
    bonds, stack = cut.bonds, cut.stack
    for a, b_ in (("i", "j"), ("j", "i")):
        pa, pb = bonds["p" + a], bonds["p" + b_]
        outside = pb < w.lo if face == "bottom" else pb >= w.hi
        for n in np.flatnonzero((pa >= w.lo) & (pa < w.hi) & outside):
            k = int(pa[n])
            host_sym = stack.planes[k].symbols[int(bonds["i" + a][n])]
            host = stack.planes[k].positions[int(bonds["i" + a][n])].copy()
            host[2] = z_new[k]
            v = bonds["vec"][n] if a == "i" else -bonds["vec"][n]
            d = covalent_radius(host_sym) + covalent_radius("H")
            cols.add("H", host + v / np.linalg.norm(v) * d, REGION_PSEUDO_H, -1,
                     pseudo_h_charge(host_sym))


def _supercell(cols: _Columns, stack: PlaneStack, req: SlabRequest) -> Atoms:
    """The 1x1 slab of ``cols`` with its per-atom arrays, repeated by the supercell
    matrix and centred in ``req.vacuum`` Å of vacuum."""
    pos = np.array(cols.positions)
    zmin, zmax = pos[:, 2].min(), pos[:, 2].max()
    cell = np.array([stack.cell2d[0], stack.cell2d[1], [0.0, 0.0, zmax - zmin + req.vacuum]])
    atoms = Atoms(cols.symbols, positions=pos, cell=cell, pbc=(True, True, True))
    atoms.new_array("region", np.array(cols.region, int))
    atoms.new_array("plane", np.array(cols.plane, int))
    atoms.new_array("pseudo_h_charge", np.array(cols.pseudo_h, float))
    atoms.new_array("ligand_id", np.full(len(atoms), -1, int))
    p2 = np.array(req.supercell, int)
    if abs(round(np.linalg.det(p2))) < 1:
        raise SpecError.single("facet.supercell", "the supercell matrix is singular",
                               req.supercell)
    matrix = np.eye(3, dtype=int)
    matrix[:2, :2] = p2
    atoms = make_supercell(atoms, matrix, wrap=True)
    for name in ("region", "plane", "ligand_id"):
        atoms.arrays[name] = atoms.arrays[name].astype(int)
    center_with_vacuum(atoms, req.vacuum)
    return atoms


def _described(atoms: Atoms, req: SlabRequest, shell: Compound | None, n_planes: int
               ) -> Slab:
    """The ``Slab`` of ``atoms``: terminations, surface atoms and cations, area (Å²)."""
    core = req.compound
    surf = [int(i) for i in np.flatnonzero(atoms.arrays["plane"] == n_planes - 1)]
    outer = shell or core
    top_syms = [atoms[i].symbol for i in surf]
    bottom_syms = [atoms[i].symbol for i in np.flatnonzero(atoms.arrays["plane"] == 0)]
    cations = tuple(sorted(set(core.cations) | (set(shell.cations) if shell else set())))
    anions = tuple(sorted({core.anion} | ({shell.anion} if shell else set())))
    return Slab(
        atoms=atoms, miller=req.miller, symmetric=req.symmetric,
        termination=reduced_formula(top_syms, outer.species),
        bottom_termination=reduced_formula(bottom_syms, (shell if (shell and req.symmetric)
                                                          else core).species),
        n_planes=n_planes, area=float(abs(np.linalg.det(atoms.cell[:2, :2]))),
        surface_indices=surf, n_surface_cations=sum(1 for x in top_syms
                                                    if x in outer.cations),
        cations=cations, anions=anions, vacuum=req.vacuum, notes=[])


def _fixed_indices(atoms: Atoms, req: SlabRequest, core_lo: int, core_hi: int,
                   block: int) -> list[int]:
    """Bottom ``fixed_monolayers`` of the core (asymmetric) or the central ones (symmetric),
    plus every pseudo-hydrogen. Default: half of the core monolayers."""
    n_fix = req.fixed_monolayers if req.fixed_monolayers is not None else req.monolayers // 2
    n_planes = n_fix * block
    plane = atoms.arrays["plane"]
    if n_planes <= 0:
        chosen: set[int] = set()
    elif req.symmetric:
        n_core = core_hi - core_lo
        if (n_core - n_planes) % 2:
            n_planes += 1
        first = core_lo + (n_core - n_planes) // 2
        chosen = set(range(first, first + n_planes))
    else:
        chosen = set(range(core_lo, core_lo + n_planes))
    idx = [i for i in range(len(atoms)) if int(plane[i]) in chosen]
    idx += [int(i) for i in np.flatnonzero(atoms.arrays["region"] == REGION_PSEUDO_H)]
    return sorted(set(idx))


def center_with_vacuum(atoms: Atoms, vacuum: float) -> None:
    """Make the cell's third vector (0, 0, extent + vacuum) and centre the atoms along z."""
    z = atoms.positions[:, 2]
    height = z.max() - z.min() + vacuum
    cell = atoms.cell[:].copy()
    cell[2] = [0.0, 0.0, height]
    atoms.set_cell(cell, scale_atoms=False)
    atoms.positions[:, 2] += height / 2 - (z.max() + z.min()) / 2
