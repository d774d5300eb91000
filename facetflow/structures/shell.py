"""Epitaxial shells: species mapping and the out-of-plane spacing of a coherently
strained shell.

A shell grown coherently on a core facet takes the core's in-plane lattice (in-plane
strain eps_par = a_core/a_shell - 1) and responds along the normal with
eps_perp = -D eps_par, where D depends on the facet (cubic elasticity):

* {100}: D = 2 C12 / C11
* {110}: D = (C11 + 3 C12 - 2 C44) / (C11 + C12 + 2 C44)
* {111}: D = 2 (C11 + 2 C12 - 2 C44) / (C11 + 2 C12 + 4 C44)
* other facets, or no elastic constants: isotropic D = 2 nu / (1 - nu) with
  nu = C12 / (C11 + C12), or nu = 0.3 when nothing is tabulated.
"""

from __future__ import annotations

from facetflow.errors import SpecError
from facetflow.structures.materials import Compound


def biaxial_ratio(shell: Compound, miller: tuple[int, int, int]) -> float:
    """The ratio D = -eps_perp/eps_par of a biaxially strained cubic film on ``miller``."""
    e = shell.elastic
    family = tuple(sorted(abs(i) for i in miller))
    if {"C11", "C12", "C44"} <= set(e):
        c11, c12, c44 = e["C11"], e["C12"], e["C44"]
        if family == (0, 0, 1):
            return 2 * c12 / c11
        if family == (0, 1, 1):
            return (c11 + 3 * c12 - 2 * c44) / (c11 + c12 + 2 * c44)
        if family == (1, 1, 1):
            return 2 * (c11 + 2 * c12 - 2 * c44) / (c11 + 2 * c12 + 4 * c44)
        nu = c12 / (c11 + c12)
    else:
        nu = 0.3
    return 2 * nu / (1 - nu)


def spacing_factor(core: Compound, shell: Compound, miller: tuple[int, int, int]) -> float:
    """Factor by which the core's interplanar spacings are scaled inside the shell.

    d_shell = d_core * (a_shell/a_core) * (1 + eps_perp), eps_perp = -D (a_core/a_shell - 1).
    """
    ratio = shell.a / core.a
    eps_par = core.a / shell.a - 1.0
    return ratio * (1.0 - biaxial_ratio(shell, miller) * eps_par)


def species_map(core: Compound, shell: Compound, path: str = "shell.material") -> dict[str, str]:
    """Map each core species onto the shell species that takes its lattice site."""
    if shell.structure != core.structure:
        raise SpecError.single(path, f"shell structure {shell.structure} cannot grow "
                               f"epitaxially on a {core.structure} core", shell.name,
                               f"a {core.structure} compound")
    if len(core.cations) != 1 or len(shell.cations) != 1:
        raise SpecError.single(path, "epitaxial shells are supported for binary compounds",
                               shell.name)
    return {core.cation: shell.cation, core.anion: shell.anion}
