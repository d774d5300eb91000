"""CHGNet's crystal graph built with array operations.

CHGNet (chgnet 0.4.2, the pinned version) describes a structure by two graphs: the atom
graph (directed edges i -> j(image) within ``atom_graph_cutoff``, 6 Å, each paired with
its reverse j -> i(-image) into one undirected bond) and the bond graph (angles: pairs of
directed edges from one centre atom, both within ``bond_graph_cutoff``, 3 Å). Its own
converter builds them object by object in Python (nodes, edge objects and a loop over
every bond); on a 270-atom ligand-covered slab that is ~60 ms of a ~300 ms energy and
force call on one CPU thread, paid at every optimizer step.

``ArrayGraphConverter`` returns the same ``CrystalGraph``: the same neighbour list
(pymatgen's, as CHGNet calls it), the same edge and bond numbering (a bond is numbered by
the first appearance of either of its directed edges; its first directed edge is that
one) and the same angle rows in the same order (bonds in order, the bond's first
direction then its reverse, partner edges grouped by neighbour atom in order of first
appearance), so the model sees identical tensors. ``tests/engines/test_engine_mlip.py`` checks
the tensors against CHGNet's converter, element by element.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from chgnet.graph.converter import CrystalGraphConverter
from chgnet.graph.crystalgraph import CrystalGraph
from chgnet.model.model import TORCH_DTYPE

log = logging.getLogger(__name__)

IMAGE_OFFSET = 512  # image components are encoded as non-negative numbers below 1024


class ArrayGraphConverter(CrystalGraphConverter):
    """A drop-in for CHGNet's ``CrystalGraphConverter`` (same cutoffs and behaviour for
    isolated atoms), with the graphs built by ``graph_arrays``."""

    def forward(self, structure, graph_id=None, mp_id=None) -> CrystalGraph:
        n_atoms = len(structure)
        center, neighbor, image, distance = structure.get_neighbor_list(
            r=self.atom_graph_cutoff, sites=structure.sites, numerical_tol=1e-8)
        arrays = graph_arrays(n_atoms, center, neighbor, image, distance,
                              self.bond_graph_cutoff)
        isolated = n_atoms - len(np.unique(center))
        if isolated:
            msg = (f"Structure {graph_id=} has {isolated} isolated atom(s) with "
                   f"atom_graph_cutoff={self.atom_graph_cutoff}. CHGNet calculation will "
                   "likely go wrong")
            if self.on_isolated_atoms == "error":
                raise ValueError(msg)
            if self.on_isolated_atoms == "warn":
                log.warning(msg)
        return CrystalGraph(
            atomic_number=torch.tensor(structure.atomic_numbers, dtype=torch.int32),
            atom_frac_coord=torch.tensor(structure.frac_coords, dtype=TORCH_DTYPE,
                                         requires_grad=True),
            atom_graph=torch.from_numpy(arrays["atom_graph"]),
            neighbor_image=torch.tensor(image, dtype=TORCH_DTYPE),
            directed2undirected=torch.from_numpy(arrays["directed2undirected"]),
            undirected2directed=torch.from_numpy(arrays["undirected2directed"]),
            bond_graph=torch.from_numpy(arrays["bond_graph"]),
            lattice=torch.tensor(structure.lattice.matrix, dtype=TORCH_DTYPE,
                                 requires_grad=True),
            graph_id=graph_id, mp_id=mp_id, composition=structure.composition.formula,
            atom_graph_cutoff=self.atom_graph_cutoff,
            bond_graph_cutoff=self.bond_graph_cutoff)


def graph_arrays(n_atoms: int, center: np.ndarray, neighbor: np.ndarray,
                 image: np.ndarray, distance: np.ndarray, bond_cutoff: float
                 ) -> dict[str, np.ndarray]:
    """CHGNet's graph index arrays (int32) from a directed neighbour list.

    ``atom_graph`` [E, 2]: (centre, neighbour) of each directed edge, in list order;
    ``directed2undirected`` [E]: its bond; ``undirected2directed`` [B]: each bond's first
    directed edge; ``bond_graph`` [A, 5]: (centre atom, bond 1, edge 1, bond 2, edge 2)
    for each angle between two directed edges from one atom, edge 1 within
    ``bond_cutoff`` (<=) and edge 2 (<) -- CHGNet's comparisons."""
    center = np.asarray(center, dtype=np.int64)
    neighbor = np.asarray(neighbor, dtype=np.int64)
    image = np.asarray(image, dtype=np.int64)
    distance = np.asarray(distance, dtype=float)
    if np.abs(image).max(initial=0) >= IMAGE_OFFSET:
        raise ValueError("periodic image index too large for the graph builder")
    d2u, u2d, other = _bonds(n_atoms, center, neighbor, image)
    bond_graph = _angles(n_atoms, center, neighbor, distance, bond_cutoff, d2u, u2d, other)
    return {"atom_graph": np.stack([center, neighbor], axis=1).astype(np.int32),
            "directed2undirected": d2u.astype(np.int32),
            "undirected2directed": u2d.astype(np.int32),
            # no angles: CHGNet's own converter gives an empty 1-d tensor, kept as is
            "bond_graph": bond_graph.astype(np.int32) if len(bond_graph)
            else np.zeros(0, dtype=np.int32)}


