"""Minimum images in a slab cell: periodic along the in-plane vectors a1, a2, not along
the third (normal) vector, which spans the vacuum."""

from __future__ import annotations

import numpy as np


def in_plane_image(vectors: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """``vectors`` (Å, any leading shape, last axis 3) wrapped to their nearest in-plane
    periodic image by rounding their a1, a2 fractional components. Exact for vectors much
    shorter than the cell (bonds, relaxation displacements); for a strongly skewed cell
    and vectors near half a cell length it can miss the shortest image."""
    frac = np.asarray(vectors) @ np.linalg.inv(cell)
    frac[..., :2] -= np.round(frac[..., :2])
    return frac @ cell
