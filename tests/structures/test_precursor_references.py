"""Chemical potentials of growth species and additives from the synthesis's precursors
(``conditions.references``), and references that follow the study's own compounds."""

import pytest
from conftest import STUDIES, spec_problems


def _resolved(edit):
    import yaml

    from facetflow.structures.context import resolve
    from facetflow.study import parse_study

    data = yaml.safe_load((STUDIES / "quick.yaml").read_text())
    edit(data)
    study = parse_study(data, "quick", STUDIES)
    return resolve(study, STUDIES)


def test_precursor_reaction_replaces_the_library_one_and_its_molecules_are_computed():
    from facetflow.structures.reference_set import reference_keys

    def edit(d):
        d["conditions"]["references"] = {"Se": {"Me3PSe": 1, "Me3P": -1},
                                         "F": {"ZnF2": 0.5, "mu:Zn": -0.5}}

    ctx = _resolved(edit)
    assert ctx.ligands["Se"].reference == {"Me3PSe": 1.0, "Me3P": -1.0}
    assert ctx.ligands["F"].reference == {"ZnF2": 0.5, "mu:Zn": -0.5}
    keys = reference_keys(ctx)
    assert {"Me3PSe", "Me3P", "ZnF2", "bulk:Zn"} <= set(keys)
    assert not any(k.startswith("mu:") for k in keys)  # limits, not structures


def test_library_selenium_follows_the_study_compound():
    """The library prices Se by mu:Se, the limit of the study's own selenide: no ZnSe or
    Zn bulk enters a study without them."""
    from facetflow.structures.ligands import get_ligand
    from facetflow.structures.reference_set import reference_keys

    assert get_ligand("Se").reference == {"mu:Se": 1.0}
    assert get_ligand("S").reference == {"mu:S": 1.0}

    def cdse(d):
        d["shell"]["material"] = "CdSe"
        for f in d["facets"]:
            f["growth_species"] = ["Se"]

    keys = reference_keys(_resolved(cdse))
    assert "bulk:CdSe" in keys and "bulk:Cd" in keys
    assert "bulk:ZnSe" not in keys and "bulk:Zn" not in keys


@pytest.mark.parametrize("edit, field, value", [
    (lambda d: d["conditions"].update(references={"Cl": {"HCl": 1}}),
     "conditions.references.Cl", "Cl"),
    (lambda d: d["conditions"].update(references={"Se": {"TOPSe": 1}}),
     "conditions.references.Se", "TOPSe"),
    (lambda d: d["conditions"].update(references={"Se": {"mu:Cd": 1}}),
     "conditions.references.Se", "mu:Cd"),
])
def test_bad_references_are_refused_naming_field_and_value(edit, field, value):
    problems = spec_problems(STUDIES / "quick.yaml", edit)
    assert any(p.path == field and str(p.value) == value and p.allowed for p in problems), \
        problems
