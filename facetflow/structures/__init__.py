"""Structure builders: bulk crystals, facet slabs, epitaxial shells, pseudo-hydrogen,
ligands and coverages.

Per-atom arrays carried on every slab ``ase.Atoms`` built here (engines and analysis rely
on them):

``region`` (int)
    0 core, 1 shell, 2 pseudo-hydrogen, 3 ligand, 4 additive or binding species.
``plane`` (int)
    index of the atomic plane counted from the bottom of the slab; -1 for adsorbates
    and pseudo-hydrogen.
``pseudo_h_charge`` (float)
    valence charge (in e) of each pseudo-hydrogen, (8 - v)/4 of the atom it caps;
    0.0 for every other atom.
``ligand_id`` (int)
    index of the adsorbed molecule an atom belongs to; -1 for slab atoms.

Atoms that must stay fixed in relaxations carry an ``ase.constraints.FixAtoms``.
"""

REGION_CORE = 0
REGION_SHELL = 1
REGION_PSEUDO_H = 2
REGION_LIGAND = 3
REGION_ADDITIVE = 4
