#!/usr/bin/env bash
# Install everything facetflow needs, from PyPI and Debian only. Safe to run again: it
# skips the work when pyproject.toml and this script are unchanged since the last run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
stamp=.facetflow-installed
want=$(cat pyproject.toml scripts/install.sh | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want:$(pwd)" ] && \
   "$PY" -c "import facetflow, ase, pymatgen, spglib, chgnet" 2>/dev/null; then
  exit 0
fi
echo "facetflow: installing Python packages (first run only)..." >&2
pipi() { "$PY" -m pip install --quiet --disable-pip-version-check "$@"; }
# The CPU build of PyTorch first: an unpinned torch would pull GBs of CUDA wheels.
"$PY" -c "import torch" 2>/dev/null || pipi "torch==2.13.0"
pipi -e ".[test]"
echo "$want:$(pwd)" > "$stamp"
