"""Which embedded ML potential agrees best with DFT on slab + adsorbate energetics?

Small set: adsorption reactions on a pseudo-H passivated ZnSe(111) Zn face (1x1, 2 ML,
as the structure builder makes it), geometries relaxed with CHGNet, then single points
with Quantum ESPRESSO (PBE, PseudoDojo) and with every installed ML model:

    slab + HF        -> slab-HF              (L-type)
    slab + HF - 1/2 H2 -> slab-F             (X-type, mu_F = E(HF) - 1/2 E(H2))
    slab + H2Se - H2 -> slab-Se              (growth species, mu_Se = E(H2Se) - E(H2))

Printed: each reaction energy per method, the mean absolute error against QE, and the
time per single point. Pseudo-hydrogens are ordinary H for the ML models; the passivated
bottom is identical on both sides of every reaction.

    python benchmarks/mlip_accuracy.py [--ecutwfc 40] [--json out.json]
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from ase import Atoms

from facetflow.engines import get_engine
from facetflow.engines.mlip_models import MODELS, package_version
from facetflow.engines.presets import settings_for
from facetflow.structures.coverage import SiteGrid, adsorbates_of, decorate, enumerate_arrangements
from facetflow.structures.ligands import get_ligand
from facetflow.structures.materials import get_compound
from facetflow.structures.references import reference_atoms
from facetflow.structures.sites import choose_mode
from facetflow.structures.slab import SlabRequest, build_facet_slabs


def systems() -> dict[str, tuple[Atoms, str]]:
    slab = build_facet_slabs(SlabRequest(get_compound("ZnSe"), (1, 1, 1), monolayers=2,
                                         symmetric=False, vacuum=10.0,
                                         fixed_monolayers=1)).bare
    out = {"slab": (slab.atoms, "slab")}
    for name, mode in (("HF", "atop"), ("F", "atop"), ("Se", "atop")):
        lig = get_ligand(name)
        m, sites = choose_mode(slab, lig, mode)
        grid = SiteGrid(slab, lig, m, sites)
        atoms = decorate(slab, adsorbates_of(grid, enumerate_arrangements(grid, 1).unique[0]))
        atoms.info["symmetric"] = False
        out[f"slab-{name}"] = (atoms, "slab")
    for mol in ("HF", "H2", "H2Se"):
        a = reference_atoms(mol)
        a.set_cell([10.0] * 3)
        a.center()
        out[mol] = (a, "molecule")
    return out


REACTIONS = {
    "HF on Zn(111)": {"slab-HF": 1, "slab": -1, "HF": -1},
    "F on Zn(111)": {"slab-F": 1, "slab": -1, "HF": -1, "H2": 0.5},
    "Se on Zn(111)": {"slab-Se": 1, "slab": -1, "H2Se": -1, "H2": 1},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ecutwfc", type=float, default=40.0)
    ap.add_argument("--kpt-density", type=float, default=2.0)
    ap.add_argument("--command", default="pw.x", help='e.g. "mpirun -np 2 pw.x"')
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    mlip = get_engine("mlip")
    structs = {}
    for key, (atoms, purpose) in systems().items():
        r = mlip.run(atoms, "relax", settings_for("mlip", purpose, {"model": "chgnet"}))
        structs[key] = (r.atoms(), purpose)
    methods = ["qe"] + [m for m, (pkg, _) in MODELS.items() if package_version(pkg)]
    energies: dict[str, dict[str, float]] = {m: {} for m in methods}
    timing: dict[str, list[float]] = {m: [] for m in methods}
    for key, (atoms, purpose) in structs.items():
        for m in methods:
            if m == "qe":
                s = settings_for("qe", purpose, {"ecutwfc": args.ecutwfc,
                                                 "kpt_density": args.kpt_density,
                                                 "command": args.command})
                r = get_engine("qe").run(atoms, "single", s)
            else:
                r = mlip.run(atoms, "single", settings_for("mlip", purpose, {"model": m}))
            energies[m][key] = r.energy
            timing[m].append(r.wall_time)
    table = {m: {name: float(sum(c * energies[m][k] for k, c in rx.items()))
                 for name, rx in REACTIONS.items()} for m in methods}
    print(f"{'reaction (eV)':18s}" + "".join(f"{m:>15s}" for m in methods))
    for name in REACTIONS:
        print(f"{name:18s}" + "".join(f"{table[m][name]:15.3f}" for m in methods))
    summary = {}
    for m in methods[1:]:
        mae = float(np.mean([abs(table[m][n] - table["qe"][n]) for n in REACTIONS]))
        summary[m] = {"mae_vs_qe_eV": round(mae, 3),
                      "s_per_single_point": round(float(np.mean(timing[m])), 3)}
        print(f"{m:15s} MAE vs QE {mae:.3f} eV, {np.mean(timing[m]):.3f} s per point")
    print(f"qe: {np.mean(timing['qe']):.1f} s per point (ecutwfc {args.ecutwfc} Ry)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"reactions": table, "summary": summary}, fh, indent=1)


if __name__ == "__main__":
    main()
