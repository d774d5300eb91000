#!/usr/bin/env bash
# Install what facetflow needs, from PyPI and Debian only. Safe to run again: it skips the
# work when pyproject.toml and this script are unchanged since the last run in this Python
# environment and facetflow still imports.
#
#   scripts/install.sh          the main job: the Python packages of facetflow and of its
#                               embedded ML engine (CPU PyTorch, CHGNet, SevenNet)
#   scripts/install.sh --test   also the test and docs tools, the open DFT engines (Quantum
#                               ESPRESSO, CP2K, GPAW: `facetflow engines --install NAME`),
#                               a single-node Slurm, PostgreSQL and headless Chromium
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
level=main
[ "${1:-}" = "--test" ] && level=test
want=$(cat pyproject.toml scripts/install.sh | sha256sum | cut -c1-16)
prefix=$("$PY" -c 'import sys; print(sys.prefix)')
stamp_dir="${XDG_CACHE_HOME:-$HOME/.cache}/facetflow"
env_id=$(printf %s "$prefix" | sha256sum | cut -c1-12)
stamp="$stamp_dir/installed-$level-$env_id"
current() { [ -f "$1" ] && [ "$(cat "$1")" = "$want" ]; }
installed() {
  { current "$stamp" || current "$stamp_dir/installed-test-$env_id"; } && \
   (cd / && "$PY" -c "import importlib.util as u, sys
sys.exit(not all(u.find_spec(m) for m in ('facetflow', 'ase', 'pymatgen', 'chgnet', 'torch')))"
   ) 2>/dev/null
}
installed && exit 0
# One install at a time in this Python environment: a second scripts/facetflow or
# scripts/test started meanwhile waits here, then finds the work done.
mkdir -p "$stamp_dir"
exec 9>"$stamp_dir/install-$env_id.lock"
flock 9
installed && exit 0
t0=$SECONDS
pipi() { "$PY" -m pip install -qq --disable-pip-version-check "$@"; }

echo "facetflow: installing Python packages (first run only)..." >&2
# The CPU build of PyTorch first: an unpinned torch would pull GBs of CUDA wheels.
"$PY" -c "import torch" 2>/dev/null || pipi "torch==2.13.0"
if [ "$level" = main ]; then
  pipi -e .
else
  pipi -e ".[test,docs]"
  # The open DFT engines, each as `facetflow engines --install NAME` installs it.
  "$PY" -m facetflow.cli engines --install qe --install cp2k --install gpaw
  if [ "$(id -u)" = 0 ]; then
    # A real single-node Slurm (munge, slurmctld, slurmd) and a PostgreSQL server for the
    # workflow tests (started and stopped by the tests through these scripts), and
    # Debian's headless Chromium for the report's browser test.
    scripts/slurm.sh install
    scripts/postgres.sh install
    if ! command -v chromium >/dev/null 2>&1; then
      echo "facetflow: apt-get install chromium" >&2
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        chromium >/dev/null
    fi
  else
    echo "facetflow: not root: Slurm, PostgreSQL and Chromium are not installed; their" \
         "tests are skipped outside CI" >&2
  fi
fi
mkdir -p "$stamp_dir"
echo "$want" > "$stamp"
echo "facetflow: installed ($level) in $((SECONDS - t0)) s" >&2
