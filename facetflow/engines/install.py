"""Installing an engine's code on this machine: ``facetflow engines --install NAME``.

The embedded ML engine comes with facetflow itself (PyTorch, CHGNet, SevenNet are package
dependencies). The open DFT codes are installed on request, from Debian and PyPI only:

* ``qe``: Debian's ``quantum-espresso`` (``pw.x``, ``ld1.x``) and the PseudoDojo 0.4 PBE
  norm-conserving pseudopotentials (``facetflow.engines.pseudos``);
* ``cp2k``: Debian's ``cp2k`` and ``cp2k-data`` (GTH pseudopotentials, MOLOPT basis sets);
* ``gpaw``: GPAW from PyPI, compiled against Debian's libxc, FFTW, OpenBLAS, OpenMPI and
  ScaLAPACK (``facetflow/data/gpaw_siteconfig.py``), at the versions pinned in the
  ``gpaw`` extra of facetflow's ``pyproject.toml``, and its PAW setups (``gpaw-data``).

VASP is licensed and is never installed: point ``engine.settings.command`` at your VASP
and ``PMG_VASP_PSP_DIR`` at your POTCARs. Debian packages need root; without it the
installer stops and names the ``apt-get`` command to run.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path

from facetflow.engines import pseudos

log = logging.getLogger(__name__)


class InstallError(RuntimeError):
    """An engine could not be installed; the message says what to do instead."""


@dataclass(frozen=True)
class Recipe:
    """What one engine needs: Debian packages, the pyproject extra whose pinned packages
    pip installs (with ``pip_flags`` and extra environment), a check that it is all there,
    and a step after the packages (e.g. unpacking pseudopotentials)."""

    apt: tuple[str, ...] = ()
    extra: str | None = None
    pip_flags: tuple[str, ...] = ()
    env: Callable[[], dict[str, str]] = dict
    installed: Callable[[], bool] = lambda: True
    after: Callable[[], object] | None = None
    note: str = ""


def _python_ok(code: str) -> Callable[[], bool]:
    """A check that ``code`` runs in a fresh interpreter (a fresh one, because a package
    installed by this process is not importable in it until restart)."""
    def check() -> bool:
        return subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0
    return check


def _gpaw_env() -> dict[str, str]:
    config = resources.files("facetflow") / "data" / "gpaw_siteconfig.py"
    return {"GPAW_CONFIG": str(config)}


RECIPES: dict[str, Recipe] = {
    "mlip": Recipe(note="comes with facetflow (torch, chgnet, sevenn are its dependencies)",
                   installed=_python_ok("import torch, chgnet, sevenn")),
    "qe": Recipe(apt=("quantum-espresso",), after=pseudos.install,
                 installed=lambda: shutil.which("pw.x") is not None
                 and (pseudos.pseudo_dir() / "In.upf").is_file()),
    "cp2k": Recipe(apt=("cp2k", "cp2k-data"),
                   installed=lambda: shutil.which("cp2k.psmp") is not None
                   and Path("/usr/share/cp2k/BASIS_MOLOPT").is_file()),
    "gpaw": Recipe(apt=("libxc-dev", "libfftw3-dev", "libopenblas-dev",
                        "libscalapack-openmpi-dev", "libopenmpi-dev", "openmpi-bin"),
                   extra="gpaw", pip_flags=("--no-cache-dir", "--no-binary", "gpaw"),
                   env=_gpaw_env, installed=_python_ok(
                       "import gpaw, gpaw_data, _gpaw; assert hasattr(_gpaw, 'scalapack_set')")),
}
NOT_INSTALLABLE = {"vasp": "VASP is licensed software and is not installed by facetflow: "
                           "set engine.settings.command to your VASP executable and "
                           "PMG_VASP_PSP_DIR to your POTCAR folder"}


def pinned(extra: str) -> list[str]:
    """The requirements of facetflow's ``extra`` as pinned in its package metadata
    (``pyproject.toml``), e.g. ``['gpaw==26.7.0', 'gpaw-data==1.2.1']``."""
    reqs = metadata.requires("facetflow") or []
    marker = f'extra == "{extra}"'
    found = [r.split(";")[0].strip() for r in reqs if marker in r]
    if not found:
        raise InstallError(f"facetflow's metadata has no '{extra}' extra: reinstall facetflow")
    return found


def missing_debian(packages: tuple[str, ...]) -> list[str]:
    """The Debian packages of ``packages`` that ``dpkg`` does not report installed."""
    if shutil.which("dpkg") is None:
        return list(packages)
    return [p for p in packages
            if subprocess.run(["dpkg", "-s", p], capture_output=True).returncode != 0]


def _apt_install(packages: list[str]) -> None:
    command = "apt-get install -y --no-install-recommends " + " ".join(packages)
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise InstallError(f"needs the Debian packages {', '.join(packages)}: run "
                           f"'sudo {command}' (root is needed), then install again")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], command.split() + ["-qq"]):
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            raise InstallError(f"{' '.join(cmd)} failed: {proc.stderr.strip()[-500:]}")


def _pip_install(requirements: list[str], flags: tuple[str, ...], env: dict[str, str]) -> None:
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
           *flags, *requirements]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **env})
    if proc.returncode != 0:
        raise InstallError(f"pip install {' '.join(requirements)} failed: "
                           f"{proc.stderr.strip()[-800:]}")


def install_engine(name: str) -> list[str]:
    """Install what engine ``name`` needs; returns the steps taken (empty when everything
    was already there). Raises ``InstallError`` with what to do when it cannot."""
    if name in NOT_INSTALLABLE:
        raise InstallError(NOT_INSTALLABLE[name])
    if name not in RECIPES:
        known = ", ".join([*RECIPES, *NOT_INSTALLABLE])
        raise InstallError(f"unknown engine {name!r}; known: {known}")
    recipe, steps = RECIPES[name], []
    if recipe.installed():
        return steps
    apt = missing_debian(recipe.apt)
    if apt:
        log.info("%s: apt-get install %s", name, " ".join(apt))
        _apt_install(apt)
        steps.append(f"apt-get install {' '.join(apt)}")
    if recipe.extra and not recipe.installed():
        reqs = pinned(recipe.extra)
        log.info("%s: pip install %s (building may take a few minutes)", name, " ".join(reqs))
        _pip_install(reqs, recipe.pip_flags, recipe.env())
        steps.append(f"pip install {' '.join(reqs)}")
    if recipe.after is not None:
        log.info("%s: %s", name, recipe.after.__doc__.splitlines()[0] if recipe.after.__doc__
                 else recipe.after.__name__)
        steps.append(str(recipe.after()))
    if not recipe.installed():
        raise InstallError(f"{name}: installed the packages but the engine still does not "
                           "load; see the log")
    return steps
