"""Terminations of a facet: the outermost plane of a slab, named by a word (``cation``,
``anion``, ``stoichiometric``) or by its plane formula (``PbI2``)."""

from __future__ import annotations

import numpy as np
from ase import Atoms

from facetflow.errors import SpecError
from facetflow.structures.materials import Compound
from facetflow.structures.planes import plane_stack, reduced_formula
from facetflow.structures.shell import species_map
from facetflow.structures.topology import cation_anion_bonds

TERMINATION_WORDS = ("cation", "anion", "stoichiometric")


def plane_matches(symbols: list[str], request: str, cations: set[str], anions: set[str],
                  order: tuple[str, ...]) -> bool:
    """Whether a plane of ``symbols`` has termination ``request`` (a word, or a plane
    formula with the elements in ``order``)."""
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


def available_terminations(compound: Compound, miller: tuple[int, ...],
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
            if plane_matches(syms, word, cats, ans, target.species):
                out.add(word)
    return sorted(out)


def default_termination(compound: Compound, miller: tuple[int, ...],
                        shell: Compound | None = None) -> str:
    """The pure cation or anion plane whose atoms have fewer bonds to the planes above it
    (fewer dangling bonds on the face): ``cation`` on zincblende (111) and wurtzite (0001),
    ``anion`` on (-1-1-1) and (000-1); ``cation`` on a tie ({100}); else
    ``stoichiometric``."""
    avail = available_terminations(compound, miller, shell)
    words = [w for w in ("cation", "anion") if w in avail]
    if words:
        bonds_up = _bonds_up(compound, miller)
        return min(words, key=lambda w: (bonds_up.get(w, 99.0), w != "cation"))
    if "stoichiometric" in avail:
        return "stoichiometric"
    raise SpecError.single("termination", "this facet has no cation or stoichiometric "
                           "plane: name the termination explicitly", None, avail)


def _bonds_up(compound: Compound, miller: tuple[int, ...]) -> dict[str, float]:
    """Fewest bonds per atom from a pure cation (``cation``) or anion (``anion``) plane to
    the planes above it, over the planes of the stack's middle."""
    stack = plane_stack(compound, miller, 24)
    symbols = [s for p in stack.planes for s in p.symbols]
    plane_of = np.array([k for k, p in enumerate(stack.planes) for _ in p.symbols])
    cell = np.array([stack.cell2d[0], stack.cell2d[1], [0, 0, 1000.0]])
    atoms = Atoms(symbols, positions=np.vstack([p.positions for p in stack.planes]),
                  cell=cell, pbc=(True, True, False))
    i, j, _ = cation_anion_bonds(atoms, set(compound.cations), {compound.anion})
    out: dict[str, float] = {}
    for k in range(4, len(stack.planes) - 4):
        syms = stack.planes[k].symbols
        word = "cation" if all(x in compound.cations for x in syms) else \
            "anion" if all(x == compound.anion for x in syms) else None
        if word is None:
            continue
        up = sum(1 for a, b in zip(plane_of[i], plane_of[j], strict=True)
                 if (a == k and b > k) or (b == k and a > k))
        out[word] = min(out.get(word, 99.0), up / len(syms))
    return out
