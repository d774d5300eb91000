"""Analysis: chemical potentials, surface and interfacial energies (paper eq. 3),
binding energies (eq. 4, DESIGN.md sign), optimal coverage. Reads energies only; knows
nothing of engines or workflows."""
