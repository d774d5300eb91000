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

from dataclasses import dataclass, field

import numpy as np
from ase import Atoms
from ase.build import make_supercell
from ase.constraints import FixAtoms

from facetflow.errors import SpecError, StructureError
from facetflow.structures import REGION_CORE, REGION_PSEUDO_H, REGION_SHELL
from facetflow.structures.materials import Compound, pseudo_h_charge
from facetflow.structures.planes import PlaneStack, plane_stack, reduced_formula
from facetflow.structures.shell import spacing_factor, species_map
from facetflow.structures.symmetry import face_swap_operation
from facetflow.structures.topology import cation_anion_bonds, covalent_radius

TERMINATION_WORDS = ("cation", "anion", "stoichiometric")


@dataclass
class SlabRequest:
    """What to build. Lengths in Å; ``supercell`` is a 2x2 integer matrix on the reduced
    1x1 surface cell (a1 the shorter vector)."""

    compound: Compound
    miller: tuple[int, int, int]
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
    miller: tuple[int, int, int]
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


def _matches(symbols: list[str], request: str, cations: set[str], anions: set[str],
             order: tuple[str, ...]) -> bool:
    if request == "cation":
        return all(s in cations for s in symbols)
    if request == "anion":
        return all(s in anions for s in symbols)
    if request == "stoichiometric":
        return any(s in cations for s in symbols) and any(s in anions for s in symbols) and \
            reduced_formula(symbols, order) in _bulk_formulas(order)
    return reduced_formula(symbols, order) == request


def _bulk_formulas(order: tuple[str, ...]) -> set[str]:
    # binary 1:1 formulas count as stoichiometric planes
    return {"".join(order)} if len(order) == 2 else set()


def available_terminations(compound: Compound, miller: tuple[int, int, int],
                           shell: Compound | None = None) -> list[str]:
    """Termination names that exist for this facet (words and plane formulas)."""
    stack = plane_stack(compound, miller, 24)
    mapping = species_map(compound, shell) if shell else {}
    target = shell or compound
    cats, ans = set(target.cations), {target.anion}
    out: set[str] = set()
    for p in stack.planes:
        syms = [mapping.get(s, s) for s in p.symbols]
        out.add(reduced_formula(syms, target.species))
        for word in TERMINATION_WORDS:
            if _matches(syms, word, cats, ans, target.species):
                out.add(word)
    return sorted(out)


def default_termination(compound: Compound, miller: tuple[int, int, int],
                        shell: Compound | None = None) -> str:
    """``cation`` where a pure cation plane exists, else ``stoichiometric``."""
    avail = available_terminations(compound, miller, shell)
    for word in ("cation", "stoichiometric"):
        if word in avail:
            return word
    raise SpecError.single("termination", "this facet has no cation or stoichiometric "
                           "plane: name the termination explicitly", None, avail)


def build_facet_slabs(req: SlabRequest, path: str = "facet") -> FacetSlabs:
    """Cut the bare and (if ``req.shell``) shell-capped slabs of one facet."""
    core = req.compound
    shell = req.shell if req.shell_monolayers > 0 else None
    mapping = species_map(core, shell) if shell else {}
    outer = shell or core
    termination = req.termination or default_termination(core, req.miller, shell)
    probe = plane_stack(core, req.miller, 8)
    b = probe.block
    n_shell = req.shell_monolayers * b if shell else 0
    n_max = req.monolayers * b + 1
    margin = n_shell + 4
    stack = plane_stack(core, req.miller, n_max + 2 * margin + 30)
    bonds = _stack_bonds(stack, core)

    cats_outer, ans_outer = set(outer.cations), {outer.anion}
    found = None
    matched_any = False
    for length in (req.monolayers * b, req.monolayers * b + 1, req.monolayers * b - 1):
        candidates: list[tuple[int, int]] = []
        for s in range(margin, margin + 24):
            lo = s - (n_shell if req.symmetric else 0)
            hi = s + length + n_shell
            if hi + 4 > len(stack):
                break
            top = [mapping.get(x, x) for x in stack.planes[hi - 1].symbols]
            if not _matches(top, termination, cats_outer, ans_outer, outer.species):
                continue
            if req.symmetric:
                bottom = [mapping.get(x, x) for x in stack.planes[lo].symbols]
                if not _matches(bottom, termination, cats_outer, ans_outer, outer.species):
                    continue
            elif req.bottom_termination:
                bottom = stack.planes[s].symbols
                if not _matches(bottom, req.bottom_termination, set(core.cations),
                                {core.anion}, core.species):
                    continue
            candidates.append((_cut_bonds(bonds, lo, hi), s))
        matched_any |= bool(candidates)
        for _cut, s in sorted(candidates):
            capped = _assemble(stack, bonds, req, s, length, n_shell, mapping)
            if not req.symmetric or face_swap_operation(capped.atoms) is not None:
                found = (s, length, capped)
                break
        if found:
            break
    if not matched_any:
        raise SpecError.single(f"{path}.termination", "no slab of this facet has that "
                               "termination", termination,
                               available_terminations(core, req.miller, shell))
    if found is None:
        raise StructureError(
            f"{path}: no symmetric slab of {core.name}{req.miller} with termination "
            f"{termination!r}, {req.monolayers} ML and supercell {req.supercell} exists: "
            "the face-swapping operation of the 1x1 slab must also map the supercell "
            "lattice onto itself (on {100} use a square supercell such as [[2,0],[0,2]] "
            "or [[2,2],[-2,2]]); otherwise use symmetric: false (pseudo-H passivated "
            "bottom) or another termination")
    s, length, capped = found
    if length != req.monolayers * b:
        capped.notes.append(
            f"{length} core planes for {req.monolayers} ML ({b} plane(s) per ML): the "
            "nearest count that gives the requested termination on both faces related by "
            "a symmetry of the slab")
    bare = _assemble(stack, bonds, req, s, length, 0, {}) if shell else capped
    bare.notes = list(capped.notes)
    return FacetSlabs(bare=bare, capped=capped if shell else None, stack_block=b)


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


