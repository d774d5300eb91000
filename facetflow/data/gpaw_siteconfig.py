# GPAW build configuration (``facetflow engines --install gpaw`` builds GPAW from PyPI with
# GPAW_CONFIG pointing here): link Debian's libxc, FFTW, OpenBLAS, OpenMPI and ScaLAPACK.
# Without ScaLAPACK, parallel plane-wave runs fail.
fftw = True
scalapack = True
libraries = ['xc', 'fftw3', 'openblas', 'scalapack-openmpi']
