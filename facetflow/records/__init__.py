"""Typed records exchanged between facetflow's layers: the bottom layer, importing nothing
from facetflow but ``errors`` and ``jsonfile``. Pydantic models with units in their field
descriptions; each JSON document has one writer and one reader here, under a versioned
schema name (an old work directory of another version is refused with a clear message).

* ``records.calc``: the result of one calculation (``CalcResult``), an engine's identity
  and ``ENGINE_NAMES``, the one list of engines;
* ``records.study``: the study file's schema (``Study``; the checks that need the material
  and ligand tables or the engines' settings live in ``facetflow.study``);
* ``records.structure``: a structure of a study and its relationships (role, facet,
  parent, reference, vacancy, ligand, coverage, variant) and ``manifest.json``;
* ``records.context``: ``study.json``, what the analysis needs of the study;
* ``records.plan``: a calculation node of the plan and ``plan.json``;
* ``records.summary``: the ``report/summary.json`` document; ``records.reference``
  renders its documentation from the model.

Import the models from their modules (``from facetflow.records.calc import CalcResult``).
"""
