"""The torch_scatter stand-in (``engines.scatter_shim``) gives torch_scatter's scatter:
per-group sums, means, maxima and minima along a dimension, with empty groups zero."""

import pytest
import torch


@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min"])
def test_scatter_reduces_rows_by_group(reduce):
    from facetflow.engines.scatter_shim import scatter

    src = torch.tensor([[1.0, -2.0], [3.0, 4.0], [5.0, 0.5], [-1.0, 8.0]])
    index = torch.tensor([0, 2, 0, 2])
    got = scatter(src, index, dim=0, dim_size=4, reduce=reduce)
    groups = {0: src[[0, 2]], 2: src[[1, 3]]}
    op = {"sum": lambda x: x.sum(0), "mean": lambda x: x.mean(0),
          "max": lambda x: x.max(0).values, "min": lambda x: x.min(0).values}[reduce]
    for g in range(4):
        want = op(groups[g]) if g in groups else torch.zeros(2)
        assert torch.allclose(got[g], want)


def test_the_stand_in_is_importable_as_torch_scatter_only_when_missing(monkeypatch):
    import importlib.util
    import sys

    from facetflow.engines import scatter_shim

    monkeypatch.delitem(sys.modules, "torch_scatter", raising=False)
    real = importlib.util.find_spec("torch_scatter") is not None
    assert scatter_shim.provide_torch_scatter() is (not real)
    import torch_scatter

    assert (torch_scatter.scatter is scatter_shim.scatter) is (not real)
