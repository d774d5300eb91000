"""facetflow: quantum-dot surface energetics from facet slabs, ligand coverages and additives.

The package follows the data flow ``structures -> engines -> workflows -> analysis``;
lower layers never import higher ones.
"""

__version__ = "0.1.0"
