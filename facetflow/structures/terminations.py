"""Terminations of a facet: the outermost plane of a slab, named by a word (``cation``,
``anion``, ``stoichiometric``) or by its plane formula (``PbI2``)."""

from __future__ import annotations

from facetflow.errors import SpecError
from facetflow.structures.materials import Compound
from facetflow.structures.planes import plane_stack, reduced_formula
from facetflow.structures.shell import species_map

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
            if plane_matches(syms, word, cats, ans, target.species):
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