def _assemble(stack: PlaneStack, bonds: dict, req: SlabRequest, s: int, length: int,
              n_shell: int, mapping: dict[str, str]) -> Slab:
    core = req.compound
    shell = req.shell if n_shell else None
    lo = s - (n_shell if req.symmetric else 0)
    hi = s + length + n_shell
    core_lo, core_hi = s, s + length
    factor = spacing_factor(core, shell, req.miller) if shell else 1.0
    z_new = {k: stack.planes[k].z for k in range(lo, hi)}
    for k in range(core_hi, hi):  # shell above the core
        gap = stack.planes[k].z - stack.planes[k - 1].z
        f = (1 + factor) / 2 if k == core_hi else factor
        z_new[k] = z_new[k - 1] + gap * f
    for k in range(core_lo - 1, lo - 1, -1):  # shell below (symmetric slabs)
        gap = stack.planes[k + 1].z - stack.planes[k].z
        f = (1 + factor) / 2 if k == core_lo - 1 else factor
        z_new[k] = z_new[k + 1] - gap * f

    symbols, positions, region, plane, phq = [], [], [], [], []
    for k in range(lo, hi):
        p = stack.planes[k]
        in_shell = not (core_lo <= k < core_hi)
        for sym, pos in zip(p.symbols, p.positions, strict=True):
            symbols.append(mapping.get(sym, sym) if in_shell else sym)
            positions.append([pos[0], pos[1], z_new[k]])
            region.append(REGION_SHELL if in_shell else REGION_CORE)
            plane.append(k - lo)
            phq.append(0.0)

    notes: list[str] = []
    faces = []
    if (not req.symmetric and req.passivate_bottom) or req.passivate_both:
        faces.append("bottom")
    if req.passivate_both:
        faces.append("top")
    if faces and not core.tetrahedral:
        raise SpecError.single("facet.symmetric", "pseudo-hydrogen passivation needs a "
                               "tetrahedral (zincblende/wurtzite) material; use a "
                               "symmetric slab", core.structure)
    for face in faces:
        # bonds from a kept atom to an atom outside the window are capped by pseudo-H
        for a, b_ in (("i", "j"), ("j", "i")):
            pa, pb = bonds["p" + a], bonds["p" + b_]
            outside = pb < lo if face == "bottom" else pb >= hi
            sel = (pa >= lo) & (pa < hi) & outside
            for n in np.flatnonzero(sel):
                k = int(pa[n])
                host_sym = stack.planes[k].symbols[int(bonds["i" + a][n])]
                host = stack.planes[k].positions[int(bonds["i" + a][n])].copy()
                host[2] = z_new[k]
                v = bonds["vec"][n] if a == "i" else -bonds["vec"][n]
                d = covalent_radius(host_sym) + covalent_radius("H")
                symbols.append("H")
                positions.append(host + v / np.linalg.norm(v) * d)
                region.append(REGION_PSEUDO_H)
                plane.append(-1)
                phq.append(pseudo_h_charge(host_sym))

    pos = np.array(positions)
    zmin, zmax = pos[:, 2].min(), pos[:, 2].max()
    cell = np.array([stack.cell2d[0], stack.cell2d[1], [0.0, 0.0, zmax - zmin + req.vacuum]])
    atoms = Atoms(symbols, positions=pos, cell=cell, pbc=(True, True, True))
    atoms.new_array("region", np.array(region, int))
    atoms.new_array("plane", np.array(plane, int))
    atoms.new_array("pseudo_h_charge", np.array(phq, float))
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

    fixed = _fixed_indices(atoms, req, core_lo - lo, core_hi - lo, stack.block)
    atoms.set_constraint(FixAtoms(indices=fixed))

    top_plane = hi - lo - 1
    surf = [int(i) for i in np.flatnonzero(atoms.arrays["plane"] == top_plane)]
    outer = shell or core
    top_syms = [atoms[i].symbol for i in surf]
    bottom_syms = [atoms[i].symbol for i in np.flatnonzero(atoms.arrays["plane"] == 0)]
    cations = tuple(sorted(set(core.cations) | (set(shell.cations) if shell else set())))
    anions = tuple(sorted({core.anion} | ({shell.anion} if shell else set())))
    area = float(abs(np.linalg.det(atoms.cell[:2, :2])))
    return Slab(
        atoms=atoms, miller=req.miller, symmetric=req.symmetric,
        termination=reduced_formula(top_syms, outer.species),
        bottom_termination=reduced_formula(bottom_syms, (shell if (shell and req.symmetric)
                                                          else core).species),
        n_planes=hi - lo, area=area, surface_indices=surf,
        n_surface_cations=sum(1 for x in top_syms if x in outer.cations),
        cations=cations, anions=anions, vacuum=req.vacuum, notes=notes)


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
