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
