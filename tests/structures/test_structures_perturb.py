"""Perturbed starts (structures.perturb): reproducible, rigid turns of free adsorbates
about the surface normal, no new close contacts, fixed atoms untouched."""

import numpy as np
import pytest
from ase.constraints import FixAtoms
from ase.data import covalent_radii
from ase.geometry import get_distances


@pytest.fixture(scope="module")
def arrangement(quick_records):
    by_id = {r.id: r for r in quick_records}
    return by_id["100_acetate_t1.000_c0"].atoms


def _fixed(atoms) -> np.ndarray:
    return np.array(sorted({int(i) for c in atoms.constraints if isinstance(c, FixAtoms)
                            for i in c.index}))


def test_same_seed_same_start_other_seed_other_start(arrangement):
    from facetflow.structures.perturb import perturbed_start

    a = perturbed_start(arrangement, 11)
    b = perturbed_start(arrangement, 11)
    c = perturbed_start(arrangement, 12)
    assert np.array_equal(a.positions, b.positions)
    assert np.abs(a.positions - c.positions).max() > 0.1
    assert np.abs(a.positions - arrangement.positions).max() > 0.1
    assert a.get_chemical_symbols() == arrangement.get_chemical_symbols()
    assert np.array_equal(a.arrays["ligand_id"], arrangement.arrays["ligand_id"])
    fixed = _fixed(arrangement)
    assert len(fixed) and np.array_equal(a.positions[fixed], arrangement.positions[fixed])
    assert not arrangement.calc and a is not arrangement


def test_turns_are_rigid_about_the_normal_and_make_no_close_contacts(arrangement):
    from facetflow.structures.perturb import CLASH, perturbed_start

    out = perturbed_start(arrangement, 5, rotation=60.0, rattle=0.0)
    lid = arrangement.arrays["ligand_id"]
    turned = 0
    for g in sorted(set(lid[lid >= 0])):
        m = np.flatnonzero(lid == g)
        before, after = arrangement.positions[m], out.positions[m]
        # rigid: every distance inside the adsorbate kept; about z: heights kept
        d0 = np.linalg.norm(before[:, None] - before[None], axis=-1)
        d1 = np.linalg.norm(after[:, None] - after[None], axis=-1)
        assert np.allclose(d0, d1, atol=1e-9)
        assert np.allclose(before[:, 2], after[:, 2], atol=1e-9)
        if np.abs(after - before).max() > 1e-6:
            turned += 1
            # one atom (the anchor) stays where it was
            assert np.linalg.norm(after - before, axis=1).min() < 1e-9
            others = np.setdiff1d(np.arange(len(out)), m)
            _, d = get_distances(after, out.positions[others], cell=out.cell, pbc=out.pbc)
            limit = CLASH * (covalent_radii[out.numbers[m]][:, None]
                             + covalent_radii[out.numbers[others]][None, :])
            assert (d >= limit).all()
    assert turned >= len(set(lid[lid >= 0])) // 2
    slab = lid < 0
    assert np.array_equal(out.positions[slab], arrangement.positions[slab])


def test_rattle_moves_free_atoms_only_and_zero_amplitudes_change_nothing(arrangement):
    from facetflow.structures.perturb import perturbed_start

    fixed = _fixed(arrangement)
    free = np.setdiff1d(np.arange(len(arrangement)), fixed)
    out = perturbed_start(arrangement, 3, rotation=0.0, rattle=0.1)
    shift = out.positions - arrangement.positions
    assert np.all(shift[fixed] == 0.0)
    assert 0.07 < shift[free].std() < 0.13  # Gaussian of 0.1 Å per component
    same = perturbed_start(arrangement, 3, rotation=0.0, rattle=0.0)
    assert np.array_equal(same.positions, arrangement.positions)
    with pytest.raises(ValueError, match="rotation and rattle"):
        perturbed_start(arrangement, 3, rotation=-1.0)
