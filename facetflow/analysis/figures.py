"""Report figures drawn from the summary dict (schema: docs/summary.md).

Three kinds, after the paper's Fig. 2 f-j:

* ``gamma_<facet>.png/.svg``: interfacial energy gamma (meV/Å^2, J/m^2 on the right axis)
  against ligand coverage theta (ligands per surface cation), one line per ligand and per
  ligand + variant (e.g. "acetate + F", dashed), through the lowest arrangement at each
  theta; other arrangements as small grey markers; the optimum theta* as a star; points
  that were not computed as red crosses on the theta axis.
* ``binding.png/.svg``: binding energies E_b (eV, negative = bound) per facet and species.
* ``shapes.png/.svg``: kinetic Wulff shapes with the crystal's point group
  (``analysis.wulff``, the relative growth rates in place of surface energies), one 3D
  panel per growth case.
* ``growth_vs_delta_mu_<species>.png/.svg`` (with ``analysis.delta_mu``): anisotropy
  index and fastest facet against the species' Delta mu (``delta_mu_plot``).
* ``defects.png/.svg`` (studies with defects): formation energy E_f (eV per defect) of
  each defect at its most stable position, without and with each ligand bound next to
  it, one panel per chemical-potential limit, and a panel of the passivation effect
  dE_f = E_f(with ligand) - E_f(without) (the same in every limit).

Every function copes with missing data (null values, empty lists, absent keys): the part
that cannot be drawn is skipped and the axes say "not computed". The figures are built in
``gamma_plot``, ``bar_plots`` and ``shape_plot`` (each returns the matplotlib ``Figure``
without writing it); what they share is in ``plotting``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from facetflow.analysis.bar_plots import binding_figure as binding_plot
from facetflow.analysis.bar_plots import defects_figure as defects_plot
from facetflow.analysis.gamma_plot import gamma_figure
from facetflow.analysis.plotting import braces, guarded, safe_stem, save
from facetflow.analysis.shape_plot import shape_figure as shape_plot
from facetflow.analysis.summary_view import as_dict, facets_of, num


def gamma_figures(summary: Mapping[str, Any], out: str | Path) -> list[Path]:
    """One gamma(theta) figure per facet: ``gamma_<facet>.png`` and ``.svg`` in ``out``.
    Returns the paths written (none when the summary has no facets)."""
    paths: list[Path] = []
    for facet in facets_of(summary):
        fig = guarded(lambda f=facet: gamma_figure(summary, f),
                      f"interfacial energy of {braces(facet)}")
        paths += save(fig, out, f"gamma_{safe_stem(facet)}")
    return paths


def binding_figure(summary: Mapping[str, Any], out: str | Path) -> list[Path]:
    """Grouped bars of E_b per facet and species: ``binding.png`` and ``.svg``."""
    return save(guarded(lambda: binding_plot(summary), "binding energies"), out, "binding")


def shape_figure(summary: Mapping[str, Any], out: str | Path, lattice_a: float = 6.0
                 ) -> list[Path]:
    """3D kinetic Wulff shapes, one panel per growth case: ``shapes.png`` and ``.svg``.
    ``lattice_a`` (Å) is accepted for callers; the shape does not depend on it."""
    a = num(lattice_a)
    a = a if a is not None and a > 0 else 6.0
    return save(guarded(lambda: shape_plot(summary, a), "predicted shapes"), out, "shapes")


def defects_figure(summary: Mapping[str, Any], out: str | Path) -> list[Path]:
    """Grouped bars of E_f per defect, without and with each ligand, per limit, and of
    dE_f: ``defects.png`` and ``.svg``; nothing when the summary has no defects."""
    if not as_dict(summary).get("defects"):
        return []
    return save(guarded(lambda: defects_plot(summary), "defect formation energies"), out,
                "defects")


def growth_mu_figures(summary: Mapping[str, Any], out: str | Path) -> list[Path]:
    """Growth ranking and anisotropy against Delta mu, one figure per species of
    ``analysis.delta_mu``: ``growth_vs_delta_mu_<species>.png`` and ``.svg``."""
    from facetflow.analysis.delta_mu_plot import growth_mu_figure

    paths: list[Path] = []
    for species in as_dict(as_dict(summary).get("growth_vs_delta_mu")):
        fig = guarded(lambda s=species: growth_mu_figure(summary, s),
                      f"growth against the chemical potential of {species}")
        paths += save(fig, out, f"growth_vs_delta_mu_{safe_stem(species)}")
    return paths


def all_figures(summary: Mapping[str, Any], out: str | Path, lattice_a: float = 6.0
                ) -> list[Path]:
    """All report figures; the paths written."""
    return (gamma_figures(summary, out) + binding_figure(summary, out)
            + shape_figure(summary, out, lattice_a))
