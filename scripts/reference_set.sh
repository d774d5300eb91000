#!/usr/bin/env bash
# The DFT reference set, reproducibly: run the studies of studies/reference_set/ (GPAW
# LCAO single points at CHGNet minima) and the basis-set checks (basis/: the bare
# surfaces, the ZnS defect energies and the {100} reactions with plane waves) into one
# results store, then export the data set (frames.extxyz, reactions.json) next to it. Content-addressed and resumable: the
# store data/reference_set/store.db travels with the repository, so a killed run, or a
# run on another machine, computes only what is missing. Hours on a few cores; extra
# arguments go to every `facetflow run` (e.g. -v).
#
# Two passes, so that whole reactions arrive early: first every study with
# dft_candidates 1 and no dft_frames (the DFT single point at the lowest ML minimum of
# each structure; the same calculations as the full study's candidate 0), then the full
# studies, which add the other candidates and the frames along the ML relaxations.
#
# Each GPAW calculation runs on all cores through MPI (engine.settings.command, which is
# not part of a calculation's hash): GPAW_COMMAND overrides the launcher, GPAW_COMMAND=""
# runs GPAW in the facetflow process.
#
#   scripts/reference_set.sh [WORK]      WORK: work root (default: work/reference_set)
#
# Sourced (``source scripts/reference_set.sh``), it defines its functions and runs nothing.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
store="$root/data/reference_set/store.db"
ff="$root/scripts/facetflow"
studies=(surface_inas110 surface_znse110 inas_znse zns110 cdse_cds cspbi3)

run() {  # run STUDY_FILE WORK_ROOT [ARGS...]
  local study="$1" into="$2"
  shift 2
  "$ff" run "$study" --work "$into" --store "$store" --no-pictures --no-progress "$@" \
    || echo "$study: not finished" >&2
}

export_set() {  # the data set from each study's pass-2 work directory once begun (its
  # plan holds pass 1's calculations and more; a reaction counts once all its terms are
  # done), else from pass 1's
  local dirs=() s
  for s in "${studies[@]}"; do
    if [ -f "$work/refset_$s/plan.json" ]; then dirs+=("$work/refset_$s")
    elif [ -f "$work/first/refset_$s/plan.json" ]; then dirs+=("$work/first/refset_$s"); fi
  done
  "$ff" dataset export "${dirs[@]}" --out "$root/data/reference_set"
}

gpaw_command() {  # the MPI launcher of each GPAW calculation, unless GPAW_COMMAND is set
  local as_root=""
  [ "$(id -u)" = 0 ] && as_root="--allow-run-as-root"
  echo "env OMP_NUM_THREADS=1 mpiexec $as_root -n $(nproc) gpaw python"
}

prepare() {  # prepare STUDY OUT [CANDIDATES]: the study file with the launcher set (with
  # CANDIDATES: that many DFT candidates and no frames)
  "${PYTHON:-python3}" - "$root/studies/reference_set/$1.yaml" "$2" "${3:-}" <<'PY'
import os, sys, yaml
study = yaml.safe_load(open(sys.argv[1]))
engine = study["engine"]
if sys.argv[3]:  # pass 1: the lowest ML minimum only
    engine["dft_candidates"] = int(sys.argv[3])
    engine.pop("dft_frames", None)
engine.setdefault("settings", {})["command"] = os.environ["GPAW_COMMAND"] or None
open(sys.argv[2], "w").write(yaml.safe_dump(study, sort_keys=False))
PY
}

main() {  # main [WORK] [ARGS...]: both passes, then the exports
  work="$(realpath -m "${1:-work/reference_set}")"
  shift || true
  export GPAW_COMMAND="${GPAW_COMMAND-$(gpaw_command)}"
  mkdir -p "$(dirname "$store")" "$work/first/basis"
  for s in "${studies[@]}"; do  # pass 1: one DFT candidate per structure
    prepare "$s" "$work/first/$s.yaml" 1
    run "$work/first/$s.yaml" "$work/first" "$@"
    export_set
    case "$s" in  # the basis-set checks with plane waves, after their LCAO counterparts
      surface_znse110) checks=(basis/surface_inas110_pw basis/surface_znse110_pw) ;;
      zns110) checks=(basis/zns110_pw) ;;
      *) checks=() ;;
    esac
    for b in "${checks[@]}"; do
      prepare "$b" "$work/first/$b.yaml"
      run "$work/first/$b.yaml" "$work/first" "$@"
    done
  done
  mkdir -p "$work/full/basis"
  for s in "${studies[@]}" basis/lcao basis/pw; do  # pass 2: the full studies
    prepare "$s" "$work/full/$s.yaml"
    run "$work/full/$s.yaml" "$work" "$@"
  done
  export_set
  export_basis
}

existing() { local d; for d in "$@"; do [ -d "$d" ] && echo "$d"; done; return 0; }

export_basis() {  # the basis-set error: the same {100} reactions, ZnS defect energies and
  # bare surfaces with LCAO and with plane waves, as two data sets
  mapfile -t lcao < <(existing "$work/refset_basis_lcao" "$work/first/refset_zns110" \
    "$work/first/refset_surface_inas110" "$work/first/refset_surface_znse110")
  mapfile -t pw < <(existing "$work/refset_basis_pw" "$work/first/refset_basis_zns110_pw" \
    "$work/first/refset_basis_surface_inas110_pw" "$work/first/refset_basis_surface_znse110_pw")
  "$ff" dataset export "${lcao[@]}" --out "$root/data/reference_set/basis_lcao"
  "$ff" dataset export "${pw[@]}" --out "$root/data/reference_set/basis_pw"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  main "$@"
fi
