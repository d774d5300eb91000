"""Versions of facetflow and the packages that decide its numbers (for run.json and the
report's provenance)."""

from __future__ import annotations

import contextlib
import platform
from importlib import metadata

from facetflow import __version__

PACKAGES = ("ase", "pymatgen", "fireworks", "chgnet", "sevenn", "torch", "numpy")


def versions() -> dict[str, str]:
    out = {"facetflow": __version__, "python": platform.python_version()}
    for pkg in PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[pkg] = metadata.version(pkg)
    return out
