"""What MLIP pre-relaxation saves a DFT relaxation.

A small slab + ligand (HF on the Zn face of a pseudo-H passivated ZnSe(111) slab, 1x1,
2 ML, as the structure builder makes it) is relaxed with Quantum ESPRESSO twice: from the
builder's unrelaxed guess, and from the CHGNet-relaxed geometry. Printed: DFT ionic steps,
SCF cycles and wall time of each, their ratios, and the final-energy difference.

    python benchmarks/prerelax.py [--ecutwfc 30] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import time

from facetflow.engines import get_engine
from facetflow.engines.prerelax import relax_with_prerelax
from facetflow.engines.presets import settings_for
from facetflow.structures.coverage import SiteGrid, adsorbates_of, decorate, enumerate_arrangements
from facetflow.structures.ligands import get_ligand
from facetflow.structures.materials import get_compound
from facetflow.structures.sites import choose_mode
from facetflow.structures.slab import SlabRequest, build_facet_slabs


def test_system():
    slab = build_facet_slabs(SlabRequest(get_compound("ZnSe"), (1, 1, 1), monolayers=2,
                                         symmetric=False, vacuum=10.0,
                                         fixed_monolayers=1)).bare
    hf = get_ligand("HF")
    mode, sites = choose_mode(slab, hf)
    grid = SiteGrid(slab, hf, mode, sites)
    arr = enumerate_arrangements(grid, 1).unique[0]
    atoms = decorate(slab, adsorbates_of(grid, arr))
    atoms.info["symmetric"] = False
    return atoms


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ecutwfc", type=float, default=30.0)
    ap.add_argument("--fmax", type=float, default=0.02)
    ap.add_argument("--kpt-density", type=float, default=2.0)
    ap.add_argument("--command", default="pw.x", help='e.g. "mpirun -np 2 pw.x"')
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    atoms = test_system()
    s = settings_for("qe", "slab", {"ecutwfc": args.ecutwfc, "fmax": args.fmax,
                                     "kpt_density": args.kpt_density,
                                     "command": args.command})
    t0 = time.perf_counter()
    plain = get_engine("qe").run(atoms, "relax", s)
    t_plain = time.perf_counter() - t0
    t0 = time.perf_counter()
    pre = relax_with_prerelax(atoms, "qe", s, "slab", "mlip", {"fmax": args.fmax})
    t_pre = time.perf_counter() - t0
    rows = {
        "system": f"{atoms.get_chemical_formula()} ({len(atoms)} atoms), QE PBE "
                  f"{args.ecutwfc} Ry, fmax {args.fmax} eV/Å",
        "without": {"dft_steps": plain.steps, "scf_cycles": plain.scf_cycles,
                    "wall_s": round(t_plain, 1), "energy_eV": plain.energy},
        "with_mlip": {"dft_steps": pre.steps, "scf_cycles": pre.scf_cycles,
                      "wall_s": round(t_pre, 1), "energy_eV": pre.energy,
                      "mlip_steps": pre.provenance["prerelax"]["steps"]},
    }
    rows["ratio_steps"] = round(plain.steps / max(pre.steps, 1), 2)
    rows["ratio_scf"] = round(plain.scf_cycles / max(pre.scf_cycles, 1), 2)
    rows["ratio_wall"] = round(t_plain / max(t_pre, 1e-9), 2)
    rows["energy_difference_meV"] = round(1000 * (pre.energy - plain.energy), 2)
    print(rows["system"])
    print(f"{'':12s}{'DFT steps':>10s}{'SCF cycles':>12s}{'wall s':>9s}")
    for k in ("without", "with_mlip"):
        r = rows[k]
        print(f"{k:12s}{r['dft_steps']:>10d}{r['scf_cycles']:>12d}{r['wall_s']:>9.1f}")
    print(f"ratio (without/with): steps {rows['ratio_steps']}, SCF {rows['ratio_scf']}, "
          f"wall {rows['ratio_wall']}; final energy difference "
          f"{rows['energy_difference_meV']} meV")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
