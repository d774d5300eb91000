"""The materials table: compounds (lattice constants with sources, species, oxidation
states, valences, elastic constants) and elemental references.

Data live in ``facetflow/data/materials.yaml``; adding a material is a data-only change.
Lengths in Å, elastic constants in GPa.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources

import yaml

from facetflow.errors import SpecError

STRUCTURES = ("zincblende", "wurtzite", "rocksalt", "perovskite")
TETRAHEDRAL = ("zincblende", "wurtzite")


@dataclass(frozen=True)
class Compound:
    """A bulk compound.

    ``cations``/``anion`` give the species roles; ``oxidation_states`` the formal charges
    used for ionic electron counting; ``a`` (and ``c``, ``u`` for wurtzite) in Å.
    """

    name: str
    structure: str
    cations: tuple[str, ...]
    anion: str
    oxidation_states: dict[str, int]
    a: float
    c: float | None = None
    u: float | None = None
    source: str = ""
    elastic: dict[str, float] = field(default_factory=dict)

    @property
    def cation(self) -> str:
        """The (last-listed, i.e. B-site for perovskites) cation; for binaries the only one."""
        return self.cations[-1]

    @property
    def species(self) -> tuple[str, ...]:
        return (*self.cations, self.anion)

    @property
    def tetrahedral(self) -> bool:
        return self.structure in TETRAHEDRAL

    def is_cation(self, symbol: str) -> bool:
        return symbol in self.cations

    def with_lattice(self, a: float | None = None, c: float | None = None) -> Compound:
        """The same compound with overridden lattice constants (Å)."""
        from dataclasses import replace

        return replace(self, a=a if a is not None else self.a, c=c if c is not None else self.c)


@dataclass(frozen=True)
class Element:
    """An elemental reference: a bulk crystal (e.g. Zn metal for the cation-rich limit), or
    for elements whose standard state is molecular a named molecule (``molecule``, e.g. S8
    for the S-rich limit; ``structure`` is then ``"molecule"``)."""

    name: str
    structure: str
    a: float
    c: float | None = None
    source: str = ""
    molecule: str | None = None

    @property
    def reference_key(self) -> str:
        """Reference key of its energy: ``bulk:<El>`` or the molecule's name."""
        return self.molecule or f"bulk:{self.name}"


@cache
def _table() -> dict:
    text = resources.files("facetflow.data").joinpath("materials.yaml").read_text()
    return yaml.safe_load(text)


def compound_names() -> list[str]:
    return sorted(_table()["compounds"])


def element_names() -> list[str]:
    return sorted(_table()["elements"])


def get_compound(name: str, path: str = "material") -> Compound:
    """Look up a compound by name; unknown names raise ``SpecError`` listing the known ones."""
    table = _table()["compounds"]
    if name not in table:
        raise SpecError.single(path, "unknown material", name, compound_names())
    d = table[name]
    if d["structure"] == "perovskite":
        cations = (d["a_site"], d["b_site"])
    else:
        cations = (d["cation"],)
    return Compound(
        name=name,
        structure=d["structure"],
        cations=cations,
        anion=d["anion"],
        oxidation_states={k: int(v) for k, v in d["oxidation_states"].items()},
        a=float(d["a"]),
        c=float(d["c"]) if d.get("c") is not None else None,
        u=float(d["u"]) if d.get("u") is not None else None,
        source=str(d.get("source", "")),
        elastic={k: float(v) for k, v in (d.get("elastic") or {}).items()},
    )


def get_element(name: str, path: str = "element") -> Element:
    table = _table()["elements"]
    if name not in table:
        raise SpecError.single(path, "no elemental reference for this element", name,
                               element_names())
    d = table[name]
    if d.get("molecule"):
        return Element(name=name, structure="molecule", a=0.0, source=str(d.get("source", "")),
                       molecule=str(d["molecule"]))
    return Element(name=name, structure=d["structure"], a=float(d["a"]),
                   c=float(d["c"]) if d.get("c") is not None else None,
                   source=str(d.get("source", "")))


def element_reference_key(symbol: str) -> str | None:
    """Reference key for the elemental chemical potential of ``symbol`` (per atom), or
    None when the table has no reference for it."""
    if symbol not in _table()["elements"]:
        return None
    return get_element(symbol).reference_key


def valence(symbol: str) -> int:
    """Valence electrons of an element in the tetrahedral (8-electron) picture."""
    table = _table()["valence"]
    if symbol not in table:
        raise KeyError(f"no tetrahedral valence tabulated for {symbol}")
    return int(table[symbol])


def pseudo_h_charge(symbol: str) -> float:
    """Charge of the pseudo-hydrogen that caps a dangling bond of ``symbol``: (8 - v)/4.

    In 1.25, As 0.75, Zn 1.5, Se 0.5 (VASP POTCARs H1.25, H.75, H1.5, H.5).
    """
    return (8 - valence(symbol)) / 4.0
