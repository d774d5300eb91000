#!/usr/bin/env bash
# The DFT reference set, reproducibly: run the four studies of studies/reference_set/
# (GPAW LCAO single points at CHGNet minima) and the basis-set check (basis/: the {100}
# reactions with LCAO and with plane waves) into one results store, then export the data
# set (frames.extxyz, reactions.json) next to it. Content-addressed and resumable: the
# store data/reference_set/store.db travels with the repository, so a killed run, or a
# run on another machine, computes only what is missing. Hours on a few cores; extra
# arguments go to every `facetflow run` (e.g. -v).
#
#   scripts/reference_set.sh [WORK]      WORK: work root (default: work/reference_set)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(realpath -m "${1:-work/reference_set}")"
shift || true
store="$root/data/reference_set/store.db"
mkdir -p "$(dirname "$store")" "$work"
for study in inas_znse cdse_cds zns110 cspbi3 basis/lcao basis/pw; do
  "$root/scripts/facetflow" run "$root/studies/reference_set/$study.yaml" --work "$work" \
    --store "$store" --no-pictures --no-progress "$@" || echo "$study: not finished" >&2
done
ff="$root/scripts/facetflow"
"$ff" dataset export "$work"/refset_{inas_znse,cdse_cds,zns110,cspbi3} --out "$root/data/reference_set"
# the basis-set error: the same {100} reactions with LCAO and with plane waves
"$ff" dataset export "$work/refset_basis_lcao" --out "$root/data/reference_set/basis_lcao"
"$ff" dataset export "$work/refset_basis_pw" --out "$root/data/reference_set/basis_pw"
