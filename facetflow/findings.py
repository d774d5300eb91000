"""Published findings to compare a study with (the spec side; evaluation lives in
``facetflow.analysis.paper``).

A findings file is YAML: the paper's citation, the method it used, the sign convention of
its binding energies, and a list of findings, each a sentence plus machine-checkable
``checks`` against ``summary.json``. facetflow's convention is E_b = E(slab+A) - E(slab)
- mu_A (eV; negative means bound); ``binding_sign: positive_bound`` says the paper
quotes -E_b, and its values are converted before comparing.

Check kinds (facet keys as in ``summary.json: facets``, e.g. ``"111"``; a binding entry
is picked by ``species`` and, when given, the ``ligand`` family it was computed in):

- ``theta_star``: facet, ligand, expect ``full`` (optimum at the largest computed
  coverage) or ``interior`` (strictly inside the computed range; with ``value`` and
  ``within``, also |theta* - value| <= within).
- ``binding_value``: facet, species, [ligand], value (paper's sign), within (eV).
- ``binding_order``: stronger {facet, species, [ligand]}, weaker {...}, by (eV, >= 0):
  E_b(stronger) < E_b(weaker) - by.
- ``binding_similar``: a {...}, b {...}, within (eV): |E_b(a) - E_b(b)| <= within.
- ``weakest_facet``: species, facet, [ligand]: that facet has the least negative E_b of
  the species among the facets where it was computed (two or more).
- ``fastest_facet``: case (a key of ``growth.cases``), facet: first in that ranking.
- ``more_balanced``: case, than, by: anisotropy index of ``case`` below that of ``than``
  by more than ``by`` (index units; a change within ``by`` is "unchanged", not "more
  balanced").
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from facetflow.errors import Problem

PAPERS_DIR = Path(__file__).parent / "data" / "papers"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Site(_Spec):
    """One binding entry of the summary: ``species`` on ``facet`` (in ``ligand``'s sweep)."""

    facet: str
    species: str
    ligand: str | None = None


class Check(_Spec):
    kind: Literal["theta_star", "binding_value", "binding_order", "binding_similar",
                  "weakest_facet", "fastest_facet", "more_balanced"]
    facet: str | None = None
    species: str | None = None
    ligand: str | None = None
    expect: Literal["full", "interior"] | None = None
    value: float | None = None
    within: Annotated[float, Field(ge=0.0)] | None = None
    stronger: Site | None = None
    weaker: Site | None = None
    by: Annotated[float, Field(ge=0.0)] = 0.0
    a: Site | None = None
    b: Site | None = None
    case: str | None = None
    than: str | None = None


REQUIRED = {
    "theta_star": ("facet", "ligand", "expect"),
    "binding_value": ("facet", "species", "value", "within"),
    "binding_order": ("stronger", "weaker"),
    "binding_similar": ("a", "b", "within"),
    "weakest_facet": ("species", "facet"),
    "fastest_facet": ("case", "facet"),
    "more_balanced": ("case", "than"),
}


class Finding(_Spec):
    id: str
    text: str
    checks: Annotated[list[Check], Field(min_length=1)]


class Findings(_Spec):
    name: str
    citation: str
    engine: str
    binding_sign: Literal["negative_bound", "positive_bound"] = "negative_bound"
    findings: Annotated[list[Finding], Field(min_length=1)]


def findings_path(value: str, base_dir: Path) -> Path:
    """A bundled findings file by name, else a path (relative to the study's folder)."""
    bundled = PAPERS_DIR / f"{value}.yaml"
    if "/" not in value and not value.endswith((".yaml", ".yml")):
        return bundled
    path = Path(value)
    return path if path.is_absolute() else base_dir / path


def load_findings(value: str, base_dir: Path, where: str = "analysis.compare_with"
                  ) -> tuple[Findings | None, list[Problem]]:
    """Parse and check a findings file; problems name the field that is wrong."""
    path = findings_path(value, base_dir)
    bundled = sorted(p.stem for p in PAPERS_DIR.glob("*.yaml"))
    if not path.is_file():
        return None, [Problem(where, "findings file not found", str(path),
                              "a name of " + (", ".join(bundled) or "(none bundled)") +
                              " or a path to a YAML file")]
    try:
        data = yaml.safe_load(path.read_text())
        found = Findings.model_validate(data)
    except yaml.YAMLError as exc:
        return None, [Problem(where, f"not valid YAML: {exc}", str(path))]
    except ValidationError as exc:
        return None, [Problem(f"{where} ({path.name}): " +
                              ".".join(str(x) for x in e["loc"]), e["msg"])
                      for e in exc.errors()]
    problems = []
    for i, f in enumerate(found.findings):
        for j, c in enumerate(f.checks):
            missing = [k for k in REQUIRED[c.kind] if getattr(c, k) is None]
            if missing:
                problems.append(Problem(f"{where} ({path.name}): findings.{i}.checks.{j}",
                                        f"a {c.kind} check needs " + ", ".join(missing)))
    return (found if not problems else None), problems