def _bonds(n_atoms: int, center: np.ndarray, neighbor: np.ndarray, image: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each directed edge's bond, each bond's first directed edge (bonds numbered by first
    appearance) and each bond's other directed edge."""

    def code(a: np.ndarray, b: np.ndarray, img: np.ndarray) -> np.ndarray:
        k = a * n_atoms + b
        for c in range(3):
            k = k * (2 * IMAGE_OFFSET) + (img[:, c] + IMAGE_OFFSET)
        return k

    # an edge and its reverse share one key: the smaller of the two codes
    key = np.minimum(code(center, neighbor, image), code(neighbor, center, -image))
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")  # bonds numbered by first appearance
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    d2u = rank[inverse.reshape(-1)]
    u2d = first[order]
    other = np.full(len(u2d), -1, dtype=np.int64)
    second = np.flatnonzero(np.arange(len(center)) != u2d[d2u])
    other[d2u[second]] = second
    if np.any(other < 0):
        raise ValueError("a directed edge without its reverse in the neighbour list")
    return d2u, u2d, other


def _angles(n_atoms: int, center: np.ndarray, neighbor: np.ndarray, distance: np.ndarray,
            bond_cutoff: float, d2u: np.ndarray, u2d: np.ndarray, other: np.ndarray
            ) -> np.ndarray:
    """The rows (centre atom, bond 1, edge 1, bond 2, edge 2) of ``bond_graph``, in
    CHGNet's order."""
    # partner edges of each centre atom, in CHGNet's order: grouped by neighbour atom in
    # order of the group's first edge, then in list order within a group
    # (a group's place is set by its first edge of any length)
    _, pair_first, pair_inv = np.unique(center * n_atoms + neighbor, return_index=True,
                                        return_inverse=True)
    group_start = pair_first[pair_inv.reshape(-1)]
    partner = np.flatnonzero(distance < bond_cutoff)
    partner = partner[np.lexsort((partner, group_start[partner], center[partner]))]
    counts = np.bincount(center[partner], minlength=n_atoms)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))

    # left edges: each bond within the cutoff (its first edge's length), first direction
    # then reverse, bonds in order
    short = np.flatnonzero(distance[u2d] <= bond_cutoff)
    left = np.stack([u2d[short], other[short]], axis=1).reshape(-1)
    c_left = center[left]
    n_each = counts[c_left]
    rows_left = np.repeat(left, n_each)
    offsets = np.arange(n_each.sum()) - np.repeat(np.cumsum(n_each) - n_each, n_each)
    rows_right = partner[np.repeat(starts[c_left], n_each) + offsets]
    keep = rows_right != rows_left
    rows_left, rows_right = rows_left[keep], rows_right[keep]
    return np.stack([center[rows_left], d2u[rows_left], rows_left, d2u[rows_right],
                     rows_right], axis=1)


def use_array_graphs(net) -> None:
    """Give a loaded CHGNet model the array-built graphs (same cutoffs and settings)."""
    old = net.graph_converter
    if isinstance(old, ArrayGraphConverter):
        return
    new = ArrayGraphConverter(atom_graph_cutoff=old.atom_graph_cutoff,
                              bond_graph_cutoff=old.bond_graph_cutoff,
                              algorithm="fast", on_isolated_atoms=old.on_isolated_atoms,
                              verbose=False)
    net.graph_converter = new
