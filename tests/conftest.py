from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STUDIES = ROOT / "studies"


@pytest.fixture(scope="session")
def paper_records():
    from facetflow.structures.catalog import build_catalog
    from facetflow.study import load_study

    return build_catalog(load_study(STUDIES / "inas_znse_fluoride.yaml"), STUDIES)


@pytest.fixture(scope="session")
def quick_records():
    from facetflow.structures.catalog import build_catalog
    from facetflow.study import load_study

    return build_catalog(load_study(STUDIES / "quick.yaml"), STUDIES)


def pseudo_h_pair(cell: float, distance: float):
    """A pseudo-molecule H(0.75)-H(1.25) in a cubic box: 2 valence electrons exactly."""
    import numpy as np
    from ase import Atoms

    m = Atoms("HH", positions=[[0, 0, 0], [0, 0, distance]], cell=[cell] * 3, pbc=True)
    m.center()
    m.new_array("pseudo_h_charge", np.array([0.75, 1.25]))
    return m
