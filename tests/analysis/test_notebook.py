"""notebooks/analysis.ipynb runs top to bottom on a finished study (nbclient)."""

import nbformat
from conftest import ROOT
from nbclient import NotebookClient


def test_analysis_notebook_executes(tiny_run, monkeypatch):
    monkeypatch.setenv("FACETFLOW_WORKDIR", str(tiny_run / "tiny"))
    nb = nbformat.read(ROOT / "notebooks" / "analysis.ipynb", as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(str(o.get("data", {}).get("text/plain", "")) + o.get("text", "")
                   for o in outputs)
    assert "110_acetate_t1.000_c0" in text  # the gamma table of the tiny study
    assert "acetate" in text and "anisotropy_index" in text
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 2  # one gamma figure per facet
