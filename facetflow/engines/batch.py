"""Batched optimizers: relax many structures together, one model call per step for all.

``batched_fire`` and ``batched_lbfgs`` follow ASE's FIRE and LBFGS step for step.
``batched_lbfgs(..., h0="scaled")`` is L-BFGS with the usual scaled initial inverse
Hessian instead of ASE's fixed one (see its docstring); it is facetflow's default.

The update is ASE's FIRE (Bitzek et al., PRL 97, 170201, 2006) as implemented in
``ase.optimize.FIRE`` with its defaults (dt 0.1, dtmax 1.0, Nmin 5, finc 1.1, fdec 0.5,
astart 0.1, fa 0.99, maxstep 0.2 Å), applied to each structure independently; so a
batched relaxation follows the same path as one-by-one ASE FIRE runs, and structures that
converge (max force on free atoms < fmax, eV/Å) leave the batch. Fixed atoms
(``FixAtoms``) get zero force. A structure whose ``atoms.info`` carries a pruning rule
(``prune_after_steps``, ``prune_above`` in eV: ``workflow.prune_starts``) also leaves,
as pruned, once it has taken that many steps with its energy still above the limit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from ase import Atoms
from ase.constraints import FixAtoms

ForcesFn = Callable[[Sequence[Atoms]], tuple[list[float], list[np.ndarray]]]


@dataclass
class _State:
    atoms: Atoms
    free: np.ndarray
    vel: np.ndarray | None = None
    dt: float = 0.1
    a: float = 0.1
    n_pos: int = 0
    steps: int = 0
    converged: bool = False
    pruned: bool = False
    energies: list[float] = field(default_factory=list)
    energy: float = 0.0
    forces: np.ndarray | None = None


def _prune_rule(atoms: Atoms) -> tuple[int | None, float | None]:
    """(steps, energy limit in eV) after which a structure still above the limit leaves
    the batch as pruned (``atoms.info`` ``prune_after_steps`` / ``prune_above``, set by
    ``workflow.prune_starts``); (None, None) when it is not pruned."""
    after, above = atoms.info.get("prune_after_steps"), atoms.info.get("prune_above")
    if after is None or above is None:
        return None, None
    return int(after), float(above)


def _free_mask(atoms: Atoms) -> np.ndarray:
    mask = np.ones(len(atoms), bool)
    for c in atoms.constraints:
        if isinstance(c, FixAtoms):
            mask[c.index] = False
    return mask


def batched_fire(structures: Sequence[Atoms], forces_fn: ForcesFn, fmax: float,
                 max_steps: int, maxstep: float = 0.2,
                 on_done: Callable[[int, dict], None] | None = None) -> list[dict]:
    """Relax ``structures`` in place; one ``forces_fn`` call per step for the active ones.

    Returns per structure: steps, converged, energies along the path, final energy/forces.
    ``on_done(index, info)`` is called as soon as a structure leaves the batch (converged
    or out of steps), so its result can be stored before the others finish.
    """
    states = [_State(a, _free_mask(a)) for a in structures]
    return _drive(states, forces_fn, fmax, max_steps,
                  lambda st, f: _fire_step(st, f, maxstep), on_done)


def _drive(states: list, forces_fn: ForcesFn, fmax: float, max_steps: int,
           step: Callable[[object, np.ndarray], None],
           on_done: Callable[[int, dict], None] | None) -> list[dict]:
    """The loop shared by the batched optimizers: one ``forces_fn`` call per step for the
    structures still active; a structure leaves when converged or out of steps."""
    active = list(range(len(states)))
    rules = [_prune_rule(s.atoms) for s in states]
    while active:
        energies, forces = forces_fn([states[i].atoms for i in active])
        still = []
        for i, e, f in zip(active, energies, forces, strict=True):
            st = states[i]
            f = np.array(f, float)
            f[~st.free] = 0.0
            st.energy, st.forces = float(e), f
            st.energies.append(float(e))
            largest = np.linalg.norm(f, axis=1).max()
            after, above = rules[i]
            st.pruned = bool(after is not None and st.steps >= after and e > above
                             and largest >= fmax)
            if largest < fmax or st.steps >= max_steps or st.pruned:
                st.converged = bool(largest < fmax)
                if on_done is not None:
                    on_done(i, _info(st))
                continue
            step(st, f)
            still.append(i)
        active = still
    return [_info(s) for s in states]


def _info(s) -> dict:
    return {"steps": s.steps, "converged": s.converged, "pruned": s.pruned,
            "energies": s.energies[:-1] or s.energies, "energy": s.energy, "forces": s.forces}


def _fire_step(s: _State, f: np.ndarray, maxstep: float) -> None:
    g = f.ravel()
    if s.vel is None:
        s.vel = np.zeros_like(g)
    else:
        vf = float(np.vdot(g, s.vel))
        if vf > 0.0:
            s.vel = (1.0 - s.a) * s.vel + s.a * g / np.sqrt(np.vdot(g, g)) * np.sqrt(
                np.vdot(s.vel, s.vel))
            if s.n_pos > 5:
                s.dt = min(s.dt * 1.1, 1.0)
                s.a *= 0.99
            s.n_pos += 1
        else:
            s.vel[:] *= 0.0
            s.a = 0.1
            s.dt *= 0.5
            s.n_pos = 0
    s.vel += s.dt * g
    dr = s.dt * s.vel
    norm = np.sqrt(np.vdot(dr, dr))
    if norm > maxstep:
        dr = maxstep * dr / norm
    s.atoms.positions = s.atoms.positions + dr.reshape(-1, 3)
    s.steps += 1


@dataclass
class _LState:
    atoms: Atoms
    free: np.ndarray
    s: list = field(default_factory=list)
    y: list = field(default_factory=list)
    rho: list = field(default_factory=list)
    r0: np.ndarray | None = None
    f0: np.ndarray | None = None
    steps: int = 0
    converged: bool = False
    pruned: bool = False
    energies: list[float] = field(default_factory=list)
    energy: float = 0.0
    forces: np.ndarray | None = None


def batched_lbfgs(structures: Sequence[Atoms], forces_fn: ForcesFn, fmax: float,
                  max_steps: int, maxstep: float = 0.2, memory: int = 100,
                  alpha: float = 70.0, h0: str = "fixed",
                  on_done: Callable[[int, dict], None] | None = None) -> list[dict]:
    """Relax ``structures`` in place with L-BFGS (Nocedal's two-loop recursion, no line
    search, each step scaled so no atom moves more than ``maxstep`` Å), one ``forces_fn``
    call per step for the active ones. Same return value and ``on_done`` as
    ``batched_fire``.

    ``h0`` is the initial inverse Hessian of the recursion:

    * ``"fixed"``: 1/``alpha`` Å^2/eV at every step, and every (s, y) pair with s.y != 0
      kept: ASE's ``LBFGS``, step for step.
    * ``"scaled"``: gamma = s.y / y.y of the newest pair (Nocedal & Wright, eq. 7.20; an
      estimate of the inverse curvature along the last step), only pairs with positive
      curvature s.y > 0 kept (so the implied Hessian stays positive definite), and a
      step that would go uphill (against the force) restarts the memory. On slabs with
      soft ligand modes (curvatures far below the 70 eV/Å^2 ASE assumes) it needs about
      a quarter fewer steps to the same fmax (``benchmarks/optimizers.py``).
    """
    if h0 not in ("fixed", "scaled"):
        raise ValueError(f"h0 must be 'fixed' or 'scaled', got {h0!r}")
    states = [_LState(a, _free_mask(a)) for a in structures]
    return _drive(states, forces_fn, fmax, max_steps,
                  lambda st, f: _lbfgs_step(st, f, maxstep, memory, alpha, h0 == "scaled"),
                  on_done)


def _lbfgs_step(st: _LState, f: np.ndarray, maxstep: float, memory: int,
                alpha: float, scaled: bool = False) -> None:
    r = st.atoms.positions.ravel().copy()
    g = f.ravel()
    if st.r0 is not None:
        s0, y0 = r - st.r0, st.f0 - g
        sy = float(np.dot(y0, s0))
        # ASE keeps any pair with s.y != 0 (and would divide by zero at 0); the scaled
        # variant keeps only positive curvature
        if (sy > 0.0) if scaled else (sy != 0.0):
            st.s.append(s0)
            st.y.append(y0)
            st.rho.append(1.0 / sy)
            if len(st.s) > memory:
                st.s.pop(0)
                st.y.pop(0)
                st.rho.pop(0)
    dr = _two_loop(st, g, alpha, scaled)
    dr[~st.free] = 0.0
    if scaled and float(np.vdot(dr, f)) <= 0.0:  # uphill: forget the curvature, go downhill
        st.s.clear()
        st.y.clear()
        st.rho.clear()
        dr = f / alpha
        dr[~st.free] = 0.0
    longest = np.linalg.norm(dr, axis=1).max()
    if longest > maxstep:
        dr *= maxstep / longest
    st.r0, st.f0 = r, g.copy()
    st.atoms.positions = st.atoms.positions + dr
    st.steps += 1


def _two_loop(st: _LState, g: np.ndarray, alpha: float, scaled: bool) -> np.ndarray:
    """The L-BFGS step H f (Å, per atom) for the forces ``g`` (eV/Å, flattened), H the
    inverse Hessian the stored pairs imply."""
    q = -g.copy()
    a = np.empty(len(st.s))
    for k in range(len(st.s) - 1, -1, -1):
        a[k] = st.rho[k] * np.dot(st.s[k], q)
        q -= a[k] * st.y[k]
    gamma = 1.0 / alpha
    if scaled and st.s:
        gamma = float(np.dot(st.s[-1], st.y[-1]) / np.dot(st.y[-1], st.y[-1]))
    z = q * gamma
    for k in range(len(st.s)):
        b = st.rho[k] * np.dot(st.y[k], z)
        z += st.s[k] * (a[k] - b)
    return (-z).reshape(-1, 3)
